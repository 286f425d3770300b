"""A patient's course of care in real Chromium at 390 px against a live server, through
two visits of one plan: the program assigned in the first visit carries to the second, she
logs sessions on her phone (one while offline), fills the PSFS at intake and again by the
second visit, and her therapist, signed in, sees the PSFS trend and the pain flag her last
session raised, and acknowledges it."""

from __future__ import annotations

import time

from server.care import outcomes
from server.care.patient_input import PatientRequest, PlanRequest
from server.keys import CARE, DB, VISITS
from server.storage.audit_events import by_participant
from server.visits.program import assign, visit_program
from tests.browser import Chromium, screenshot, wait_state
from tests.test_browser_care import _log, _open, _stored

WEEK = 7 * 86400
EXERCISE = "glute-bridge"


async def _earlier(live, plan_id: str, seconds: int) -> None:
    """Move her plan and everything it holds `seconds` into the past: the weeks between
    her first and her second visit."""
    async with live.app[DB].transaction() as conn:
        for sql in ("UPDATE plans SET starts_at = starts_at - ?, created_at = created_at - ?"
                    " WHERE id = ?",
                    "UPDATE outcome_responses SET due_at = due_at - ?,"
                    " answered_at = answered_at - ? WHERE plan_id = ?"):
            await conn.execute(sql, (seconds, seconds, plan_id))
        await conn.execute("UPDATE log_sessions SET done_at = done_at - ?, day = day - ?"
                           " WHERE plan_id = ?", (seconds, seconds // 86400, plan_id))
        for table in ("log_entries",):
            await conn.execute(f"UPDATE {table} SET done_at = done_at - ? WHERE plan_id = ?",
                               (seconds, plan_id))
        await conn.execute("UPDATE assignments SET created_at = created_at - ? WHERE plan_id = ?",
                           (seconds, plan_id))
        await conn.execute("UPDATE pain_flags SET raised_at = raised_at - ? WHERE plan_id = ?",
                           (seconds, plan_id))


async def test_two_visits_of_one_plan_from_her_phone_to_her_therapists_acknowledgement(live):
    app = live.app
    care = app[CARE]
    await live.therapist_account()
    patient = await care.create_patient(PatientRequest(
        "Maya Lopez", None, None, False, None, False, "en", None), actor="test")
    plan = await care.create_plan(patient, PlanRequest(
        "pelvic-girdle-pain", "Lift her baby from the floor", None, 8, "rae@clinic.test"),
        actor="test")
    await outcomes.attach(app[DB], plan, "psfs", 2, actor="test", now=int(time.time()))
    first = await live.visit(patient_id=patient.id, therapist_name=None,
                             therapist_email="rae@clinic.test")
    assert first.plan_id == plan.id
    host = first.participant("therapist")
    await assign(app[DB], visit=first, participant_id=first.participant("patient").id,
                 actor=by_participant(host.id), values={
                     "exercise": EXERCISE, "sets": 2, "reps": 10, "hold_seconds": 5,
                     "per_day": 1, "per_week": 0, "note": "Keep your back flat."})
    link = await care.plan_link(plan)
    assert link is not None
    async with Chromium(grant_media=False) as chromium:
        phone = await _open(chromium, link, 390)
        # Her first week: the program from the visit, the PSFS at intake, two sessions.
        exercises = phone.locator("[data-testid=care-exercise]")
        assert [await e.get_attribute("data-exercise") for e in await exercises.all()] == [EXERCISE]
        psfs = phone.locator("[data-testid=questionnaire][data-instrument=psfs]")
        await psfs.wait_for()
        rows = psfs.locator(".activity-row")
        await rows.nth(0).locator("input[type=text]").fill("Lifting my baby")
        await rows.nth(0).locator("input[type=radio][value='3']").check()
        await psfs.get_by_role("button", name="Add another activity").click()
        await rows.nth(1).locator("input[type=text]").fill("Climbing stairs")
        await rows.nth(1).locator("input[type=radio][value='4']").check()
        await psfs.get_by_role("button", name="Send answers").click()
        await phone.wait_for_selector(
            "[data-testid=questionnaire][data-instrument=psfs][data-sent=true]")
        await _log(phone, (2,))
        await phone.wait_for_selector("[data-testid=recent-session][data-state=sent]")
        await phone.context.set_offline(True)
        await _log(phone, (3,))
        await phone.wait_for_selector("[data-testid=recent-session][data-state=waiting]")
        assert len(await _stored(live, plan.id)) == 1
        await phone.context.set_offline(False)
        await phone.evaluate("window.dispatchEvent(new Event('online'))")
        await phone.wait_for_selector("[data-testid=recent-session][data-state=waiting]",
                                      state="detached")
        assert [entries for _key, entries in await _stored(live, plan.id)] == [1, 1]

        # Two weeks on: her second visit shows the program carried over, a PSFS is due
        # again with her own activities, and her session today hurts.
        await app[VISITS].mark_ended(first.id, "ended_by_therapist")
        await _earlier(live, plan.id, 2 * WEEK)
        second = await live.visit(patient_id=patient.id, therapist_name=None,
                                  therapist_email="rae@clinic.test")
        assert second.plan_id == plan.id
        assert [a.exercise for a in await visit_program(app[DB], second)] == [EXERCISE]
        await phone.reload()
        await phone.wait_for_selector("#care-home[data-ready=true]", state="attached")
        assert await phone.locator("[data-testid=care-visit-join]").count() == 1  # the second only
        # She opens her second visit's link early: the waiting room offers the PSFS due,
        # rating the activities she named at intake.
        async with Chromium() as camera_phone:
            waiting = await camera_phone.page(390, 844)
            await waiting.goto(await live.link(second, "patient"))
            await waiting.wait_for_selector("#call-root[data-ready=true]", state="attached")
            await waiting.click("[data-testid=join-button]")
            await wait_state(waiting, "waiting")
            psfs = waiting.locator("[data-testid=questionnaire][data-instrument=psfs]")
            await psfs.wait_for()
            assert [await x.inner_text() for x in await psfs.locator("legend").all()] == [
                "Lifting my baby", "Climbing stairs"]
            await psfs.locator("fieldset").nth(0).locator("input[value='7']").check()
            await psfs.locator("fieldset").nth(1).locator("input[value='8']").check()
            await screenshot(waiting, "care-journey-waiting-room-390")
            await psfs.get_by_role("button", name="Send answers").click()
            await waiting.wait_for_selector(
                "[data-testid=questionnaire][data-instrument=psfs][data-sent=true]")
            assert waiting.errors == []  # type: ignore[attr-defined]
        await _log(phone, (8,))
        await phone.wait_for_selector("[data-testid=pain-alert]:not([hidden])")
        await screenshot(phone, "care-journey-patient-390")
        scores = [r[0] for r in await app[DB].fetchall(
            "SELECT score FROM outcome_responses WHERE plan_id = ? ORDER BY due_at", (plan.id,))]
        assert scores == [3.5, 7.5]

        # Her therapist signs in: the flag is on her dashboard, the trend on the patient's
        # page reads an important improvement; she acknowledges the flag.
        desk = await chromium.page(390, 844)
        await desk.goto(live.base + "/login")
        await desk.fill("input[name=email]", "rae@clinic.test")
        await desk.fill("input[name=password]", "therapist-pass-1")
        await desk.click("button[type=submit]")
        await desk.goto(live.base + "/admin")
        flags = desk.locator("[data-testid=pain-flags] li")
        assert await flags.count() == 1
        assert "pain 8/10" in await flags.first.inner_text()
        await desk.goto(f"{live.base}/admin/patients/{patient.id}")
        chart = desk.locator("[data-testid^=chart-]", has_text="Activities")
        assert await chart.count() >= 1
        table = await chart.first.locator("table").text_content() or ""
        assert "3.5" in table and "7.5" in table and "improved" in table.lower()
        await screenshot(desk, "care-journey-therapist-390")
        await desk.goto(live.base + "/admin")
        await desk.locator("[data-testid=pain-flags] li button", has_text="Acknowledge").click()
        await desk.wait_for_selector("text=The pain flag was acknowledged.")
        assert await desk.locator("[data-testid=pain-flags] li").count() == 0
        acknowledged = await app[DB].fetchone(
            "SELECT acknowledged_by FROM pain_flags WHERE plan_id = ?", (plan.id,))
        assert acknowledged is not None and acknowledged[0].startswith("user:")
        assert phone.errors == [] and desk.errors == []  # type: ignore[attr-defined]
