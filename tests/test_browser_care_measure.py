"""Counting at home, in real Chromium against a live server: her camera is a video file of
Visitroom's demo figure squatting (tests/pose_footage.py). "Count with camera" shows on the
exercise that can be counted only; the sheet asks her consent, counts on her phone with the
pose model loaded from Visitroom only (and only once she taps), and Stop puts the count and
the largest angle into her log entry, where she corrects the count before saving. Once the model
has loaded, she can open the page again and count with the connection gone (the offline worker
keeps the page, its scripts and the model): the session waits on the phone with its numbers and is
stored when the connection returns."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page

from server.care.patient_input import PatientRequest, PlanRequest
from server.keys import CARE, DB
from server.visits.program import assign
from tests.browser import ARTIFACTS, Chromium, screenshot, wait_until
from tests.pose_footage import render_footage

SQUAT, OTHER = "supported-squat", "clamshell"
# Every camera stream the page opens, kept for the test to see that Stop ended it.
KEEP_STREAMS = """(() => {
  const open = MediaDevices.prototype.getUserMedia;
  window.__streams = [];
  MediaDevices.prototype.getUserMedia = async function (...args) {
    const stream = await open.apply(this, args);
    window.__streams.push(stream);
    return stream;
  };
})();"""
# Whether the offline worker keeps the page itself and the pose model's files.
KEPT_OFFLINE = """(async () => {
  const cache = await caches.open('visitroom-care-v1');
  const keys = (await cache.keys()).map((r) => new URL(r.url).pathname);
  return keys.includes(location.pathname) && keys.some((k) => k.endsWith('movenet-lightning.bin'))
    && keys.some((k) => k.endsWith('care-count.js'));
})()"""
LIVE_TRACKS = "window.__streams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === 'live').length"


@pytest.fixture(scope="module")
def squat_video(tmp_path_factory) -> Path:
    return render_footage("squat", tmp_path_factory.getbasetemp() / "footage").video


async def _plan(live) -> tuple[str, str, dict[str, int]]:
    """(plan id, her plan link, assignment id by exercise) of a plan with the squat and an
    exercise the camera does not count."""
    care = live.app[CARE]
    patient = await care.create_patient(PatientRequest(
        name="Maya Lopez", birth_date=None, email=None, email_consent=False, phone=None,
        phone_consent=False, language="en", external_id=None), actor="test")
    plan = await care.create_plan(patient, PlanRequest(
        condition="sacroiliac-joint-dysfunction", goals="Lift my toddler", starts_at=None,
        weeks=8, therapist_email=None), actor="test")
    visit = await live.visit(patient_id=patient.id)
    ids = {}
    for slug in (SQUAT, OTHER):
        assignment = await assign(
            live.app[DB], visit=visit, participant_id=visit.participant("patient").id,
            values={"exercise": slug, "sets": 2, "reps": 10, "hold_seconds": 0, "per_day": 1,
                    "per_week": 0, "note": ""}, actor="test")
        ids[slug] = assignment.id
    link = await care.plan_link(plan)
    assert link is not None
    return plan.id, link, ids


async def _open(chromium: Chromium, link: str, width: int, requests: list[str]) -> Page:
    page = await chromium.page(width, 844 if width < 600 else 800)
    await page.add_init_script(KEEP_STREAMS)
    page.context.on("request", lambda request: requests.append(request.url))
    await page.goto(link)
    await page.wait_for_selector("#care-home[data-ready=true]", state="attached")
    return page


async def _count(page: Page, reps: int = 2) -> None:
    """Tap Count with camera on the squat, allow, and count until the sheet shows `reps`."""
    await page.click(f"[data-testid=care-exercise][data-exercise={SQUAT}] [data-testid=care-count]")
    await page.locator("[data-testid=count-consent]").wait_for(state="visible")
    await page.click("[data-testid=count-allow]")
    await wait_until(page, f"Number(document.querySelector('[data-testid=count-reps]').textContent) >= {reps}",
                     timeout=60)


async def _view(page: Page, name: str) -> None:
    """The sheet as she sees it: the viewport (a full-page picture of a long page would put
    the fixed sheet at its far end)."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _squat_entry(page: Page, ids: dict[str, int]):
    return page.locator(f"[data-testid=log-exercise][data-assignment='{ids[SQUAT]}']")


async def _save(page: Page, ids: dict[str, int], reps: int) -> None:
    """Her corrected count and a pain for the squat, then Save."""
    entry = _squat_entry(page, ids)
    await entry.locator("[data-testid=log-reps]").fill(str(reps))
    await entry.locator("[data-testid=log-pain] input[value='2']").check()
    await page.click("[data-testid=log-save]")


async def _entries(live, plan_id: str) -> list[tuple]:
    return [tuple(row) for row in await live.app[DB].fetchall(
        "SELECT exercise, status, pain, reps, measurement, measured_peak FROM log_entries"
        " WHERE plan_id = ? ORDER BY done_at", (plan_id,))]


async def test_she_counts_her_squats_corrects_the_count_and_saves_it_even_offline(live, squat_video):
    plan_id, link, ids = await _plan(live)
    requests: list[str] = []
    async with Chromium(args=[f"--use-file-for-fake-video-capture={squat_video}"]) as chromium:
        page = await _open(chromium, link, 390, requests)
        # The button is on the exercise the camera can count, and only there.
        buttons = page.locator("[data-testid=care-count]")
        assert await buttons.count() == 1
        assert await page.locator(f"[data-testid=care-exercise][data-exercise={SQUAT}] [data-testid=care-count]").count() == 1
        assert not [u for u in requests if "/vendor/" in u or "/measure" in u or "care-count" in u]

        await buttons.click()
        consent = page.locator("[data-testid=count-consent]")
        await consent.wait_for(state="visible")
        text = await consent.inner_text()
        assert "Knee bend" in text and "No picture or video is sent or kept" in text
        # Where to put the phone, the pain rule, and the exercise's own "Stop if" lines.
        assert "Stand side-on to it" in text and "The number is not a target" in text
        assert await page.text_content("[data-testid=count-stop-if]") == await page.text_content(
            f"[data-testid=care-exercise][data-exercise={SQUAT}] [data-testid=care-stop-if]")
        assert (await page.text_content("[data-testid=count-stop-if]")).startswith("Stop if:")
        await _view(page, "care-measure-consent-390")
        assert not [u for u in requests if "/vendor/" in u]
        await page.click("[data-testid=count-allow]")
        await wait_until(page, "Number(document.querySelector('[data-testid=count-reps]').textContent) >= 2", timeout=60)
        await wait_until(page, "document.querySelector('[data-testid=count-value]').textContent.endsWith('°')")
        await _view(page, "care-measure-live-390")
        counted = int(await page.text_content("[data-testid=count-reps]"))
        await page.click("[data-testid=count-stop]")
        await page.locator("[data-testid=count-sheet]").wait_for(state="hidden")
        assert await page.evaluate(LIVE_TRACKS) == 0

        # Stop filled her entry: done, the count, the line with the largest angle.
        entry = _squat_entry(page, ids)
        assert await entry.locator("[data-testid=log-done]").is_checked()
        assert int(await entry.locator("[data-testid=log-reps]").input_value()) >= counted
        line = await entry.locator("[data-testid=log-counted]").inner_text()
        assert line.startswith("Counted by camera: ") and "repetitions, largest " in line and "estimated" in line
        await entry.screenshot(path=str(ARTIFACTS / "care-measure-entry-390.png"))
        await screenshot(page, "care-measure-page-390")
        await _save(page, ids, 12)
        await page.wait_for_selector("[data-testid=recent-session][data-state=sent]")
        [(exercise, status, pain, reps, measurement, peak)] = await _entries(live, plan_id)
        assert (exercise, status, pain, reps, measurement) == (SQUAT, "done", 2, 12, "knee_flexion")
        # The drawn squat bends the knee to 100°; the model reads it low (docs/measurement.md).
        assert 40 <= peak <= 125, peak
        home = await live.app[DB].fetchall(
            "SELECT measurement, exercise, reps, source FROM measurements WHERE plan_id = ?", (plan_id,))
        assert [tuple(row) for row in home] == [("knee_flexion", SQUAT, 12, "home")]
        assert any("/vendor/" in u and u.endswith(".wasm") for u in requests)

        # The page and the model are kept on her phone (web/sw/care-offline.js): with the
        # connection gone she opens the page again and counts.
        await wait_until(page, KEPT_OFFLINE, timeout=20)
        await page.context.set_offline(True)
        offline_from = len(requests)
        await page.reload()
        await page.wait_for_selector("#care-home[data-ready=true]", state="attached")
        await _count(page)
        await page.click("[data-testid=count-stop]")
        await page.locator("[data-testid=count-sheet]").wait_for(state="hidden")
        await _save(page, ids, 9)
        await page.wait_for_selector("[data-testid=recent-session][data-state=waiting]")
        [waiting] = (await page.evaluate(
            "(key) => JSON.parse(localStorage.getItem(key))", f"visitroom.care.{plan_id}.queue")).values()
        [queued] = [e for e in waiting["entries"] if e["assignment_id"] == ids[SQUAT]]
        assert queued["reps"] == 9 and queued["measurement"] == "knee_flexion" and queued["measured_peak"] > 0
        print("requested offline:", sorted({urlsplit(u).path for u in requests[offline_from:]}))
        await page.context.set_offline(False)
        if not await page.evaluate("navigator.onLine"):
            # Loopback only: Chromium never says it is online again, so say it for it.
            await page.evaluate("window.dispatchEvent(new Event('online'))")
        # The page was opened again offline: its list holds the session it logged then.
        await page.wait_for_selector("[data-testid=recent-session][data-state=sent]")
        second = (await _entries(live, plan_id))[1]
        assert second[3:5] == (9, "knee_flexion") and second[5] == queued["measured_peak"]

        own = urlsplit(live.base).netloc
        assert {urlsplit(u).netloc for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")} == {own}
        assert page.errors == []


async def test_the_sheet_and_the_filled_entry_on_a_wide_screen(live, squat_video):
    _plan_id, link, ids = await _plan(live)
    requests: list[str] = []
    async with Chromium(args=[f"--use-file-for-fake-video-capture={squat_video}"]) as chromium:
        page = await _open(chromium, link, 1280, requests)
        await page.click(f"[data-testid=care-exercise][data-exercise={SQUAT}] [data-testid=care-count]")
        await page.locator("[data-testid=count-consent]").wait_for(state="visible")
        await _view(page, "care-measure-consent-1280")
        await page.click("[data-testid=count-allow]")
        await wait_until(page, "Number(document.querySelector('[data-testid=count-reps]').textContent) >= 1", timeout=60)
        await _view(page, "care-measure-live-1280")
        await page.keyboard.press("Escape")
        await page.locator("[data-testid=count-sheet]").wait_for(state="hidden")
        assert await page.evaluate(LIVE_TRACKS) == 0
        entry = _squat_entry(page, ids)
        assert int(await entry.locator("[data-testid=log-reps]").input_value()) >= 1
        # She can leave out the camera's numbers and keep her own count.
        await entry.locator("[data-testid=log-counted-remove]").click()
        assert await entry.locator("[data-testid=log-counted]").is_hidden()
        said = page.locator(f"[data-testid=care-exercise][data-exercise={SQUAT}] [data-testid=care-count-done]")
        assert "Added to your log" in await said.inner_text()
        await page.locator(f"[data-testid=care-exercise][data-exercise={SQUAT}]").screenshot(
            path=str(ARTIFACTS / "care-measure-offer-1280.png"))
        await screenshot(page, "care-measure-page-1280")
        assert page.errors == []


async def test_a_withdrawn_link_takes_the_kept_page_with_it(live):
    # Kept for offline use, then the clinic withdraws her link: the next page the server
    # refuses makes her phone forget everything of the plan, so offline it no longer opens.
    plan_id, link, _ids = await _plan(live)
    requests: list[str] = []
    async with Chromium() as chromium:
        page = await _open(chromium, link, 390, requests)
        kept_page = "(async () => !!(await (await caches.open('visitroom-care-v1')).match(location.pathname)))()"
        await wait_until(page, kept_page, timeout=20)
        # The kept page holds no visit link: its join button is the plan's own redirect.
        html = await page.evaluate("(async () => (await (await caches.open('visitroom-care-v1')).match(location.pathname)).text())()")
        assert "token=" not in html and "/join/" not in html
        plan = await live.app[CARE].plan(plan_id)
        await live.app[CARE].revoke_plan_link(plan, actor="test")
        response = await page.reload()
        assert response is not None and response.status in (401, 403)
        assert not await page.evaluate(kept_page)
        await page.context.set_offline(True)
        with pytest.raises(Exception):
            await page.reload()
        assert await page.locator("#care-home").count() == 0
