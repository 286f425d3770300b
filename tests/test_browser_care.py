"""Her plan-of-care home page in real Chromium against a live server: the program with its
demos and stop-if warnings, the upcoming visit with its join button, a session logged in a
few taps and stored once, a session logged offline kept on the phone (through a reload) and
sent exactly once when the connection returns, questionnaires filled on the phone (the
PSFS naming her activities, the PGQ one question at a time), and the reminder time saved."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from playwright.async_api import Page

from server.care import outcomes
from server.care.instruments import score
from server.care.patient_input import PatientRequest, PlanRequest
from server.keys import CARE, DB
from server.storage.plans import Plan
from server.storage.visits import Visit
from server.visits.program import assign
from tests.browser import ARTIFACTS, Chromium, screenshot

EXERCISES = ("glute-bridge", "clamshell")
HORIZONTAL_SLACK = 1


@dataclass
class CarePlan:
    """A patient with a plan, a visit of the plan today and two exercises assigned in it."""

    plan: Plan
    visit: Visit
    link: str
    assignment_ids: list[int]


async def _care_plan(live, *, email: str | None = None, starts_at: int | None = None) -> CarePlan:
    care = live.app[CARE]
    patient = await care.create_patient(PatientRequest(
        name="Maya Lopez", birth_date=None, email=email, email_consent=email is not None,
        phone=None, phone_consent=False, language="en", external_id=None), actor="test")
    plan = await care.create_plan(patient, PlanRequest(
        condition="sacroiliac-joint-dysfunction", goals="Carry my baby without pain",
        starts_at=starts_at, weeks=8, therapist_email=None), actor="test")
    visit = await live.visit(patient_id=patient.id)
    ids = []
    for slug, note in zip(EXERCISES, ("Keep your back flat.", "")):
        assignment = await assign(
            live.app[DB], visit=visit, participant_id=visit.participant("patient").id,
            values={"exercise": slug, "sets": 2, "reps": 10, "hold_seconds": 5, "per_day": 1,
                    "per_week": 0, "note": note}, actor="test")
        ids.append(assignment.id)
    link = await care.plan_link(plan)
    assert link is not None
    return CarePlan(plan, visit, link, ids)


async def _open(chromium: Chromium, link: str, width: int) -> Page:
    page = await chromium.page(width, 844 if width < 600 else 800)
    await page.goto(link)
    await page.wait_for_selector("#care-home[data-ready=true]", state="attached")
    return page


async def _stored(live, plan_id: str) -> list[tuple[str, int]]:
    """(client_key, entries) of every stored session of the plan."""
    rows = await live.app[DB].fetchall(
        "SELECT s.client_key, (SELECT COUNT(*) FROM log_entries e WHERE e.session_id = s.id)"
        " FROM log_sessions s WHERE s.plan_id = ? ORDER BY s.done_at", (plan_id,))
    return [(row[0], int(row[1])) for row in rows]


async def _log(page: Page, pains: tuple[int | None, ...], effort: int | None = 4) -> None:
    """Tap done for each exercise with a pain (skipped for None), the effort, then Save."""
    for fieldset, pain in zip(await page.locator("[data-testid=log-exercise]").all(), pains):
        if pain is None:
            await fieldset.locator("[data-testid=log-skipped]").check()
            continue
        await fieldset.locator("[data-testid=log-done]").check()
        await fieldset.locator(f"[data-testid=log-pain] input[value='{pain}']").check()
    if effort is not None:
        await page.locator(f"[data-testid=log-effort] input[value='{effort}']").check()
    await page.click("[data-testid=log-save]")


async def _queued(page: Page, plan_id: str) -> dict:
    return await page.evaluate(
        "(key) => JSON.parse(localStorage.getItem(key) || '{}')", f"visitroom.care.{plan_id}.queue")


async def _layout_problems(page: Page) -> list[str]:
    """Sideways scrolling, and tap targets of the page smaller than 44 px."""
    return await page.evaluate("""(slack) => {
      const found = [];
      if (document.documentElement.scrollWidth > innerWidth + slack)
        found.push(`scrolls sideways: ${document.documentElement.scrollWidth} > ${innerWidth}`);
      const targets = document.querySelectorAll(
        '.care-home button, .care-home a.button, .care-jump a, .segment span, .scale-step span, #reminder-time');
      for (const el of targets) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || el.closest('[hidden]')) continue;
        if (r.height < 44 - slack) found.push(`${el.textContent.trim() || el.id} is ${r.height}px high`);
      }
      return found;
    }""", HORIZONTAL_SLACK)


async def _layout_shift(page: Page) -> float:
    """The page's cumulative layout shift so far (shifts not caused by her input)."""
    return await page.evaluate("""() => new Promise((done) => {
      let total = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value;
      }).observe({ type: 'layout-shift', buffered: true });
      setTimeout(() => done(total), 300);
    })""")


async def test_her_home_page_shows_the_program_with_demos_and_the_visit_to_join(live):
    care = await _care_plan(live)
    async with Chromium(grant_media=False) as chromium:
        for width in (390, 1280):
            page = await _open(chromium, care.link, width)
            exercises = page.locator("[data-testid=care-exercise]")
            assert [await e.get_attribute("data-exercise") for e in await exercises.all()] == list(EXERCISES)
            first = exercises.first
            assert "2 × 10, hold 5 s, 1× a day" in await first.locator(".dose").inner_text()
            assert "Keep your back flat." in await first.locator(".note").inner_text()
            assert (await first.locator("[data-testid=care-stop-if]").inner_text()).startswith("Stop if:")
            assert "or the pain is sharp or getting worse, and tell your therapist." in await page.locator(".safety").inner_text()
            # The warning signs of her plan's phase, always there, with the emergency line.
            signs = await page.locator("[data-testid=care-warning-signs]").inner_text()
            assert "get help straight away" in signs and "local emergency number" in signs
            await page.wait_for_selector("[data-testid=care-demo][data-ready=true] svg", state="attached")
            assert await page.locator("[data-testid=care-demo][data-ready=true]").count() == 2
            join = page.locator("[data-testid=care-visit-join]")
            assert await join.count() == 1
            # Her page holds no visit link (it may be kept offline): its own redirect leads there.
            assert await join.get_attribute("href") == f"/care/{care.plan.id}/visits/{care.visit.id}/join"
            assert await page.locator("[data-testid=care-visit] .visit-when").inner_text()
            assert await _layout_problems(page) == []
            assert await _layout_shift(page) < 0.02
            await screenshot(page, f"care-home-{width}")
            assert page.errors == []
            await page.context.close()


async def test_a_session_logged_online_is_stored_once_and_shown(live):
    care = await _care_plan(live)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        # Done without a pain is refused on the page, before anything is sent.
        await page.locator("[data-testid=log-exercise]").first.locator("[data-testid=log-done]").check()
        await page.click("[data-testid=log-save]")
        assert "hurt" in await page.locator("[data-testid=log-error]").inner_text()
        assert await page.locator("[data-testid=log-exercise]").first.locator("[data-testid=log-pain]").is_visible()
        assert await page.locator("[data-testid=log-exercise]").nth(1).locator("[data-testid=log-pain]").is_hidden()
        await page.locator("#log").screenshot(path=str(ARTIFACTS / "care-log-pain-390.png"))
        assert await _stored(live, care.plan.id) == []
        await _log(page, (3, None))
        await page.wait_for_selector("[data-testid=recent-session][data-state=sent]")
        assert "Saved" in await page.locator("[data-testid=log-status]").inner_text()
        assert await page.locator("[data-testid=pain-alert]").is_hidden()
        stored = await _stored(live, care.plan.id)
        assert len(stored) == 1 and stored[0][1] == 2
        assert await _queued(page, care.plan.id) == {}
        # The form is ready for the next session.
        assert await page.locator("[data-testid=log-form] input:checked").count() == 0
        assert page.errors == []


async def test_a_pain_of_seven_tells_her_the_therapist_will_see_it(live):
    care = await _care_plan(live)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        await _log(page, (7, 2), effort=None)
        await page.wait_for_selector("[data-testid=recent-session][data-state=sent]")
        alert = page.locator("[data-testid=pain-alert]")
        assert await alert.is_visible()
        text = await alert.inner_text()
        assert "therapist will see" in text and "contact the clinic" in text
        assert await alert.locator("a[href='/library/sacroiliac-joint-dysfunction#flags']").count() == 1
        await page.locator("#log").screenshot(path=str(ARTIFACTS / "care-log-high-pain-390.png"))
        flags = await live.app[DB].fetchall("SELECT reason FROM pain_flags WHERE plan_id = ?",
                                            (care.plan.id,))
        assert [row[0] for row in flags] == ["high"]


OFFLINE_WORDS = "Saved on this phone; it will be sent when you are back online"


async def _said_offline(page: Page) -> None:
    await page.wait_for_selector(f"[data-testid=log-status]:has-text('{OFFLINE_WORDS}')")


async def test_a_session_logged_offline_is_sent_once_when_she_is_back_online(live):
    care = await _care_plan(live)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        await page.context.set_offline(True)
        await _log(page, (2, 4))
        await _said_offline(page)
        await page.wait_for_selector("[data-testid=recent-session][data-state=waiting]")
        queued = await _queued(page, care.plan.id)
        assert len(queued) == 1
        key = next(iter(queued))
        assert await _stored(live, care.plan.id) == []
        await screenshot(page, "care-log-offline-390")
        await page.context.set_offline(False)  # fires `online`: the queue is sent
        if not await page.evaluate("navigator.onLine"):
            # In the tests' loopback-only network namespace Chromium sees no network
            # interface, so it never says it is online again: say it for it.
            await page.evaluate("window.dispatchEvent(new Event('online'))")
        await page.wait_for_selector(f"[data-testid=recent-session][data-state=sent][data-key='{key}']")
        assert "were sent" in await page.locator("[data-testid=log-status]").inner_text()
        assert await _queued(page, care.plan.id) == {}
        assert await _stored(live, care.plan.id) == [(key, 2)]
        assert page.errors == []


async def test_a_reload_keeps_the_unsent_queue_and_the_next_load_sends_it(live):
    # A page cannot be reloaded with the whole network down (no service worker yet), so
    # here only the log endpoint is unreachable: the page loads, the session cannot go.
    care = await _care_plan(live)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        await page.route("**/log", lambda route: route.abort("internetdisconnected"))
        await _log(page, (5, 5))
        await _said_offline(page)
        key = next(iter(await _queued(page, care.plan.id)))
        await page.reload()
        await page.wait_for_selector("#care-home[data-ready=true]", state="attached")
        await page.wait_for_selector(f"[data-testid=recent-session][data-state=waiting][data-key='{key}']")
        assert list(await _queued(page, care.plan.id)) == [key]
        assert await _stored(live, care.plan.id) == []
        await page.unroute("**/log")
        await page.reload()  # the page sends what waits as it loads
        await page.wait_for_selector(f"[data-testid=recent-session][data-state=sent][data-key='{key}']")
        assert await _queued(page, care.plan.id) == {}
        assert await _stored(live, care.plan.id) == [(key, 2)]
        assert page.errors == []


async def test_a_resend_after_a_lost_answer_stores_the_session_once(live):
    care = await _care_plan(live)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        # The first answer is lost on the way back: the server stored the session, the
        # page saw a network error and kept it.
        lost = []

        async def lose_answer(route):
            response = await route.fetch()
            lost.append(response.status)
            await route.abort("connectionreset")
        await page.route("**/log", lose_answer, times=1)
        await _log(page, (1, None))
        await _said_offline(page)
        assert lost == [201]
        key = next(iter(await _queued(page, care.plan.id)))
        assert await _stored(live, care.plan.id) == [(key, 2)]
        # The page sends its queue again (the `online` event, as after a dropped connection).
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        await page.wait_for_selector(f"[data-testid=recent-session][data-state=sent][data-key='{key}']")
        assert await _queued(page, care.plan.id) == {}
        assert await _stored(live, care.plan.id) == [(key, 2)]


async def test_the_reminder_time_saves_and_can_be_turned_off(live):
    care = await _care_plan(live, email="maya@example.test")
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        assert await page.locator("[data-testid=reminder-off]").is_checked()
        await page.uncheck("[data-testid=reminder-off]")
        await page.fill("[data-testid=reminder-time]", "18:30")
        await page.click("[data-testid=reminder-save]")
        await page.wait_for_selector("[data-testid=reminder-form][data-saved='1110']", state="attached")
        assert "18:30" in await page.locator("[data-testid=reminder-status]").inner_text()
        row = await live.app[DB].fetchone("SELECT program_reminder FROM patients WHERE id = ?",
                                          (care.plan.patient_id,))
        assert row[0] == 18 * 60 + 30
        await page.reload()
        await page.wait_for_selector("#care-home[data-ready=true]", state="attached")
        assert await page.input_value("[data-testid=reminder-time]") == "18:30"
        await page.check("[data-testid=reminder-off]")
        await page.click("[data-testid=reminder-save]")
        await page.wait_for_selector("[data-testid=reminder-form][data-saved=none]", state="attached")
        row = await live.app[DB].fetchone("SELECT program_reminder FROM patients WHERE id = ?",
                                          (care.plan.patient_id,))
        assert row[0] is None
        await asyncio.sleep(0)


async def test_she_fills_the_psfs_naming_her_activities_and_the_pgq_one_question_at_a_time(live):
    care = await _care_plan(live)
    for key in ("psfs", "pgq"):
        await outcomes.attach(live.app[DB], care.plan, key, 0, actor="test", now=care.plan.created_at)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        psfs = page.locator("[data-testid=questionnaire][data-instrument=psfs]")
        await psfs.wait_for()
        rows = psfs.locator(".activity-row")
        await rows.nth(0).locator("input[type=text]").fill("Lifting my baby")
        await rows.nth(0).locator("input[type=radio][value='3']").check()
        await psfs.get_by_role("button", name="Add another activity").click()
        await rows.nth(1).locator("input[type=text]").fill("Climbing stairs")
        await rows.nth(1).locator("input[type=radio][value='6']").check()
        await screenshot(page, "care-psfs-intake-390")
        await psfs.get_by_role("button", name="Send answers").click()
        await page.wait_for_selector("[data-testid=questionnaire][data-instrument=psfs][data-sent=true]")
        pgq = page.locator("[data-testid=questionnaire][data-instrument=pgq]")
        for n in range(1, 26):
            question = pgq.locator(f"fieldset[data-question='pgq-q{n}']")
            assert await question.is_visible()  # one question on screen at a time
            assert await pgq.locator("fieldset[data-question]:visible").count() == 1
            assert f"Question {n} of 25" in await pgq.locator(".q-progress").inner_text()
            send = pgq.get_by_role("button", name="Send answers")
            assert await send.is_visible() == (n == 25)
            await question.locator(".choice-option").nth(n % 4).click()
            if n < 25:
                await pgq.locator(f"fieldset[data-question='pgq-q{n + 1}']").wait_for()
        await screenshot(page, "care-questionnaire-390")
        await pgq.get_by_role("button", name="Send answers").click()
        await page.wait_for_selector("[data-testid=questionnaire][data-instrument=pgq][data-sent=true]")
        rows = await live.app[DB].fetchall(
            "SELECT instrument, score FROM outcome_responses WHERE plan_id = ? ORDER BY instrument",
            (care.plan.id,))
        pgq_score = score("pgq", {"items": {f"q{n}": n % 4 for n in range(1, 26)}}).value
        assert [(r[0], r[1]) for r in rows] == [("pgq", pgq_score), ("psfs", 4.5)]
        assert page.errors == []


async def test_a_server_error_keeps_a_session_and_a_refused_one_is_dropped_with_a_message(live):
    care = await _care_plan(live)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        await page.route("**/log", lambda route: route.fulfill(
            status=503, content_type="application/json",
            body='{"error": {"code": "unavailable", "message": "down"}}'))
        await _log(page, (2, None))
        await page.wait_for_selector("[data-testid=log-status]:has-text('could not take it just now')")
        good = next(iter(await _queued(page, care.plan.id)))
        await page.unroute("**/log")
        # A session the server will refuse (an exercise not in her program), older than
        # the good one, so that it is sent first.
        bad = {"client_key": "refused-session-1", "done_at": int(time.time()) - 600,
               "entries": [{"assignment_id": 999999, "status": "skipped"}]}
        await page.evaluate("""([key, bad]) => {
          const all = JSON.parse(localStorage.getItem(key));
          all[bad.client_key] = bad;
          localStorage.setItem(key, JSON.stringify(all));
        }""", [f"visitroom.care.{care.plan.id}.queue", bad])
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        await page.wait_for_selector(f"[data-testid=recent-session][data-state=sent][data-key='{good}']")
        await page.wait_for_selector("[data-testid=recent-session][data-state=refused][data-key='refused-session-1']")
        assert "could not accept" in await page.locator("[data-testid=log-error]").inner_text()
        assert await _queued(page, care.plan.id) == {}
        assert await _stored(live, care.plan.id) == [(good, 2)]


async def test_a_later_psfs_asks_her_to_rate_the_activities_she_named_at_intake(live):
    week = 7 * 86400
    care = await _care_plan(live, starts_at=int(time.time()) - week - 86400)
    start = care.plan.starts_at
    await outcomes.attach(live.app[DB], care.plan, "psfs", 1, actor="test", now=start)
    intake = {"activities": [{"activity": "Lifting my baby", "score": 2},
                             {"activity": "Walking to the shop", "score": 5}]}
    await outcomes.submit(live.app[DB], care.plan, "psfs", intake, due_at=start, now=start + 3600)
    async with Chromium(grant_media=False) as chromium:
        page = await _open(chromium, care.link, 390)
        psfs = page.locator("[data-testid=questionnaire][data-instrument=psfs]")
        await psfs.wait_for()
        legends = [await x.inner_text() for x in await psfs.locator("legend").all()]
        assert legends == ["Lifting my baby", "Walking to the shop"]
        assert await psfs.locator("input[type=text]").count() == 0  # no new activities to name
        await psfs.locator("fieldset").nth(0).locator("input[value='6']").check()
        await psfs.locator("fieldset").nth(1).locator("input[value='8']").check()
        await psfs.get_by_role("button", name="Send answers").click()
        await page.wait_for_selector("[data-testid=questionnaire][data-instrument=psfs][data-sent=true]")
        rows = await live.app[DB].fetchall(
            "SELECT due_at, score FROM outcome_responses WHERE plan_id = ? ORDER BY due_at",
            (care.plan.id,))
        assert [(r[0], r[1]) for r in rows] == [(start, 3.5), (start + week, 7.0)]
