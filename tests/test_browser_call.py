"""The visit in real headless Chromium: pre-join, waiting room, call, recovery, ending."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import (
    Chromium,
    outbound_packets,
    remote_video_playing,
    screenshot,
    state_of,
    wait_state,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent


async def _open(page, link):
    await page.goto(link)
    await page.wait_for_selector("#call-root[data-ready=true]", state="attached")


async def _join(page, link):
    await _open(page, link)
    await page.click("[data-testid=join-button]")


async def _start_call(chromium, live, **visit_fields):
    """Therapist and patient pages, admitted and connected."""
    visit = await live.visit(**visit_fields)
    therapist = await chromium.page()
    patient = await chromium.page()
    await _join(therapist, await live.link(visit, "therapist"))
    await wait_state(therapist, "waiting")
    await _join(patient, await live.link(visit, "patient"))
    await patient.wait_for_selector("[data-testid=waiting-room]:visible")
    admit = therapist.locator(f"[data-testid=admit-button][data-participant={visit.participant('patient').id}]")
    await admit.click()
    await wait_state(patient, "connected")
    await wait_state(therapist, "connected")
    return visit, therapist, patient


async def test_patient_and_therapist_meet_and_see_each_other(live):
    async with Chromium() as chromium:
        visit = await live.visit()
        therapist = await chromium.page()
        patient = await chromium.page()
        await _open(therapist, await live.link(visit, "therapist"))
        await _open(patient, await live.link(visit, "patient"))
        assert await state_of(patient) == "prejoin"
        await wait_until(patient, "document.getElementById('local-video').videoWidth > 0")
        await screenshot(patient, "prejoin-1280")
        await therapist.click("[data-testid=join-button]")
        await wait_state(therapist, "waiting")
        await patient.click("[data-testid=join-button]")
        await patient.wait_for_selector("[data-testid=waiting-room]:visible")
        assert await state_of(patient) == "waiting"
        await therapist.wait_for_selector("[data-testid=admit-button]")
        assert await therapist.locator("#lobby-badge").inner_text() == "1"
        await screenshot(patient, "waiting-room-1280")
        await screenshot(therapist, "therapist-lobby-1280")
        await therapist.click(f"[data-testid=admit-button][data-participant={visit.participant('patient').id}]")
        await wait_state(patient, "connected")
        await wait_state(therapist, "connected")
        assert await remote_video_playing(patient)
        assert await remote_video_playing(therapist)
        await therapist.wait_for_selector("[data-testid=quality-indicator]:visible")
        await wait_until(therapist, "['good', 'fair', 'poor'].includes(document.querySelector('[data-testid=quality-indicator]').dataset.quality)")
        await screenshot(patient, "call-patient-1280")
        await screenshot(therapist, "call-therapist-1280")
        assert patient.errors == [] and therapist.errors == []


async def test_the_connection_check_grades_the_network(live):
    async with Chromium() as chromium:
        visit = await live.visit()
        page = await chromium.page()
        await _open(page, await live.link(visit, "patient"))
        await page.click("#check-connection")
        result = page.locator("#check-result")
        await page.wait_for_selector("#check-result[data-grade]", state="attached", timeout=20000)
        assert await result.get_attribute("data-grade") == "good"  # loopback
        assert "round trip" in await result.inner_text()


async def test_mute_stops_the_outgoing_audio(live):
    async with Chromium() as chromium:
        _, therapist, patient = await _start_call(chromium, live)
        before = await outbound_packets(patient, "audio")
        await asyncio.sleep(0.5)
        assert await outbound_packets(patient, "audio") > before  # audio flows while unmuted
        await patient.click("[data-testid=mute-button]")
        assert await patient.get_attribute("[data-testid=mute-button]", "aria-pressed") == "true"
        await asyncio.sleep(0.5)
        muted_at = await outbound_packets(patient, "audio")
        await asyncio.sleep(1.0)
        assert await outbound_packets(patient, "audio") == muted_at
        await patient.click("[data-testid=mute-button]")
        await asyncio.sleep(1.0)
        assert await outbound_packets(patient, "audio") > muted_at


async def test_camera_off_stops_the_outgoing_video(live):
    async with Chromium() as chromium:
        _, therapist, patient = await _start_call(chromium, live)
        await patient.click("[data-testid=camera-button]")
        assert await patient.get_attribute("[data-testid=camera-button]", "aria-pressed") == "true"
        await asyncio.sleep(0.5)
        off_at = await outbound_packets(patient, "video")
        await asyncio.sleep(1.0)
        assert await outbound_packets(patient, "video") == off_at
        assert await patient.locator("#no-camera").is_visible()


async def test_leaving_is_not_ending_and_the_patient_can_rejoin(live):
    async with Chromium() as chromium:
        _, therapist, patient = await _start_call(chromium, live)
        await patient.click("[data-testid=leave-button]")
        await patient.wait_for_selector("#left:visible")
        await wait_state(therapist, "waiting")
        assert await therapist.locator("#alone").is_visible()
        await patient.click("#rejoin-button")
        await wait_state(patient, "connected")
        await wait_state(therapist, "connected")
        assert not await patient.locator("[data-testid=waiting-room]").is_visible()
        assert await remote_video_playing(therapist)


async def test_a_reload_returns_to_the_call_without_the_waiting_room(live):
    async with Chromium() as chromium:
        _, therapist, patient = await _start_call(chromium, live)
        await patient.reload()
        await wait_state(patient, "connected")
        await wait_state(therapist, "connected")
        assert await remote_video_playing(patient)
        assert await remote_video_playing(therapist)


async def test_the_call_recovers_when_the_websocket_drops(live):
    async with Chromium() as chromium:
        _, therapist, patient = await _start_call(chromium, live)
        await patient.evaluate("window.visitroomCall.dropSocket()")
        await wait_state(patient, "reconnecting", timeout=5000)
        await wait_state(patient, "connected")
        await wait_state(therapist, "connected")
        assert await remote_video_playing(patient)


async def test_the_call_recovers_after_a_server_restart(live_config):
    from tests.live import start_live_server

    live = await start_live_server(live_config)
    try:
        async with Chromium() as chromium:
            _, therapist, patient = await _start_call(chromium, live)
            await live.close()
            await wait_state(patient, "reconnecting", timeout=10000)
            live = await start_live_server(live_config)
            await wait_state(patient, "connected", timeout=25000)
            await wait_state(therapist, "connected", timeout=25000)
            assert await remote_video_playing(patient)
    finally:
        await live.close()


async def test_the_therapist_ends_the_visit_for_both(live):
    async with Chromium() as chromium:
        visit, therapist, patient = await _start_call(chromium, live)
        await therapist.click("[data-testid=end-visit-button]")
        await wait_state(patient, "ended")
        await wait_state(therapist, "ended")
        assert await patient.locator("#ended:visible").inner_text()
        await screenshot(patient, "ended-1280")
        await patient.reload()  # the visit page now leads to her home program
        await patient.wait_for_selector("[data-testid=home-program]")
        assert "This visit has ended" in await patient.content()


async def test_a_denied_patient_sees_a_clear_page(live):
    async with Chromium() as chromium:
        visit = await live.visit()
        therapist = await chromium.page()
        patient = await chromium.page()
        await _join(therapist, await live.link(visit, "therapist"))
        await _join(patient, await live.link(visit, "patient"))
        await therapist.click(f"[data-testid=deny-button][data-participant={visit.participant('patient').id}]")
        await patient.wait_for_selector("#denied:visible")
        assert await state_of(patient) == "ended"
        await screenshot(patient, "denied-1280")


async def test_blocked_camera_shows_guidance_and_joining_without_media_works(live):
    visit = await live.visit()
    async with Chromium(grant_media=False) as blocked, Chromium() as granted:
        patient = await blocked.page()
        await _open(patient, await live.link(visit, "patient"))
        help_box = patient.locator("#permission-help")
        await help_box.wait_for(state="visible")
        text = await help_box.inner_text()
        assert "blocked" in text and "Safari" in text and "Firefox" in text and "Chrome" in text
        assert "without camera or microphone" in await patient.locator("[data-testid=join-button]").inner_text()
        await screenshot(patient, "permission-blocked-1280")
        therapist = await granted.page()
        await _join(therapist, await live.link(visit, "therapist"))
        await patient.click("[data-testid=join-button]")
        await therapist.click("[data-testid=admit-button]")
        await wait_state(patient, "connected")
        await wait_state(therapist, "connected")
        assert await remote_video_playing(patient)  # she still sees her therapist


def _bot(link: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "bot", link, "--loopback", "--json",
                           "--timeout", "40", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("bot_role", ["therapist", "patient"])
async def test_a_browser_and_the_aiortc_bot_meet(live, bot_role):
    visit = await live.visit()
    browser_role = "patient" if bot_role == "therapist" else "therapist"
    async with Chromium() as chromium:
        page = await chromium.page()
        loop = asyncio.get_running_loop()
        extra = ("--admit", "--stay", "3") if bot_role == "therapist" else ("--stay", "3")
        if bot_role == "patient":
            await _join(page, await live.link(visit, browser_role))
        bot = loop.run_in_executor(None, _bot, await live.link(visit, bot_role), *extra)
        if bot_role == "therapist":
            await _join(page, await live.link(visit, browser_role))
        else:
            await page.click("[data-testid=admit-button]")
        await wait_state(page, "connected", timeout=30000)
        assert await remote_video_playing(page)
        result = await bot
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        assert figures["role"] == bot_role and figures["rtt_ms"] is not None


@pytest.mark.parametrize("width", [1280, 390])
async def test_screenshots_of_every_page(live, width):
    from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

    visit = await live.visit()
    async with Chromium() as chromium:
        page = await chromium.page(width=width, height=844 if width < 500 else 800)
        await _open(page, await live.link(visit, "patient"))
        await wait_until(page, "document.getElementById('local-video').videoWidth > 0")
        await screenshot(page, f"prejoin-{width}")
        therapist = await chromium.page(width=width, height=844 if width < 500 else 800)
        await _join(therapist, await live.link(visit, "therapist"))
        await page.click("[data-testid=join-button]")
        await page.wait_for_selector("[data-testid=waiting-room]:visible")
        await screenshot(page, f"waiting-room-{width}")
        await therapist.click("[data-testid=admit-button]")
        await wait_state(page, "connected")
        assert await remote_video_playing(page)
        await screenshot(page, f"call-patient-{width}")
        await screenshot(therapist, f"call-therapist-{width}")
        staff = await chromium.page(width=width, height=844 if width < 500 else 800)
        for path, name in (("/", "home"), ("/login", "login")):
            await staff.goto(live.base + path)
            await screenshot(staff, f"{name}-{width}")
        await staff.fill("input[name=email]", ADMIN_EMAIL)
        await staff.fill("input[name=password]", ADMIN_PASSWORD)
        await staff.click("button[type=submit]")
        for path, name in (("/admin", "dashboard"), ("/admin/visits/new", "visit-new"),
                           (f"/admin/visits/{visit.id}", "visit-detail"),
                           ("/admin/therapists", "therapists"), ("/admin/api-keys", "api-keys"),
                           ("/admin/events", "audit-log")):
            await staff.goto(live.base + path)
            await screenshot(staff, f"{name}-{width}")
            overflow = await staff.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            assert not overflow, f"{path} scrolls sideways at {width}px"


async def test_the_therapist_dashboard_shows_live_status_and_opens_the_call(live):
    from server.auth.passwords import hash_password
    from server.keys import DB
    from server.storage.users import create_user

    async with live.app[DB].transaction() as conn:
        await create_user(conn, email="rae@clinic.test", name="Rae Kim", role="therapist",
                          password_hash=hash_password("therapist-pass-1"), now=0)
    visit = await live.visit(therapist_name=None, therapist_email="rae@clinic.test")
    async with Chromium() as chromium:
        dashboard = await chromium.page()
        await dashboard.goto(live.base + "/login")
        await dashboard.fill("input[name=email]", "rae@clinic.test")
        await dashboard.fill("input[name=password]", "therapist-pass-1")
        await dashboard.click("button[type=submit]")
        status = dashboard.locator(f"[data-testid=visit-status][data-visit={visit.id}]")
        assert (await status.inner_text()).strip() == "scheduled"
        patient = await chromium.page()
        await _join(patient, await live.link(visit, "patient"))
        await dashboard.wait_for_selector(f"[data-testid=visit-status][data-visit={visit.id}][data-state=waiting]",
                                          state="attached", timeout=10000)
        assert await status.inner_text() == "patient waiting"
        await screenshot(dashboard, "dashboard-live-1280")
        await dashboard.set_viewport_size({"width": 390, "height": 844})  # her phone
        await screenshot(dashboard, "dashboard-live-390")
        assert not await dashboard.evaluate(
            "document.documentElement.scrollWidth > window.innerWidth"), "scrolls sideways"
        await dashboard.set_viewport_size({"width": 1280, "height": 800})
        await dashboard.click("text=Open call")
        await dashboard.wait_for_selector("#call-root[data-ready=true]", state="attached")
        assert await dashboard.get_attribute("#call-root", "data-role") == "therapist"


async def test_the_visit_page_works_by_keyboard_at_360_px(live):
    visit = await live.visit()
    async with Chromium() as chromium:
        therapist = await chromium.page()
        await _join(therapist, await live.link(visit, "therapist"))
        page = await chromium.page(width=360, height=740)
        await _open(page, await live.link(visit, "patient"))
        assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        unnamed = await page.evaluate("""[...document.querySelectorAll('button')]
            .filter(b => !b.hidden && !(b.getAttribute('aria-label') || b.textContent.trim())).length""")
        assert unnamed == 0
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement?.dataset.testid === 'join-button'"):
                break
        else:
            raise AssertionError("the join button cannot be reached with Tab")
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # focus is visible
        await page.keyboard.press("Enter")
        await wait_state(page, "waiting")
        await therapist.click("[data-testid=admit-button]")
        await wait_state(page, "connected")
        assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        await screenshot(page, "call-patient-360")
        assert await page.locator("#announcer[aria-live=polite]").count() == 1


async def test_the_therapist_shows_a_demo_and_the_patient_keeps_the_program(live):
    async with Chromium() as chromium:
        visit, therapist, patient = await _start_call(chromium, live)
        panel = therapist.locator("[data-testid=library-panel]")
        await panel.wait_for(state="visible")
        await therapist.fill("#library-search", "upper butt")
        await therapist.click("[data-condition=sacroiliac-joint-dysfunction]")
        await therapist.click("[data-testid=demo-show-button][data-exercise=glute-bridge]")
        view = "[data-testid=demo-view][data-exercise=glute-bridge]"
        await patient.wait_for_selector(view, state="attached")
        assert await patient.get_attribute(view, "data-step") == "1"
        await therapist.click("#demo-area [data-demo=step]")
        await patient.wait_for_selector(f"{view}[data-step='2'][data-playing=false]", state="attached")
        await therapist.click("#demo-area [data-demo=play]")
        await patient.wait_for_selector(f"{view}[data-playing=true]", state="attached")
        await screenshot(patient, "demo-patient-1280")
        await screenshot(therapist, "demo-therapist-1280")
        await therapist.click("#demo-area [data-demo=play]")  # pause
        await patient.wait_for_selector(f"{view}[data-playing=false]", state="attached")
        await patient.click("#demo-minimise")
        assert not await patient.locator(view).is_visible()
        # Assign two exercises with a dosage and a note.
        await therapist.click("[data-testid=assign-button][data-exercise=glute-bridge]")
        await therapist.fill("#assign-form input[name=reps]", "12")
        await therapist.fill("#assign-form input[name=note]", "Slowly on the way down")
        await therapist.click("#assign-save")
        await therapist.click("[data-testid=assign-button][data-exercise=clamshell]")
        await therapist.click("#assign-save")
        await therapist.wait_for_selector("[data-testid=assigned-list] li[data-exercise=clamshell]", state="attached")
        await therapist.click("[data-testid=end-visit-button]")
        await wait_state(patient, "ended")
        await patient.click("[data-testid=program-link]")
        await patient.wait_for_selector("[data-testid=home-program]")
        items = patient.locator("[data-testid=program-item]")
        assert await items.count() == 2
        first = await items.first.inner_text()
        assert "Glute bridge" in first and "2 × 12" in first and "Slowly on the way down" in first
        await patient.wait_for_selector("[data-testid=program-demo][data-ready=true]", state="attached")
        await screenshot(patient, "home-program-1280")
        await patient.emulate_media(media="print")
        await screenshot(patient, "home-program-print")
        assert not await patient.locator("#print-program").is_visible()
