"""The visit page fits every screen: in each state and at each size nothing overlaps,
nothing is off to the side, and the controls are on screen once the call starts."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.browser import ARTIFACTS, Chromium, wait_state, wait_until

LAYOUT = ARTIFACTS / "layout"
# Desk, small laptop, tablet upright, phone upright, phone on its side, small phone.
SIZES = [(1280, 800), (1024, 768), (768, 1024), (390, 844), (844, 390), (360, 740)]
SLACK = 1.0  # px: sub-pixel rounding

# Rectangles of the page's parts; null for parts that are not shown.
MEASURE = """() => {
  const shown = (el) => {
    if (!el || el.closest('[hidden]')) return false;
    const style = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return style.display !== 'none' && style.visibility !== 'hidden' && r.width > 0 && r.height > 0;
  };
  // The part of the element one can see: its rectangle cut by every scrolling ancestor
  // (a panel that scrolls inside itself shows only what its box holds).
  const box = (el) => {
    if (!shown(el)) return null;
    const r = el.getBoundingClientRect();
    let b = {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const c = up.getBoundingClientRect();
      b = {left: Math.max(b.left, c.left), top: Math.max(b.top, c.top),
           right: Math.min(b.right, c.right), bottom: Math.min(b.bottom, c.bottom)};
    }
    return b.right - b.left > 0 && b.bottom - b.top > 0 ? b : null;
  };
  const q = (s) => document.querySelector(s);
  // Is the element the one a tap at the centre of its visible part reaches (nothing drawn
  // over it)? Parts scrolled out of sight are not judged.
  const reachable = (el) => {
    const b = box(el);
    if (!b) return null;
    const x = (b.left + b.right) / 2, y = (b.top + b.bottom) / 2;
    if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return null;
    const hit = document.elementFromPoint(x, y);
    return !!hit && (hit === el || el.contains(hit));
  };
  const tappable = [...document.querySelectorAll(
      '#controls button, #library-title, #library-search, #demo-area button, #lobby button, #join-button, #assign-form input, #assign-form button')]
    .filter(shown).map((el) => ({name: el.id || el.dataset.testid || el.dataset.demo || el.name || el.textContent.trim(), ok: reachable(el)}));
  return {
    vw: innerWidth, vh: innerHeight, scrollWidth: document.documentElement.scrollWidth,
    parts: {
      video: box(q('#stage')), self: box(q('.self-view')), controls: box(q('#controls')),
      prejoin: box(q('#prejoin')), waiting: box(q('#waiting')), lobby: box(q('#lobby')),
      library: box(q('#library')), demo: box(q('#demo-area')),
    },
    figure: box(q('#demo-area .demo-figure')),
    buttons: [...document.querySelectorAll('#controls button')].filter(shown).map((b) => box(b)),
    // Where each line of each condition link starts: one left edge for all of them.
    conditionLefts: [...document.querySelectorAll('#library-conditions button')].filter(shown).flatMap((b) => {
      const range = document.createRange();
      range.selectNodeContents(b);
      return [...range.getClientRects()].map((r) => Math.round(r.left));
    }),
    tappable,
  };
}"""

SETTLED = "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (min(a["right"], b["right"]) - max(a["left"], b["left"]) > SLACK
            and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > SLACK)


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (inner["left"] >= outer["left"] - SLACK and inner["right"] <= outer["right"] + SLACK
            and inner["top"] >= outer["top"] - SLACK and inner["bottom"] <= outer["bottom"] + SLACK)


def _on_screen(box: dict[str, float], m: dict[str, Any]) -> bool:
    return _inside(box, {"left": 0, "top": 0, "right": m["vw"], "bottom": m["vh"]})


def _problems(m: dict[str, Any], state: str, role: str) -> list[str]:
    """Everything wrong with one measured page, as sentences."""
    found: list[str] = []
    parts = {name: box for name, box in m["parts"].items() if box}
    in_call = "video" in parts
    if m["scrollWidth"] > m["vw"]:
        found.append(f"the page scrolls sideways ({m['scrollWidth']} > {m['vw']})")
    for name, box in parts.items():
        if box["left"] < -SLACK or box["right"] > m["vw"] + SLACK:
            found.append(f"{name} sticks out sideways ({box['left']:.0f}..{box['right']:.0f})")
    names = [n for n in parts if n != "self"]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if _overlap(parts[a], parts[b]):
                found.append(f"{a} and {b} overlap")
    if "self" in parts:
        others = [n for n in names if n != "video"] if in_call else names
        found += [f"the self-view covers {n}" for n in others if _overlap(parts["self"], parts[n])]
        if in_call and not _inside(parts["self"], parts["video"]):
            found.append("the self-view is not inside the video frame")
    found += [f"{t['name']!r} is covered by something" for t in m["tappable"] if t["ok"] is False]
    if len(set(m["conditionLefts"])) > 1:
        found.append(f"condition links are not aligned: {sorted(set(m['conditionLefts']))}")
    if in_call:
        if "controls" not in parts or not _on_screen(parts["controls"], m):
            found.append("the controls are not on screen")
        found += ["a control button is off screen" for b in m["buttons"] if not _on_screen(b, m)]
        if not _on_screen(parts["video"], m):
            found.append("the video is not wholly on screen")
        if role == "therapist" and m["vw"] >= 1024:
            for name in ("library", "demo"):
                if name in parts and parts[name]["left"] < parts["video"]["right"] - SLACK:
                    found.append(f"{name} is not beside the video")
            if "library" in parts and not _on_screen(parts["library"], m):
                found.append("the library panel is not wholly on screen")
        if role == "patient" and "demo" in parts:
            if not _on_screen(parts["demo"], m) or not (m["figure"] and _on_screen(m["figure"], m)):
                found.append("the demo is not wholly on screen with the video")
            if m["vw"] > m["vh"] and parts["demo"]["left"] < parts["video"]["right"] - SLACK:
                found.append("the demo is not beside the video")
    return found


async def _walk(page: Page, state: str, role: str, problems: list[str]) -> None:
    """Measure and photograph the page at every size, then return to the desk size."""
    LAYOUT.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await page.evaluate(SETTLED)
        size = f"{width}" if (width, height) != (844, 390) else "844x390"
        await page.screenshot(path=str(LAYOUT / f"{state}-{role}-{size}.png"))
        measured = await page.evaluate(MEASURE)
        problems += [f"{state}, {role}, {size}: {p}" for p in _problems(measured, state, role)]
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.evaluate(SETTLED)


async def _open(page: Page, link: str) -> None:
    await page.goto(link)
    await page.wait_for_selector("#call-root[data-ready=true]", state="attached")


async def test_the_visit_page_fits_every_screen_in_every_state(live):
    problems: list[str] = []
    async with Chromium() as chromium:
        visit = await live.visit()
        therapist = await chromium.page()
        patient = await chromium.page()
        await _open(therapist, await live.link(visit, "therapist"))
        await _open(patient, await live.link(visit, "patient"))
        await wait_until(patient, "document.getElementById('local-video').videoWidth > 0")
        await _walk(patient, "prejoin", "patient", problems)
        await _walk(therapist, "prejoin", "therapist", problems)

        await therapist.click("[data-testid=join-button]")
        await wait_state(therapist, "waiting")
        await therapist.locator("[data-testid=library-panel] [data-condition]").first.wait_for()
        assert await therapist.locator("#lobby-badge").inner_text() == "0"
        assert not await therapist.locator("#lobby-list").is_visible()  # a badge, not an empty card
        await _walk(therapist, "waiting", "therapist", problems)

        await patient.click("[data-testid=join-button]")
        await patient.wait_for_selector("[data-testid=waiting-room]:visible")
        await therapist.wait_for_selector("[data-testid=admit-button]")
        assert await therapist.locator("#lobby-badge").inner_text() == "1"
        await _walk(patient, "waiting", "patient", problems)
        await _walk(therapist, "lobby", "therapist", problems)

        await therapist.click("[data-testid=admit-button]")
        await wait_state(patient, "connected")
        await wait_state(therapist, "connected")
        await wait_until(patient, "document.querySelector('[data-testid=remote-video]')?.videoWidth > 0")
        await wait_until(therapist, "document.querySelector('[data-testid=remote-video]')?.videoWidth > 0")
        assert not await therapist.locator("#lobby-list").is_visible()  # closed again when nobody waits
        await _walk(patient, "call", "patient", problems)
        await _walk(therapist, "call", "therapist", problems)

        await therapist.fill("#library-search", "upper butt")
        await therapist.click("[data-condition=sacroiliac-joint-dysfunction]")
        await therapist.click("[data-testid=demo-show-button][data-exercise=glute-bridge]")
        await patient.wait_for_selector("[data-testid=demo-view][data-exercise=glute-bridge] .demo-figure")
        await _walk(patient, "demo", "patient", problems)
        await _walk(therapist, "demo", "therapist", problems)

        await therapist.click("[data-testid=assign-button][data-exercise=glute-bridge]")
        await therapist.wait_for_selector("#assign-form:visible")
        await _walk(therapist, "assign", "therapist", problems)
        assert patient.errors == [] and therapist.errors == []
    assert not problems, "\n".join(problems)
