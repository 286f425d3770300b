"""The browser's side of translation: an English page fetches no catalog and shows the
message ids; a page that names a catalog shows its translations with values filled in (its
own keys only), in English when the catalog does not come; refusals in the page's words."""

from __future__ import annotations

import asyncio
import json

from tests.browser import Chromium

VIEW = "[data-testid=demo-view]"


async def test_an_english_page_loads_no_catalog_and_shows_the_message_ids(live):
    async with Chromium() as chromium:
        page = await chromium.page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        await page.goto(f"{live.base}/library/exercises/clamshell")
        await page.wait_for_selector(f"{VIEW}[data-ready=true]", state="attached")
        assert any(url.split("?")[0].endswith("/static/js/i18n.js") for url in asked)
        assert not [url for url in asked if "/static/i18n/" in url]
        assert (await page.inner_text(f"{VIEW} .demo-step")).startswith("Step 1 of 3: ")
        assert await page.inner_text(f"{VIEW} [data-demo=play]") == "Play"


async def test_a_page_that_names_a_catalog_shows_its_translations(live):
    catalog = {"Play": "Reproducir", "Step {n} of {count}: {text}": "Paso {n} de {count}: {text}"}
    async with Chromium() as chromium:
        page = await chromium.page()
        # A page of the server's origin whose <html> names a catalog, as base.html does for
        # a language with one (the catalog itself comes from this test).
        await page.route(f"{live.base}/catalog-test", lambda route: route.fulfill(
            content_type="text/html", body='<!doctype html><html lang="xx" '
            'data-catalog="/static/i18n/xx.json"><body></body></html>'))
        await page.route("**/static/i18n/xx.json", lambda route: route.fulfill(
            content_type="application/json", body=json.dumps(catalog)))
        await page.goto(f"{live.base}/catalog-test")
        shown = await page.evaluate("""import("/static/js/i18n.js").then(({ t }) => [
            t("Play"), t("Step {n} of {count}: {text}", { n: 2, count: 3, text: "Lift" }),
            t("Pause"), t("{name} left the call. They can come back.", { name: "Rae" })])""")
        assert shown == ["Reproducir", "Paso 2 de 3: Lift", "Pause",
                         "Rae left the call. They can come back."]


async def _page_with_catalog(chromium, live, catalog_route):
    """A page of the server's origin whose <html> names the catalog `catalog_route` serves."""
    page = await chromium.page()
    await page.route(f"{live.base}/catalog-test", lambda route: route.fulfill(
        content_type="text/html", body='<!doctype html><html lang="xx" '
        'data-catalog="/static/i18n/xx.json"><body></body></html>'))
    await page.route("**/static/i18n/xx.json", catalog_route)
    await page.goto(f"{live.base}/catalog-test")
    return page


async def test_only_the_catalogs_own_messages_and_the_given_values_are_used(live):
    catalog = {"Play": "Reproducir", "Pause": 3}
    async with Chromium() as chromium:
        page = await _page_with_catalog(chromium, live, lambda route: route.fulfill(
            content_type="application/json", body=json.dumps(catalog)))
        shown = await page.evaluate("""import("/static/js/i18n.js").then(({ t }) => [
            t("Play"), t("constructor"), t("toString"), t("Pause"),
            t("{constructor} and {n}", { n: 0 }), t("{hasOwnProperty}", {})])""")
        assert shown == ["Reproducir", "constructor", "toString", "Pause",
                         "{constructor} and 0", "{hasOwnProperty}"]
        assert not page.errors


async def test_a_catalog_that_does_not_come_leaves_the_page_in_english(live):
    never = asyncio.Event()

    async def hang(route):
        await never.wait()

    async with Chromium() as chromium:
        try:
            page = await _page_with_catalog(chromium, live, hang)
            started = asyncio.get_running_loop().time()
            shown = await page.evaluate("""import("/static/js/i18n.js").then(({ t }) =>
                t("Step {n} of {count}: {text}", { n: 1, count: 2, text: "Lift" }))""")
            waited = asyncio.get_running_loop().time() - started
            assert shown == "Step 1 of 2: Lift" and 2.5 < waited < 10
        finally:
            never.set()


async def test_the_connection_check_says_why_a_link_was_refused_in_the_pages_words(live):
    codes = ["revoked", "expired", "link_in_use", "no_visit_session", "bad_origin", "busy",
             "constructor", "something_new"]
    async with Chromium() as chromium:
        page = await _page_with_catalog(chromium, live, lambda route: route.fulfill(
            content_type="application/json", body="{}"))
        await page.route("**/visits/*/echo", lambda route: route.fulfill(
            status=403, content_type="application/json", body=json.dumps({"error": {
                "code": route.request.url.split("/")[-2], "message": "server English"}})))
        said = await page.evaluate("""async (codes) => {
            const { connectionCheck } = await import("/static/js/echo-check.js");
            const out = [];
            for (const code of codes) out.push((await connectionCheck(code, null, 0)).error);
            return out;
        }""", codes)
        assert said == [
            "This visit link no longer opens the visit: it was replaced or withdrawn.",
            "This visit link no longer opens the visit: the visit is over.",
            "This link is in use on another device; ask the clinic for a new link.",
            "Open the visit link first.",
            "This check only serves the clinic's own pages.",
            "The connection check is busy; try again in a minute.",
            "The check is not available.", "The check is not available."]
