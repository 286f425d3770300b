"""A leaked link in the browser: the second device waits, marked new; the therapist turns
it away, and can take the patient out of the call and let her in again."""

from __future__ import annotations

from tests.browser import Chromium, remote_video_playing, screenshot, wait_state
from tests.test_browser_call import _join, _start_call


async def test_a_second_device_waits_and_the_therapist_decides(live):
    async with Chromium() as chromium:
        visit, therapist, patient = await _start_call(chromium, live)
        pid = visit.participant("patient").id
        stranger = await chromium.page(width=390, height=844)  # another browser, another device
        await _join(stranger, await live.link(visit, "patient"))
        await wait_state(stranger, "waiting")
        entry = therapist.locator(f"#lobby-list li:has([data-participant={pid}])")
        await entry.wait_for()
        assert "Maya Lopez from a new device" in await entry.inner_text()
        notice = patient.locator("[data-testid=call-notice]")
        await notice.wait_for(state="visible")
        assert "opened on another device" in await notice.inner_text()
        await screenshot(therapist, "leaked-link-therapist-1280")
        await screenshot(patient, "leaked-link-patient-1280")

        await therapist.click(f"[data-testid=deny-button][data-participant={pid}]")
        await stranger.wait_for_selector("#denied:visible")
        assert await remote_video_playing(therapist)  # the patient's device kept the call

        await therapist.click("[data-testid=remove-button]")
        await therapist.click(f"[data-testid=remove-to-waiting][data-participant={pid}]")
        await wait_state(patient, "waiting")
        waiting_notice = patient.locator("[data-testid=waiting-notice]")
        await waiting_notice.wait_for(state="visible")
        assert "moved you to the waiting room" in await waiting_notice.inner_text()
        await screenshot(patient, "removed-patient-1280")
        await therapist.click(f"[data-testid=admit-button][data-participant={pid}]")
        await wait_state(patient, "connected")
        assert await remote_video_playing(patient)
        for page in (therapist, patient, stranger):
            assert page.errors == []


async def test_remove_and_revoke_ends_the_visit_for_that_link(live):
    async with Chromium() as chromium:
        visit, therapist, patient = await _start_call(chromium, live)
        pid = visit.participant("patient").id
        await therapist.click("[data-testid=remove-button]")
        await screenshot(therapist, "remove-dialog-1280")
        await therapist.click(f"[data-testid=remove-revoke][data-participant={pid}]")
        await wait_state(patient, "ended")
        await patient.reload()
        assert await patient.inner_text("h1") == "Link no longer valid"
