"""Static files: versioned, cached, compressed, confined to web/; and the call page's weight."""

from __future__ import annotations

import gzip
import re

from bench.page_weight import TARGET_RAW, measure_call_page
from tests.helpers import link_of, make_visit


async def _versioned_url(client, name: str) -> str:
    visit = await make_visit(client)
    html = await (await client.get(await link_of(client, visit))).text()
    match = re.search(rf'"(/static/{re.escape(name)}\?v=[0-9a-f]+)"', html)
    assert match, html
    return match.group(1)


async def test_versioned_static_files_are_cached_for_a_year(client):
    url = await _versioned_url(client, "js/call.js")
    response = await client.get(url)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.content_type == "text/javascript"
    unversioned = await client.get("/static/js/call.js")
    assert unversioned.headers["Cache-Control"] == "public, max-age=300"


async def test_static_files_are_served_gzipped_to_browsers_that_accept_it(client):
    response = await client.get("/static/js/call.js", headers={"Accept-Encoding": "gzip"},
                                auto_decompress=False)
    assert response.headers["Content-Encoding"] == "gzip"
    packed = await response.read()
    plain = await (await client.get("/static/js/call.js", headers={"Accept-Encoding": "identity"})).read()
    assert gzip.decompress(packed) == plain and len(packed) < len(plain)


async def test_an_unchanged_file_revalidates_with_304(client):
    first = await client.get("/static/css/app.css")
    again = await client.get("/static/css/app.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304


async def test_pages_are_served_compressed(client):
    response = await client.get("/login", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert response.headers.get("Content-Encoding") == "gzip"


async def test_hidden_and_unknown_files_are_not_served(client):
    for path in ("/static/.hidden", "/static/js/", "/static/js/nothing.js", "/static/js/call.py"):
        assert (await client.get(path)).status == 404


async def test_the_call_page_loads_under_100_kb(client):
    visit = await make_visit(client)
    weight = await measure_call_page(client, await link_of(client, visit))
    assert "/static/js/negotiation.js" in weight["files"]  # imports were followed
    assert weight["raw_bytes"] <= TARGET_RAW
    assert weight["compressed_bytes"] < weight["raw_bytes"]
