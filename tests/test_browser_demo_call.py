"""The demo inside a call: the therapist's speed reaches the patient; mirror and the spoken
cues stay each viewer's own; the lazily loaded renderer loses no control and fails politely."""

from __future__ import annotations

import asyncio

from tests.browser import Chromium, screenshot, wait_state, wait_until
from tests.test_browser_call import _join, _start_call

VIEW = "#demo-area [data-testid=demo-view][data-exercise=clamshell]"


async def test_speed_is_shared_and_mirror_and_voice_are_the_patients_own(live):
    async with Chromium() as chromium:
        _, therapist, patient = await _start_call(chromium, live)
        await therapist.locator("[data-testid=library-panel]").wait_for(state="visible")
        await therapist.fill("#library-search", "upper butt")
        await therapist.click("[data-condition=sacroiliac-joint-dysfunction]")
        await therapist.click("[data-testid=demo-show-button][data-exercise=clamshell]")
        await patient.wait_for_selector(VIEW, state="attached")
        # The patient follows; she has no play, step or speed of her own, but mirror and voice.
        assert await patient.locator("#demo-area [data-demo=play]").count() == 0
        assert await patient.locator("#demo-area [data-demo=speed]").count() == 0
        assert await patient.is_visible("#demo-area [data-demo=voice]")
        assert await therapist.locator("#demo-area [data-demo=voice]").count() == 0
        await therapist.click("#demo-area [data-demo=speed]")
        await patient.wait_for_selector(f"{VIEW}[data-speed='0.5']", state="attached")
        await therapist.click("#demo-area [data-demo=play]")
        await patient.wait_for_selector(f"{VIEW}[data-playing=true][data-speed='0.5']", state="attached")
        await patient.click("#demo-area [data-demo=mirror]")
        await patient.wait_for_selector(f"{VIEW}[data-mirror=true]", state="attached")
        assert await therapist.get_attribute("#demo-area [data-testid=demo-view]", "data-mirror") == "false"
        assert await patient.get_attribute(VIEW, "data-view") == "three_quarter"
        await screenshot(patient, "demo-patient-clamshell-1280")
        await therapist.click("#demo-area [data-demo=speed]")
        await patient.wait_for_selector(f"{VIEW}[data-speed='1'][data-playing=true]", state="attached")
        assert not patient.errors and not therapist.errors


async def _call_with_patient_routes(chromium, live, pattern, handler):
    """Therapist and patient in a call, the patient's requests for `pattern` going to
    `handler` from the start (the renderer preloads once she is admitted)."""
    visit = await live.visit()
    therapist, patient = await chromium.page(), await chromium.page()
    await patient.route(pattern, handler)
    await _join(therapist, await live.link(visit, "therapist"))
    await wait_state(therapist, "waiting")
    await _join(patient, await live.link(visit, "patient"))
    await patient.wait_for_selector("[data-testid=waiting-room]:visible")
    await therapist.click(f"[data-testid=admit-button][data-participant={visit.participant('patient').id}]")
    await wait_state(patient, "connected")
    await wait_state(therapist, "connected")
    return therapist, patient


async def _show_clamshell(therapist):
    await therapist.locator("[data-testid=library-panel]").wait_for(state="visible")
    await therapist.fill("#library-search", "upper butt")
    await therapist.click("[data-condition=sacroiliac-joint-dysfunction]")
    await therapist.click("[data-testid=demo-show-button][data-exercise=clamshell]")


async def test_a_control_that_comes_while_the_renderer_loads_is_applied_once_it_is_mounted(live):
    released = asyncio.Event()

    async def hold(route):
        await released.wait()
        await route.continue_()

    async with Chromium() as chromium:
        try:
            therapist, patient = await _call_with_patient_routes(
                chromium, live, "**/static/js/demo.js*", hold)
            await _show_clamshell(therapist)
            await therapist.wait_for_selector(f"{VIEW}[data-step='1']", state="attached")
            await therapist.click("#demo-area [data-demo=step]")
            await therapist.wait_for_selector(f"{VIEW}[data-step='2']", state="attached")
            # The patient's renderer is still loading when the show and the step reach her.
            await wait_until(
                patient, "window.visitroomCall.trace.some((l) => l.endsWith(' in demo-control'))")
            assert await patient.locator(VIEW).count() == 0
        finally:
            released.set()
        await patient.wait_for_selector(f"{VIEW}[data-step='2']", state="attached")
        assert not patient.errors and not therapist.errors


async def test_a_renderer_that_does_not_load_is_said_so_where_the_demo_would_be(live):
    async with Chromium() as chromium:
        therapist, patient = await _call_with_patient_routes(
            chromium, live, "**/static/js/demo.js*", lambda route: route.abort())
        await _show_clamshell(therapist)
        await therapist.wait_for_selector(VIEW, state="attached")
        await patient.wait_for_selector("#demo-area[data-failed=true]:visible")
        assert await patient.inner_text("#demo-area .demo-step") == "The exercise could not be shown."
        assert not patient.errors and not therapist.errors  # no unhandled rejection


async def test_a_demo_hidden_while_its_renderer_loads_stays_hidden(live):
    released, asked = asyncio.Event(), []

    async def hold(route):
        asked.append(route.request.url)
        await released.wait()
        await route.continue_()

    async with Chromium() as chromium:
        try:
            therapist, patient = await _call_with_patient_routes(
                chromium, live, "**/static/js/demo.js*", hold)
            await _show_clamshell(therapist)
            await therapist.wait_for_selector(VIEW, state="attached")
            await therapist.click("#demo-hide")
            await wait_until(
                patient, "window.visitroomCall.trace.some((l) => l.endsWith(' in demo-control'))")
        finally:
            released.set()
        # Once the renderer is in (the same module the page asked for), the show() that the
        # hide overtook has finished; give its last awaits a moment, then it must not show.
        await patient.evaluate("""async (url) => { await import(url);
            await new Promise((resolve) => setTimeout(resolve, 300)); }""", asked[0])
        assert await patient.is_hidden("#demo-area")
        assert await patient.locator(VIEW).count() == 0
        assert not patient.errors and not therapist.errors
