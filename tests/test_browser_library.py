"""Exercise demos in the browser: play, step, and still poses for reduced motion."""

from __future__ import annotations

import asyncio

from tests.browser import Chromium, screenshot

TRUNK = "document.querySelector('.demo-trunk').getAttribute('points')"


async def _open_demo(page, live, slug):
    await page.goto(f"{live.base}/library/exercises/{slug}")
    await page.wait_for_selector("[data-testid=demo-view][data-ready=true]", state="attached")


async def _distinct_trunks(page, seconds: float) -> set[str]:
    seen = set()
    for _ in range(int(seconds / 0.05)):
        seen.add(await page.evaluate(TRUNK))
        await asyncio.sleep(0.05)
    return seen


async def test_the_demo_moves_smoothly_between_poses(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        await _open_demo(page, live, "glute-bridge")
        await page.click("[data-demo=play]")
        assert await page.get_attribute("[data-testid=demo-view]", "data-playing") == "true"
        assert len(await _distinct_trunks(page, 2.5)) > 6  # in-between frames
        await screenshot(page, "exercise-glute-bridge-1280")


async def test_reduced_motion_shows_the_poses_as_steps(live):
    async with Chromium() as chromium:
        page = await chromium.page(reduced_motion="reduce")
        await _open_demo(page, live, "glute-bridge")
        await page.click("[data-demo=play]")
        assert len(await _distinct_trunks(page, 2.5)) <= 2  # hook-lying and bridge, nothing between


async def test_step_advances_one_keyframe_and_pauses(live):
    async with Chromium() as chromium:
        page = await chromium.page(width=390, height=844)
        await _open_demo(page, live, "cat-cow")
        view = "[data-testid=demo-view]"
        assert await page.get_attribute(view, "data-step") == "3"
        await page.click("[data-demo=step]")
        assert await page.get_attribute(view, "data-step") == "1"
        assert await page.get_attribute(view, "data-playing") == "false"
        assert "Step 1 of 3" in await page.locator(".demo-step").inner_text()
        assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        await screenshot(page, "exercise-cat-cow-390")
