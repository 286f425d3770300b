"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, with fake camera and mic."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Sequence

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BASE_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream",
    # Peers on one machine meet on the loopback interface; real host addresses, not mDNS names.
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
GRANTING_FLAGS = BASE_FLAGS + ["--use-fake-ui-for-media-stream"]


class Chromium:
    """A running browser; `page()` opens a fresh context (its own cookies) at a width."""

    def __init__(self, *, grant_media: bool = True, autoplay_needs_gesture: bool = False,
                 args: Sequence[str] = ()) -> None:
        """`autoplay_needs_gesture` makes Chromium refuse audible playback until a tap, as
        browsers do for pages the user has not interacted with; `args` are extra flags."""
        self.grant_media = grant_media
        self.autoplay_needs_gesture = autoplay_needs_gesture
        self.args = list(args)
        self._pw: Any = None
        self.browser: Browser | None = None

    def flags(self) -> list[str]:
        """The command-line flags this browser starts with."""
        flags = GRANTING_FLAGS if self.grant_media else BASE_FLAGS
        if self.autoplay_needs_gesture:
            flags = [f for f in flags if not f.startswith("--autoplay-policy=")]
            flags.append("--autoplay-policy=user-gesture-required")
        return flags + self.args

    async def __aenter__(self) -> "Chromium":
        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(executable_path=CHROMIUM, args=self.flags())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.browser is not None:
            await self.browser.close()
        await self._pw.stop()

    async def page(self, width: int = 1280, height: int = 800, *,
                   reduced_motion: str = "no-preference") -> Page:
        assert self.browser is not None
        context = await self.browser.new_context(
            viewport={"width": width, "height": height}, reduced_motion=reduced_motion,
            permissions=["camera", "microphone"] if self.grant_media else [])
        page = await context.new_page()
        page.set_default_timeout(15000)
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
        return page


async def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot under tests/artifacts/ for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def state_of(page: Page) -> str:
    return await page.get_attribute("[data-testid=call-state]", "data-state") or ""


async def wait_state(page: Page, state: str, timeout: float = 20000) -> None:
    """Wait until the call-state hook says `state`."""
    await page.wait_for_selector(f"[data-testid=call-state][data-state={state}]",
                                 state="attached", timeout=timeout)


async def remote_video_playing(page: Page, timeout: float = 8.0) -> bool:
    """A remote video gets a picture within `timeout` and its time then advances."""
    handle = page.locator("[data-testid=remote-video]").first
    deadline = asyncio.get_running_loop().time() + timeout
    while (first := await handle.evaluate("v => [v.videoWidth, v.currentTime]"))[0] == 0:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.6)
    second = await handle.evaluate("v => [v.videoWidth, v.currentTime]")
    return second[0] > 0 and second[1] > first[1]


async def outbound_packets(page: Page, kind: str) -> int:
    """Packets sent so far on the call's outbound RTP stream of this kind."""
    return await page.evaluate("""async (kind) => {
        let total = 0;
        for (const peer of window.visitroomCall.peers.values()) {
            const report = await peer.session.pc.getStats();
            report.forEach(s => { if (s.type === 'outbound-rtp' && s.kind === kind) total += s.packetsSent || 0; });
        }
        return total;
    }""", kind)


async def wait_until(page: Page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS expression until it is truthy (wait_for_function would need 'unsafe-eval')."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(expression):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {timeout}s: {expression}")
        await asyncio.sleep(0.1)
