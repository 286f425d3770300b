"""A second browser engine: Firefox ESR (Marionette) meets Chromium (Playwright) in a visit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser import ARTIFACTS, Chromium, screenshot, wait_until
from tests.firefox import AsyncFirefox

READY = "document.querySelector('#call-root[data-ready=true]')"
ADMIT = "[data-testid=admit-button]"


def _connected(state: str = "connected") -> str:
    return f"!!document.querySelector('[data-testid=call-state][data-state={state}]')"


class ChromiumSide:
    """A Playwright page with the few verbs the test uses on both engines."""

    engine = "chromium"

    def __init__(self, page: Page) -> None:
        self.page = page

    async def goto(self, url: str) -> None:
        await self.page.goto(url)

    async def click(self, selector: str) -> None:
        await self.page.click(selector)

    async def fill(self, selector: str, text: str) -> None:
        await self.page.fill(selector, text)

    async def value(self, expression: str) -> Any:
        return await self.page.evaluate(expression)

    async def wait_until(self, expression: str, timeout: float = 15.0) -> None:
        await wait_until(self.page, expression, timeout)

    async def snapshot(self, name: str) -> None:
        await screenshot(self.page, name)


class FirefoxSide:
    """The same verbs on Firefox through Marionette."""

    engine = "firefox"

    def __init__(self, firefox: AsyncFirefox) -> None:
        self.firefox = firefox

    async def goto(self, url: str) -> None:
        await self.firefox.goto(url)

    async def click(self, selector: str) -> None:
        await self.firefox.click(selector)

    async def fill(self, selector: str, text: str) -> None:
        await self.firefox.fill(selector, text)

    async def value(self, expression: str) -> Any:
        return await self.firefox.evaluate(f"return ({expression});")

    async def wait_until(self, expression: str, timeout: float = 15.0) -> None:
        await self.firefox.wait_until(expression, timeout)

    async def snapshot(self, name: str) -> None:
        await self.firefox.screenshot(ARTIFACTS / f"{name}.png")


async def _remote_video_playing(side: Any, timeout: float = 10.0) -> bool:
    """The remote video has a picture, its time advances, and no tap is being asked for."""
    video = "document.querySelector('[data-testid=remote-video]')"
    await side.wait_until(f"{video} && {video}.videoWidth > 0", timeout)
    first = await side.value(f"{video}.currentTime")
    await asyncio.sleep(0.8)
    second = await side.value(f"{video}.currentTime")
    paused = await side.value(f"{video}.paused")
    asked = await side.value("!document.getElementById('unblock-media').hidden")
    return second > first and not paused and not asked


# Fake camera on, then one peer connection's gathering: the candidates Firefox offers.
GATHER = """return (async () => {
const stream = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
const pc = new RTCPeerConnection();
try {
  stream.getTracks().forEach((track) => pc.addTrack(track, stream));
  const candidates = [];
  pc.addEventListener("icecandidate", (e) => e.candidate && candidates.push(e.candidate.candidate));
  await pc.setLocalDescription();
  await new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
    setTimeout(resolve, 5000);
  });
  return {state: pc.iceGatheringState, candidates};
} finally {
  pc.close();
  stream.getTracks().forEach((track) => track.stop());
}
})();
"""


async def test_firefox_gathers_loopback_candidates_once_the_camera_is_on(live):
    """With only a loopback interface (tests/run.sh), Firefox still offers a 127.0.0.1 host candidate.

    Without a captured camera Firefox gathers on the default-route address only, and there is
    none here: it would offer nothing and every call with it would fail.
    """
    visit = await live.visit()
    async with AsyncFirefox() as firefox:
        await firefox.goto(await live.link(visit, "patient"))
        result = await firefox.evaluate(GATHER)
    hosts = [c.split()[4] for c in result["candidates"] if " typ host" in c]
    assert "127.0.0.1" in hosts, f"Firefox offered no loopback host candidate: {result}"
    assert result["state"] == "complete", result


@pytest.mark.parametrize("patient_engine", ["firefox", "chromium"])
async def test_firefox_and_chromium_meet_and_the_demo_reaches_the_patient(live, patient_engine):
    visit = await live.visit()
    async with Chromium() as chromium, AsyncFirefox() as firefox:
        page = ChromiumSide(await chromium.page())
        fox = FirefoxSide(firefox)
        patient, therapist = (fox, page) if patient_engine == "firefox" else (page, fox)
        name = f"firefox-{patient.engine}-patient"

        await therapist.goto(await live.link(visit, "therapist"))
        await therapist.wait_until(READY)
        await therapist.click("[data-testid=join-button]")
        await therapist.wait_until(_connected("waiting"))
        await patient.goto(await live.link(visit, "patient"))
        await patient.wait_until(READY)
        await patient.wait_until("document.getElementById('local-video').videoWidth > 0")  # fake camera
        await patient.click("[data-testid=join-button]")
        await patient.wait_until("document.querySelector('[data-testid=waiting-room]:not([hidden])')")
        await therapist.click(ADMIT)
        await patient.wait_until(_connected(), 30)
        await therapist.wait_until(_connected(), 30)
        assert await _remote_video_playing(patient), "the patient does not see her therapist"
        assert await _remote_video_playing(therapist), "the therapist does not see the patient"
        await patient.snapshot(f"{name}-call")

        # The therapist shows a demo from the library panel; the patient's view follows.
        await therapist.fill("#library-search", "upper butt")
        await therapist.click("[data-condition=sacroiliac-joint-dysfunction]")
        await therapist.click("[data-testid=demo-show-button][data-exercise=glute-bridge]")
        view = "[data-testid=demo-view][data-exercise=glute-bridge]"
        await patient.wait_until(f"document.querySelector(\"{view}[data-step='1']\")")
        await therapist.click("#demo-area [data-demo=step]")
        await patient.wait_until(f"document.querySelector(\"{view}[data-step='2'][data-playing=false]\")")
        await therapist.click("#demo-area [data-demo=play]")
        await patient.wait_until(f"document.querySelector(\"{view}[data-playing=true]\")")
        await patient.snapshot(f"{name}-demo")
        await therapist.click("#demo-area [data-demo=play]")  # pause
        await patient.wait_until(f"document.querySelector(\"{view}[data-playing=false]\")")
        # Both sides show the same step once paused.
        step = "document.querySelector('#demo-area [data-testid=demo-view]').dataset.step"
        await patient.wait_until(f"{step} === {json.dumps(await therapist.value(step))}")
        # The patient may minimise it for herself; the therapist's view stays.
        await patient.click("#demo-minimise")
        await patient.wait_until("document.getElementById('demo-area').classList.contains('minimised')")
        assert not await therapist.value("document.getElementById('demo-area').classList.contains('minimised')")
        await patient.click("#demo-minimise")
        # "Stop showing" on the therapist's side hides it on the patient's.
        await therapist.click("#demo-hide")
        await patient.wait_until("document.getElementById('demo-area').hidden")
        assert await patient.value("document.querySelectorAll('[data-testid=remote-video]').length") == 1
        assert await patient.value(_connected())
