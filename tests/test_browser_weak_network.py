"""A call that holds on a weak network (issue 23, point 5), in real headless Chromium.

Chromium's DevTools network emulation throttles HTTP and WebSockets, not WebRTC
(crbug.com/563644; Puppeteer's emulateNetworkConditions says so), so the weak network is
real loss on the far side's link instead: the aiortc bot drops a share of the media and
data datagrams it sends and receives (`VisitClient.loss`), while ICE's own checks go on.
The browser measures that loss, steps its camera down to audio only, and back up when the
loss stops; getStats and the sender's parameters show each step, and the call never stalls.
"""

from __future__ import annotations

import asyncio

from signaling.bot import VisitClient
from tests.browser import Chromium, screenshot, wait_state

POLICY = """async () => {
    const src = document.querySelector('script[type=module][src*="call"]').src;
    const m = await import(new URL('call-quality-steps.js', src));
    const run = (grades) => grades.reduce((s, g) => m.advance(s, g), m.startSteps()).step;
    const poor = (n) => Array(n).fill('poor'), good = (n) => Array(n).fill('good');
    return {
        names: m.STEPS.map((s) => s.name),
        down: [run(poor(1)), run(poor(2)), run(poor(4)), run(poor(6)), run(poor(20))],
        fairBetweenPoor: run(['poor', 'fair', 'poor']),
        goodBetweenPoor: run(['poor', 'good', 'poor']),
        unknownBetweenPoor: run(['poor', 'unknown', 'poor']),
        up: [run([...poor(6), ...good(2)]), run([...poor(6), ...good(3)]), run([...poor(6), ...good(9)])],
        fairResetsGood: run([...poor(2), 'good', 'good', 'fair', 'good', 'good']),
        encodings: [0, 1, 2, 3].map((i) => m.encodingAt({ maxBitrate: 5, rid: 'x' }, i)),
    };
}"""

# The camera sent to the (only) peer: its encoding as set, what getStats says it sends, and
# what arrives from the peer.
CAMERA = """async () => {
    const session = [...window.visitroomCall.peers.values()][0].session;
    const sender = session.senders.camera;
    const encoding = sender.getParameters().encodings[0];
    const out = { scale: encoding.scaleResolutionDownBy ?? 1, maxBitrate: encoding.maxBitrate ?? null,
        active: encoding.active !== false, captured: sender.track.getSettings().width,
        width: 0, videoSent: 0, audioSent: 0, framesIn: 0, audioIn: 0 };
    (await session.pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') { out.width = s.frameWidth || 0; out.videoSent = s.packetsSent; }
        if (s.type === 'outbound-rtp' && s.kind === 'audio') out.audioSent = s.packetsSent;
        if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesIn = s.framesDecoded;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioIn = s.packetsReceived;
    });
    return out;
}"""


async def _camera_until(page, what: str, check, timeout: float) -> dict:
    """Poll the camera's figures until `check` holds; fail saying `what` was waited for."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check(figures := await page.evaluate(CAMERA)):
        assert asyncio.get_running_loop().time() < deadline, f"waited {timeout} s for {what}; last: {figures}"
        await asyncio.sleep(0.25)
    return figures


def _steps_told(bot: VisitClient) -> list[str]:
    return [m["step"] for m in bot.data if m.get("type") == "video-step"]


async def _told(bot: VisitClient, steps: list[str], timeout: float = 20) -> None:
    """Wait until the bot was told these steps (over a lossy link SCTP resends take a while)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while _steps_told(bot)[-len(steps):] != steps:
        assert asyncio.get_running_loop().time() < deadline, f"waited {timeout} s for {steps}; told {_steps_told(bot)}"
        await asyncio.sleep(0.2)


async def _open(page, link):
    await page.goto(link)
    await page.wait_for_selector("#call-root[data-ready=true]", state="attached")


async def test_the_step_policy_goes_down_after_two_poor_readings_and_up_after_three_good(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        await _open(page, await live.link(await live.visit(), "patient"))
        policy = await page.evaluate(POLICY)
    assert policy["names"] == ["full", "reduced", "low", "audio"]
    assert policy["down"] == [0, 1, 2, 3, 3]  # audio only is the floor
    assert policy["fairBetweenPoor"] == 1 and policy["unknownBetweenPoor"] == 1
    assert policy["goodBetweenPoor"] == 0
    assert policy["up"] == [3, 2, 0]
    assert policy["fairResetsGood"] == 1
    full, reduced, low, audio = policy["encodings"]
    assert full == {"rid": "x", "scaleResolutionDownBy": 1, "active": True}  # the browser's own bitrate
    assert reduced == {"rid": "x", "scaleResolutionDownBy": 2, "active": True, "maxBitrate": 300000}
    assert low["scaleResolutionDownBy"] == 4 and low["maxBitrate"] < reduced["maxBitrate"] and low["active"]
    assert audio["active"] is False


async def test_a_weak_network_steps_the_camera_down_to_audio_only_and_back_without_a_stall(live):
    visit = await live.visit()
    bot = VisitClient(await live.link(visit, "therapist"), admit=True)
    call = asyncio.ensure_future(bot.run(timeout=40, stay=170))
    try:
        async with Chromium() as chromium:
            page = await chromium.page()
            await _open(page, await live.link(visit, "patient"))
            await page.click("[data-testid=join-button]")
            await wait_state(page, "connected", timeout=30000)
            full = await _camera_until(page, "the camera to be sent", lambda f: f["width"] > 0 and f["framesIn"] > 0, 15)
            captured = full["captured"]

            bot.loss = 0.3
            reduced = await _camera_until(page, "the reduced step", lambda f: f["scale"] == 2 and f["width"] <= captured / 2, 30)
            assert reduced["maxBitrate"] == 300000 and reduced["active"]
            warning = page.locator("[data-testid=quality-warning]")
            assert "your video is reduced" in await warning.inner_text()
            low = await _camera_until(page, "the low step", lambda f: f["scale"] == 4 and f["width"] <= captured / 4, 30)
            assert low["active"] and low["maxBitrate"] < 300000
            audio = await _camera_until(page, "audio only", lambda f: not f["active"], 30)
            assert "audio only" in await warning.inner_text()
            await page.wait_for_selector("[data-testid=retry-video]:visible")
            await asyncio.sleep(1.5)  # what is in flight arrives; then no video goes out
            before = await page.evaluate(CAMERA)
            await asyncio.sleep(2.5)
            after = await page.evaluate(CAMERA)
            assert after["videoSent"] == before["videoSent"], (before, after)
            assert after["audioSent"] > before["audioSent"] > audio["audioSent"]  # she is still heard
            assert after["framesIn"] > before["framesIn"] and after["audioIn"] > before["audioIn"]  # and sees and hears
            await _told(bot, ["reduced", "low", "audio"])  # the other side is told
            await screenshot(page, "weak-network-audio-only-1280")
            await page.set_viewport_size({"width": 390, "height": 844})
            await screenshot(page, "weak-network-audio-only-390")
            await page.set_viewport_size({"width": 1280, "height": 800})

            bot.loss = 0.0
            back = await _camera_until(page, "full video again", lambda f: f["scale"] == 1 and f["active"] and f["width"] > captured / 4, 60)
            assert back["maxBitrate"] is None
            await page.wait_for_selector("[data-testid=quality-warning]", state="hidden")
            await _told(bot, ["full"])
            assert page.errors == []
    finally:
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)


async def test_the_page_says_in_plain_words_when_the_other_sides_video_steps_down(live):
    visit = await live.visit()
    bot = VisitClient(await live.link(visit, "therapist"), admit=True)
    call = asyncio.ensure_future(bot.run(timeout=40, stay=60))
    try:
        async with Chromium() as chromium:
            page = await chromium.page(390, 844)
            await _open(page, await live.link(visit, "patient"))
            await page.click("[data-testid=join-button]")
            await wait_state(page, "connected", timeout=30000)
            while not bot.figures.rtt_ms:  # the data channel is open
                assert not call.done(), call.exception()
                await asyncio.sleep(0.1)
            note = page.locator("[data-testid=peer-quality]")
            for step in ("nonsense", "audio", "audio"):
                bot.send_data({"type": "video-step", "step": step})
            await note.wait_for(state="visible")
            assert await note.inner_text() == "Sam Lee's connection is too weak for video: you can still hear them."
            await screenshot(page, "weak-network-other-side-390")
            bot.send_data({"type": "video-step", "step": "reduced"})
            await page.wait_for_selector("[data-testid=peer-quality][data-step=reduced]", state="attached")
            bot.send_data({"type": "video-step", "step": "full"})
            await note.wait_for(state="hidden")
            # A peer toggling fast (or lying) is announced at most once every two seconds.
            await page.wait_for_timeout(2100)
            await page.evaluate("""() => { window.said = [];
                new MutationObserver(() => { const text = document.getElementById("announcer").textContent;
                  if (text) window.said.push(text); })
                .observe(document.getElementById("announcer"), {childList: true, characterData: true, subtree: true}); }""")
            for n in range(20):
                bot.send_data({"type": "video-step", "step": ("audio", "full")[n % 2]})
            await page.wait_for_timeout(3000)
            said = await page.evaluate("window.said")
            assert 1 <= len(said) <= 3, said
            assert page.errors == []
    finally:
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
