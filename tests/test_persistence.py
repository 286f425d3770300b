"""Nothing is lost on restart: visits and links survive stopping and starting the app."""

from __future__ import annotations

import pytest

from server.app import create_app
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, link_of, login, make_visit

pytestmark = pytest.mark.both_engines


async def test_visit_and_links_work_after_a_restart(aiohttp_client, config):
    first = await aiohttp_client(create_app(config))
    visit = await make_visit(first, patient_name="Kept Across Restart")
    link = await link_of(first, visit, "therapist")
    await first.close()

    second = await aiohttp_client(create_app(config))
    response = await second.get(link)
    assert response.status == 200
    assert "Kept Across Restart" in await response.text()
    assert await link_of(second, visit, "therapist") == link  # minted again, identical
    await login(second, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert "Kept Across Restart" in await (await second.get("/admin")).text()


async def test_restart_does_not_create_a_second_admin_or_key(aiohttp_client, config):
    from server.keys import DB

    for _ in range(2):
        client = await aiohttp_client(create_app(config))
        await client.close()
    client = await aiohttp_client(create_app(config))
    db = client.server.app[DB]
    assert (await db.fetchone("SELECT COUNT(*) FROM users"))[0] == 1
    assert (await db.fetchone("SELECT COUNT(*) FROM signing_keys"))[0] == 1


async def test_logs_carry_ids_not_names_or_tokens(config, caplog):
    import logging

    import aiohttp
    from aiohttp import web

    from server.http.access_log import AccessLogger
    from server.keys import CONFIG, VISITS
    from server.visits.visit_input import parse_visit_request

    caplog.set_level(logging.INFO)
    runner = web.AppRunner(create_app(config), access_log_class=AccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        app = runner.app
        visit = await app[VISITS].create(
            parse_visit_request({"patient_name": "Zelda Secretname"}, app[CONFIG]), actor="test")
        link = await app[VISITS].link(visit.participant("patient"))
        path = "/" + link.split("/", 3)[3]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
    text = caplog.text
    assert f"GET /join/{visit.id} 303" in text
    assert f"GET /visits/{visit.id} 200" in text
    assert "token" not in text and path.split("token=")[1][:40] not in text
    assert "Zelda" not in text
