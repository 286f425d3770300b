"""The therapist's presence in real headless Chromium, on a phone (issue 23, point 3): the
waiting patient reads that her therapist has not joined yet, her "running late" note and the
time to her start; when the therapist arrives the line changes and is announced; while the
therapist is in another of her visits' calls, the page says so."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from tests.browser import Chromium, screenshot, wait_state, wait_until
from tests.live import in_call


async def _open_and_join(page, link: str) -> None:
    await page.goto(link)
    await page.wait_for_selector("#call-root[data-ready=true]", state="attached")
    await page.click("[data-testid=join-button]")


async def test_the_waiting_patient_sees_her_therapist_late_then_here(live):
    starts = datetime.fromtimestamp(time.time() + 12 * 60 + 20, timezone.utc)
    visit = await live.visit(starts_at=starts.isoformat(timespec="seconds"))
    async with Chromium() as chromium:
        therapist = await chromium.page(1280, 800)
        await _open_and_join(therapist, await live.link(visit, "therapist"))
        await wait_state(therapist, "waiting")
        await therapist.select_option("[data-testid=late-note]", "10")
        await wait_until(therapist, "document.getElementById('announcer').textContent"
                                    ".includes('10 minutes late')")
        await therapist.goto("about:blank")  # she goes back to her previous patient; the note stays

        patient = await chromium.page(390, 844)
        await _open_and_join(patient, await live.link(visit, "patient"))
        await patient.wait_for_selector("[data-testid=presence-note]:visible")
        assert await patient.inner_text("[data-testid=presence-status]") == \
            "Your therapist has not joined yet."
        assert "running about 10 minutes late" in await patient.inner_text(
            "[data-testid=presence-note]")
        assert await patient.inner_text("[data-testid=presence-start]") == \
            "Your visit starts in 12 minutes."
        await screenshot(patient, "presence-late-390")

        back = therapist  # her link works in the browser it first opened in; it rejoins
        await back.goto(await live.link(visit, "therapist"))
        await wait_state(back, "waiting")
        await wait_until(patient, "document.querySelector('[data-testid=presence]')"
                                  ".dataset.therapist === 'here'")
        assert await patient.locator("[data-testid=presence-note]").is_hidden()
        await wait_until(patient, "document.getElementById('announcer').textContent"
                                  ".includes('Your therapist is here')")
        # Her control shows the note she left.
        assert await back.input_value("[data-testid=late-note]") == "10"
        await screenshot(patient, "presence-here-390")
        await patient.set_viewport_size({"width": 1280, "height": 800})
        await screenshot(patient, "presence-here-1280")
        assert patient.errors == [] and back.errors == []


async def test_the_waiting_patient_reads_that_her_therapist_is_in_another_visit(live):
    await live.therapist_account(email="rae@clinic.test")
    booked = {"therapist_name": None, "therapist_email": "rae@clinic.test"}
    _first, therapist, patient_there = await in_call(live, **booked)  # her call now
    second = await live.visit(**booked)
    async with Chromium() as chromium:
        page = await chromium.page(390, 844)
        await _open_and_join(page, await live.link(second, "patient"))
        await wait_until(page, "document.querySelector('[data-testid=presence]')"
                               ".dataset.therapist === 'busy'")
        assert await page.inner_text("[data-testid=presence-status]") == \
            "Your therapist is finishing another visit."
        await wait_until(page, "document.getElementById('announcer').textContent"
                               ".includes('finishing another visit')")
        await screenshot(page, "presence-busy-390")
        assert page.errors == []
    assert await therapist.alive() and await patient_there.alive()
