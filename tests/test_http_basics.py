"""What every response carries: security headers, readable errors, health."""

from __future__ import annotations

from aiohttp import web

from server.app import create_app
from tests.helpers import make_visit


async def _all_kinds_of_response(client):
    visit = await make_visit(client)
    return [
        await client.get("/"),
        await client.get("/login"),
        await client.get("/healthz"),
        await client.get("/nowhere"),
        await client.get("/api/nowhere"),
        await client.get("/static/css/app.css"),
        await client.get(f"/visits/{visit.id}"),
        await client.get(f"/join/{visit.id}?token=bad"),
    ]


async def test_every_response_carries_the_security_headers(client):
    for response in await _all_kinds_of_response(client):
        csp = response.headers["Content-Security-Policy"]
        script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_src and "'self'" in script_src
        assert "frame-ancestors 'none'" in csp
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Permissions-Policy"]
        assert "camera=(self)" in policy and "microphone=(self)" in policy
        assert "display-capture=(self)" in policy and "geolocation=()" in policy


async def test_unknown_page_is_a_readable_html_404(client):
    response = await client.get("/nowhere")
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "Page not found" in await response.text()


async def test_unknown_api_route_is_a_json_404(client):
    response = await client.get("/api/nowhere")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_wrong_method_is_405_page(client):
    response = await client.delete("/login")
    assert response.status == 405
    assert "does not accept" in await response.text()


async def test_an_unexpected_failure_is_a_plain_500_without_traceback(aiohttp_client, config):
    app = create_app(config)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    response = await client.get("/broken")
    body = await response.text()
    assert response.status == 500
    assert "Something went wrong" in body
    assert "Traceback" not in body and "secret internal detail" not in body
    assert (await client.get("/healthz")).status == 200


async def test_health_reports_the_database(aiohttp_client, config):
    client = await aiohttp_client(create_app(config.with_overrides(health_loopback=True)))
    response = await client.get("/healthz")
    assert response.status == 200
    from server.storage.database import migration_files

    body = await response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["schema_version"] == len(migration_files())
    assert body["sockets"] == 0 and body["tasks"] >= 1


