"""The demo inside a call: the therapist's speed reaches the patient; mirror and the spoken
cues stay each viewer's own."""

from __future__ import annotations

from tests.browser import Chromium, screenshot
from tests.test_browser_call import _start_call

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
