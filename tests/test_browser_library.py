"""Exercise demos in the browser: motion, views, mirror, speed, still steps for reduced motion,
the description for screen readers and the opt-in spoken cues."""

from __future__ import annotations

import asyncio

from tests.browser import Chromium, screenshot, wait_until

VIEW = "[data-testid=demo-view]"
BODY = "document.querySelector('[data-testid=demo-view] .demo-body').innerHTML"
# Record what the page asks the browser to say instead of saying it.
SPEECH_SPY = """
window.spoken = [];
if (window.speechSynthesis) {
  window.speechSynthesis.speak = (u) => window.spoken.push(u.text);
  window.speechSynthesis.cancel = () => window.spoken.push('(cancel)');
}
"""


async def _open_demo(page, live, slug):
    await page.goto(f"{live.base}/library/exercises/{slug}")
    await page.wait_for_selector(f"{VIEW}[data-ready=true]", state="attached")


async def _distinct_bodies(page, seconds: float) -> set[str]:
    seen = set()
    for _ in range(int(seconds / 0.05)):
        seen.add(await page.evaluate(BODY))
        await asyncio.sleep(0.05)
    return seen


async def test_the_demo_moves_smoothly_between_poses(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        await _open_demo(page, live, "glute-bridge")
        await page.click("[data-demo=play]")
        assert await page.get_attribute(VIEW, "data-playing") == "true"
        assert len(await _distinct_bodies(page, 2.5)) > 6  # in-between frames
        assert await page.locator(".demo-stills").is_hidden()  # motion is allowed: no still steps
        assert not page.errors
        await screenshot(page, "exercise-glute-bridge-1280")


async def test_reduced_motion_shows_still_steps_with_their_words(live):
    async with Chromium() as chromium:
        page = await chromium.page(reduced_motion="reduce")
        await _open_demo(page, live, "glute-bridge")
        stills = page.locator(".demo-stills li")
        assert await stills.count() == 3 and await page.locator(".demo-stills").is_visible()
        assert "2. Lift your hips" in await stills.nth(1).inner_text()
        assert await stills.nth(1).locator("svg .demo-body path").count() > 10
        await page.click("[data-demo=play]")
        assert len(await _distinct_bodies(page, 2.5)) <= 2  # hook-lying and bridge, nothing between
        await screenshot(page, "exercise-glute-bridge-reduced-motion-1280")


async def test_step_advances_one_keyframe_and_pauses(live):
    async with Chromium() as chromium:
        page = await chromium.page(width=390, height=844)
        await _open_demo(page, live, "cat-cow")
        assert await page.get_attribute(VIEW, "data-step") == "3"
        await page.click("[data-demo=step]")
        assert await page.get_attribute(VIEW, "data-step") == "1"
        assert await page.get_attribute(VIEW, "data-playing") == "false"
        assert "Step 1 of 3" in await page.locator(".demo-step").inner_text()
        assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        await screenshot(page, "exercise-cat-cow-390")


async def test_each_exercise_is_drawn_from_its_view_with_its_props(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        await _open_demo(page, live, "clamshell")  # movement across the body: not from the side
        assert await page.get_attribute(VIEW, "data-view") == "three_quarter"
        await _open_demo(page, live, "hip-flexor-stretch")  # she holds a chair, as the text says
        assert await page.get_attribute(VIEW, "data-view") == "side"
        assert await page.locator(f"{VIEW} .demo-stage .p-chair").count() >= 1
        await _open_demo(page, live, "stairs-one-at-a-time")
        assert await page.locator(f"{VIEW} .demo-stage .p-step").count() == 1
        await screenshot(page, "exercise-stairs-1280")


async def test_mirror_flips_the_figure_for_this_viewer(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        await _open_demo(page, live, "side-lying-leg-lift")
        scene = f"{VIEW} .demo-stage .demo-scene"
        assert await page.get_attribute(scene, "transform") is None
        await page.click("[data-demo=mirror]")
        assert "scale(-1 1)" in (await page.get_attribute(scene, "transform") or "")
        assert await page.get_attribute("[data-demo=mirror]", "aria-pressed") == "true"
        await page.click("[data-demo=mirror]")
        assert await page.get_attribute(scene, "transform") is None


async def test_half_speed_slows_the_movement(live):
    async with Chromium() as chromium:
        steps = {}
        for speed in ("1", "0.5"):
            page = await chromium.page()
            await _open_demo(page, live, "glute-bridge")
            if speed == "0.5":
                await page.click("[data-demo=speed]")
                assert await page.inner_text("[data-demo=speed]") == "Speed 0.5×"
            assert await page.get_attribute(VIEW, "data-speed") == speed
            # The first keyframe moves 1 s then holds 1 s; step 2 starts at 2 s, or 3 s at half speed.
            await page.click("[data-demo=play]")
            await asyncio.sleep(2.5)
            steps[speed] = await page.get_attribute(VIEW, "data-step")
        assert steps == {"1": "2", "0.5": "1"}


async def test_the_demo_is_described_for_screen_readers(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        await _open_demo(page, live, "clamshell")
        text = await page.locator(f"{VIEW} .demo-description").inner_text()
        assert "Clamshell" in text and "Lying on your side" in text and "Step 2: Lift the top knee" in text
        assert "at an angle" in text
        assert await page.get_attribute(f"{VIEW} .demo-stage", "aria-hidden") == "true"
        assert await page.get_attribute(f"{VIEW} .demo-step", "aria-live") == "polite"


async def test_spoken_cues_are_off_until_chosen_then_read_steps_and_count_holds(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        await page.context.add_init_script(SPEECH_SPY)
        await _open_demo(page, live, "adductor-squeeze")  # holds 5 s at step 2
        voice = "[data-demo=voice]"
        assert await page.is_visible(voice) and await page.get_attribute(voice, "aria-pressed") == "false"
        await page.click("[data-demo=play]")
        await asyncio.sleep(1.5)
        assert await page.evaluate("window.spoken.filter(t => t !== '(cancel)')") == []  # opt-in
        await page.click(voice)
        assert await page.get_attribute(voice, "aria-pressed") == "true"
        await wait_until(page, "window.spoken.some(t => t.startsWith('Step 2 of 3.'))", timeout=10)
        await wait_until(page, "window.spoken.includes('3')", timeout=10)  # the hold counted down
        spoken = await page.evaluate("window.spoken")
        assert any(t.startswith("Step 1 of 3. Breathe out") for t in spoken)
        await page.click(voice)
        assert await page.get_attribute(voice, "aria-pressed") == "false"


async def test_a_condition_page_links_each_citation_to_its_source_at_phone_and_desk_widths(live):
    async with Chromium() as chromium:
        for width, height in ((1280, 800), (390, 844)):
            page = await chromium.page(width=width, height=height)
            await page.goto(f"{live.base}/library/perineal-tear-recovery")
            await screenshot(page, f"condition-perineal-tear-recovery-{width}")
            overflow = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            assert not overflow, f"the condition page scrolls sideways at {width}px"
            first = page.locator("sup.cite a").first
            target = await first.get_attribute("href")
            await first.click()
            await wait_until(page, f"location.hash === '{target}'")
            assert await page.evaluate(f"document.querySelector('{target}').matches(':target')")
        page = await chromium.page(width=390, height=844)
        await page.goto(f"{live.base}/library/sciatica")
        await screenshot(page, "condition-sciatica-390")
