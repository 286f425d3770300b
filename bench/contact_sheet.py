"""Contact sheets of the exercise demos, for review: every keyframe of every exercise, in
each view the exercise uses, one PNG per condition in tests/artifacts/demos/.

    python -m bench.contact_sheet [--out DIR] [--library DIR] [--only SLUG ...] [--views side,front,...]

`--only` draws just those exercises (one sheet, `preview.png`); `--views` draws every
exercise in those views as well, to choose the view that shows the movement best.

Draws with the browser's own renderer (web/js/demo.js) in headless Chromium, straight from
the content files: no server is started. Exercises no condition lists go on `unlisted.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
from pathlib import Path
from typing import Any

from playwright.async_api import Route, async_playwright

from server.library.loader import LIBRARY_DIR, load_library
from server.library.model import Library
from server.views.library import exercise_json

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
OUT = ROOT / "tests" / "artifacts" / "demos"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ORIGIN = "http://contact-sheet.invalid"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/css/app.css"><link rel="stylesheet" href="/static/css/demo.css">
<style>body{margin:16px;font:14px system-ui,sans-serif;background:#fff}h1{font-size:20px;margin:0 0 8px}
h2{font-size:15px;margin:14px 0 4px}.row{display:grid;grid-template-columns:repeat(4,300px);gap:10px}
figure{margin:0}figcaption{font-size:11px;color:#333;line-height:1.25}</style></head>
<body><main id="sheet"></main><script type="module" src="/sheet.js"></script></body></html>"""
SCRIPT = """import { still } from "/static/js/demo.js";
window.drawSheet = (title, exercises, extra = []) => {
  const main = document.getElementById("sheet");
  const esc = (t) => t.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  let html = `<h1>${esc(title)}</h1>`;
  for (const e of exercises) {
    const views = [...new Set([e.view, ...e.demo.map((f) => f.view).filter(Boolean), ...extra])];
    for (const view of views) {
      html += `<h2>${esc(e.name)} (${esc(e.slug)}), ${view} view${e.props.length ? ", props: " + e.props.map((p) => p.name).join(", ") : ""}</h2><div class="row">`;
      e.demo.forEach((f, i) => {
        const cap = `demo[${i}] ${f.pose}${f.highlight ? " · " + f.highlight : ""} · step ${f.step}: ${e.steps[f.step - 1]}`;
        html += `<figure>${still(e, { ...f, view })}<figcaption>${esc(cap)}</figcaption></figure>`;
      });
      html += "</div>";
    }
  }
  main.innerHTML = html;
  return main.querySelectorAll("svg").length;
};
window.sheetReady = true;
"""


def sheets(library: Library, only: list[str] | None = None) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Sheet file stem → (title, exercises as the renderer gets them), one per condition."""
    out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    if only:
        return {"preview": ("Preview", [exercise_json(library, library.exercises[s]) for s in only])}
    listed: set[str] = set()
    for condition in library.ordered_conditions():
        exercises = [exercise_json(library, library.exercises[s]) for s in condition.exercises]
        out[condition.slug] = (condition.name, exercises)
        listed.update(condition.exercises)
    rest = [exercise_json(library, e) for s, e in sorted(library.exercises.items()) if s not in listed]
    if rest:
        out["unlisted"] = ("Exercises no condition lists", rest)
    return out


async def render(library: Library, out: Path = OUT, *, only: list[str] | None = None,
                 views: list[str] | None = None) -> list[Path]:
    """Write one PNG per condition; the paths written."""
    out.mkdir(parents=True, exist_ok=True)

    async def serve(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if path == "/":
            await route.fulfill(body=PAGE, content_type="text/html")
        elif path == "/sheet.js":
            await route.fulfill(body=SCRIPT, content_type="text/javascript")
        elif path.startswith("/static/") and ".." not in path and (WEB / path[8:]).is_file():
            file = WEB / path[8:]
            await route.fulfill(body=file.read_bytes(), content_type=mimetypes.guess_type(file.name)[0]
                                or "text/plain")
        else:
            await route.fulfill(status=404, body="")

    written = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.route(f"{ORIGIN}/**", serve)
            await page.goto(f"{ORIGIN}/")
            await page.wait_for_function("window.sheetReady === true")
            for stem, (title, exercises) in sheets(library, only).items():
                drawn = await page.evaluate("([t, e, v]) => window.drawSheet(t, e, v)",
                                            [title, json.loads(json.dumps(exercises)), views or []])
                if errors or not drawn:
                    raise RuntimeError(f"{stem}: the renderer failed: {errors or 'nothing drawn'}")
                target = out / f"{stem}.png"
                await page.screenshot(path=str(target), full_page=True)
                written.append(target)
        finally:
            await browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG sheets")
    parser.add_argument("--library", type=Path, default=LIBRARY_DIR, help="folder of the library's content")
    parser.add_argument("--only", nargs="+", metavar="SLUG", help="draw only these exercises, on preview.png")
    parser.add_argument("--views", type=lambda v: v.split(","), help="also draw every exercise in these views")
    args = parser.parse_args()
    library = load_library(args.library)
    unknown = [s for s in args.only or [] if s not in library.exercises]
    if unknown:
        parser.error(f"no such exercise: {', '.join(unknown)}")
    for path in asyncio.run(render(library, args.out, only=args.only, views=args.views)):
        print(path)


if __name__ == "__main__":
    main()
