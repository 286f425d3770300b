"""Blocked autoplay: a browser that refuses audible playback until a tap gets a tap control."""

from __future__ import annotations

import asyncio

from tests.browser import Chromium, remote_video_playing, screenshot, wait_state

UNBLOCK = "[data-testid=unblock-media]"


async def _sees(page, participant_id: str, timeout: float = 20.0) -> bool:
    """This page shows the participant's video playing (so her side of the call is up too)."""
    video = page.locator(f"[data-testid=remote-video][data-peer={participant_id}]")
    deadline = asyncio.get_running_loop().time() + timeout
    while not await video.evaluate("v => v.videoWidth > 0 && !v.paused"):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    first = await video.evaluate("v => v.currentTime")
    await asyncio.sleep(0.6)
    return await video.evaluate("v => v.currentTime") > first


async def test_refused_playback_shows_a_tap_control_and_one_tap_starts_the_call(live):
    visit = await live.visit()
    async with Chromium() as granted, Chromium(autoplay_needs_gesture=True) as strict:
        therapist = await granted.page()
        await therapist.goto(await live.link(visit, "therapist"))
        await therapist.click("[data-testid=join-button]")
        await wait_state(therapist, "waiting")
        patient = await strict.page()
        # She comes back to the visit she was in (a reload, a reopened tab): the page rejoins
        # by itself, and nobody has tapped this page yet, so the browser refuses sound.
        await patient.context.add_init_script(
            f"sessionStorage.setItem('visitroom:in-call:{visit.id}', '1')")
        await patient.goto(await live.link(visit, "patient"))
        # Until the browser has refused playback nothing may touch her page: Playwright's
        # evaluations count as a user gesture. The therapist's side says when the call is up.
        await therapist.click("[data-testid=admit-button]")
        await wait_state(therapist, "connected")
        assert await _sees(therapist, visit.participant("patient").id)
        control = patient.locator(UNBLOCK)
        await control.wait_for(state="visible", timeout=10000)
        assert await patient.locator("[data-testid=remote-video]").evaluate("v => v.paused")
        assert "Tap to start sound and video" in await control.inner_text()
        box = await control.bounding_box()
        assert box is not None and box["height"] >= 48 and box["width"] >= 200  # easy to hit
        await screenshot(patient, "autoplay-blocked-1280")
        await control.click()
        await control.wait_for(state="hidden")
        assert await remote_video_playing(patient)
        assert not await patient.locator("[data-testid=remote-video]").evaluate("v => v.muted")
        # The therapist's browser allows playback: no control there.
        assert await remote_video_playing(therapist)
        assert not await therapist.locator(UNBLOCK).is_visible()
        assert patient.errors == []
