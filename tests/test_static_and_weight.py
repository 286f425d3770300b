"""Static files: versioned, cached, compressed, confined to web/; and the call page's weight."""

from __future__ import annotations

import gzip
import os
import re

import pytest
from aiohttp import web

from bench.page_weight import TARGET_RAW, measure_call_page
from server.http.static_files import StaticFiles
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
    assert first.content_type == "text/css"
    again = await client.get("/static/css/app.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert again.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize("shape", ['"other", {etag}', "W/{etag}", "*"])
async def test_an_etag_in_a_list_or_weak_or_any_revalidates_with_304(client, shape):
    etag = (await client.get("/static/js/call.js")).headers["ETag"]
    again = await client.get("/static/js/call.js", headers={"If-None-Match": shape.format(etag=etag)})
    assert again.status == 304


async def test_an_unchanged_file_revalidates_with_304_by_date(client):
    first = await client.get("/static/js/call.js")
    since = first.headers["Last-Modified"]
    again = await client.get("/static/js/call.js", headers={"If-Modified-Since": since})
    assert again.status == 304
    older = await client.get("/static/js/call.js",
                             headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert older.status == 200


@pytest.mark.parametrize("headers", [
    {"If-None-Match": '"stale-version"'},
    {"If-None-Match": "garbage, ,"},
    {"If-Modified-Since": "yesterday-ish"},
    # If-None-Match decides when both are sent, however late the date.
    {"If-None-Match": '"other"', "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
])
async def test_a_stale_or_malformed_validator_gets_the_whole_file(client, headers):
    plain = await client.get("/static/js/call.js")
    response = await client.get("/static/js/call.js", headers=headers)
    assert response.status == 200
    assert await response.read() == await plain.read()


async def test_an_edited_file_is_served_new_under_a_new_version(aiohttp_client, tmp_path):
    (tmp_path / "a.js").write_text("export const a = 1;\n")
    files = StaticFiles(tmp_path)
    app = web.Application()
    app.router.add_get("/static/{path:.+}", files.handle)
    client = await aiohttp_client(app)
    first_url = files.url("a.js")
    assert await (await client.get(first_url)).text() == "export const a = 1;\n"
    (tmp_path / "a.js").write_text("export const a = 2;\n")
    stat = (tmp_path / "a.js").stat()
    os.utime(tmp_path / "a.js", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second_url = files.url("a.js")
    assert second_url != first_url
    assert await (await client.get(second_url)).text() == "export const a = 2;\n"
    stale = await client.get(first_url)
    assert stale.headers["Cache-Control"] == "public, max-age=300"
    (tmp_path / "a.js").unlink()
    assert (await client.get(second_url)).status == 404


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


async def test_a_patients_call_page_does_not_load_the_therapists_views(client):
    visit = await make_visit(client)
    weight = await measure_call_page(client, await link_of(client, visit))
    assert "/static/js/call-state.js" in weight["files"]
    assert "/static/js/call-lobby.js" not in weight["files"]
    assert "/static/js/call-library.js" not in weight["files"]
