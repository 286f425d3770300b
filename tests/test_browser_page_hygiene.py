"""Pages let go of what they no longer use: demo controls, microphone meters, pings of the
connection check, the dashboard's polling while hidden."""

from __future__ import annotations

import asyncio
import json

from tests.browser import Chromium, wait_state, wait_until
from tests.test_browser_call import _open, _start_call

# Counts the audio sources the page has connected and not yet disconnected.
COUNT_AUDIO_SOURCES = """(() => {
  window.liveAudioSources = 0;
  const create = AudioContext.prototype.createMediaStreamSource;
  AudioContext.prototype.createMediaStreamSource = function (stream) {
    const node = create.call(this, stream);
    window.liveAudioSources += 1;
    const disconnect = node.disconnect.bind(node);
    node.disconnect = (...args) => { window.liveAudioSources -= 1; return disconnect(...args); };
    return node;
  };
})();"""

# Counts the half-second timers (the connection check's pings) still running.
COUNT_PING_TIMERS = """(() => {
  window.pingTimers = new Set();
  const set = window.setInterval, clear = window.clearInterval;
  window.setInterval = (fn, ms, ...rest) => {
    const id = set(fn, ms, ...rest);
    if (ms === 500) window.pingTimers.add(id);
    return id;
  };
  window.clearInterval = (id) => { window.pingTimers.delete(id); return clear(id); };
})();"""

# Lets a test hide and show the tab as a person switching tabs would.
VISIBILITY = """(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState",
    { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  window.setTabHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
})();"""


async def test_after_ten_demos_one_click_on_play_sends_one_control_and_runs_one_loop(live):
    async with Chromium() as chromium:
        _, therapist, patient = await _start_call(chromium, live)
        sent: list[dict] = []
        therapist.on("websocket", lambda ws: ws.on(
            "framesent", lambda payload: sent.append(json.loads(payload))))
        # The socket opened before the listener: reopen it so its frames are seen.
        await therapist.evaluate("window.visitroomCall.dropSocket()")
        await wait_state(therapist, "connected")
        await therapist.fill("#library-search", "upper butt")
        await therapist.click("[data-condition=sacroiliac-joint-dysfunction]")
        for _ in range(10):
            await therapist.click("[data-testid=demo-show-button][data-exercise=glute-bridge]")
            await therapist.wait_for_selector("#demo-area [data-testid=demo-view][data-exercise=glute-bridge]",
                                              state="attached")
        await patient.wait_for_selector("[data-testid=demo-view][data-exercise=glute-bridge]", state="attached")
        await asyncio.sleep(0.3)
        sent.clear()
        await therapist.click("#demo-area [data-demo=play]")
        await patient.wait_for_selector("[data-testid=demo-view][data-playing=true]", state="attached")
        await asyncio.sleep(0.5)
        controls = [m for m in sent if m.get("type") == "demo-control"]
        assert len(controls) == 1 and controls[0]["action"] == "play"
        assert await therapist.evaluate("window.visitroomCall.demoLoops()") == 1
        assert await patient.evaluate("window.visitroomCall.demoLoops()") == 1
        await therapist.click("#demo-area [data-demo=play]")  # pause
        await wait_until(therapist, "window.visitroomCall.demoLoops() === 0")


async def test_changing_the_microphone_lets_go_of_the_old_meter(live):
    visit = await live.visit()
    async with Chromium() as chromium:
        page = await chromium.page()
        await page.add_init_script(COUNT_AUDIO_SOURCES)
        await _open(page, await live.link(visit, "patient"))
        assert await page.evaluate("window.liveAudioSources") == 1
        for _ in range(3):
            await page.dispatch_event("#pick-microphone", "change")
            await asyncio.sleep(0.4)
        assert await page.evaluate("window.liveAudioSources") == 1


async def test_the_connection_check_stops_its_pings_when_it_succeeds_or_fails(live):
    visit = await live.visit()
    async with Chromium() as chromium:
        page = await chromium.page()
        await page.add_init_script(COUNT_PING_TIMERS)
        await _open(page, await live.link(visit, "patient"))
        await page.click("#check-connection")
        await page.wait_for_selector("#check-result[data-grade=good]", state="attached", timeout=20000)
        assert await page.evaluate("window.pingTimers.size") == 0
        # The server goes away mid-check: the page says so and stops.
        await page.route("**/echo", lambda route: route.abort())
        await page.click("#check-connection")
        await page.wait_for_selector("#check-result[data-grade=unknown]", state="attached", timeout=20000)
        assert "could not run" in await page.inner_text("#check-result")
        assert await page.evaluate("window.pingTimers.size") == 0


async def test_the_dashboard_stops_polling_while_its_tab_is_hidden(live):
    from server.auth.passwords import hash_password
    from server.keys import DB
    from server.storage.users import create_user

    async with live.app[DB].transaction() as conn:
        await create_user(conn, email="rae@clinic.test", name="Rae Kim", role="therapist",
                          password_hash=hash_password("therapist-pass-1"), now=0)
    await live.visit(therapist_name=None, therapist_email="rae@clinic.test")
    async with Chromium() as chromium:
        page = await chromium.page()
        await page.add_init_script(VISIBILITY)
        polls: list[float] = []
        page.on("request", lambda r: polls.append(asyncio.get_running_loop().time())
                if r.url.endswith("/admin/live.json") else None)
        await page.goto(live.base + "/login")
        await page.fill("input[name=email]", "rae@clinic.test")
        await page.fill("input[name=password]", "therapist-pass-1")
        await page.click("button[type=submit]")
        await wait_until(page, "!!document.querySelector('[data-live-status]')")
        await asyncio.sleep(0.5)
        await page.evaluate("window.setTabHidden(true)")
        hidden_at = len(polls)
        await asyncio.sleep(5)  # longer than one polling interval
        assert len(polls) == hidden_at
        await page.evaluate("window.setTabHidden(false)")
        await asyncio.sleep(0.5)
        assert len(polls) == hidden_at + 1  # at once when shown again
