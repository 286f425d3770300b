"""Headers the client writes are not trusted, and what the server says about itself is little:
the CSP from the configured URL, a Server header without versions, /healthz counts for this
machine and staff only, an oversized header logged in one line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from server.app import create_app
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.both_engines


async def test_csp_connect_src_comes_from_the_public_url_not_the_host_header(client):
    response = await client.get("/", headers={
        "Host": "attacker.example; report-uri https://attacker.example/r"})
    policy = response.headers["Content-Security-Policy"]
    assert "connect-src 'self' ws://127.0.0.1:8080;" in policy
    assert "attacker" not in policy and "report-uri" not in policy


async def test_csp_names_the_secure_socket_origin_of_an_https_public_url(aiohttp_client, config):
    client = await aiohttp_client(create_app(config.with_overrides(
        public_url="https://visits.clinic.test/")))
    policy = (await client.get("/", headers={"Host": "other.example"})).headers[
        "Content-Security-Policy"]
    assert "connect-src 'self' wss://visits.clinic.test;" in policy


async def test_the_server_header_names_no_versions(client):
    for path in ("/", "/login", "/no/such/page", "/api/visits", "/healthz"):
        server = (await client.get(path)).headers["Server"]
        assert server == "Visitroom", (path, server)


async def _raw(client, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_an_oversized_header_is_400_logged_in_one_line_without_traceback(client, caplog):
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    answer = await _raw(client, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000
                        + b"\r\n\r\n")
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert "aiohttp" not in head and "Python" not in head
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == "refused an unreadable request: 400 LineTooLong"
    assert "Traceback" not in caplog.text and "127.0.0.1" not in caplog.text
    assert (await client.get("/healthz")).status == 200  # still serving


COUNTS = {"schema_version", "sockets", "tasks"}


async def test_health_counts_are_hidden_from_a_plain_loopback_request_unless_configured(
        aiohttp_client, config, client):
    # A proxy on this machine that forwards without X-Forwarded-For looks exactly like this.
    assert await (await client.get("/healthz")).json() == {"status": "ok", "database": "ok"}
    monitored = await aiohttp_client(create_app(config.with_overrides(health_loopback=True)))
    body = await (await monitored.get("/healthz")).json()
    assert body["status"] == "ok" and COUNTS <= set(body)


async def test_health_counts_are_shown_to_a_trusted_proxys_forwarded_loopback_only(
        aiohttp_client, config):
    client = await aiohttp_client(create_app(config.with_overrides(
        trusted_proxies="127.0.0.1", health_loopback=True)))

    async def keys(headers: dict[str, str]) -> set[str]:
        return set(await (await client.get("/healthz", headers=headers)).json())

    assert COUNTS <= await keys({"X-Forwarded-For": "127.0.0.1"})
    assert COUNTS <= await keys({"X-Forwarded-For": "203.0.113.9, ::1"})  # the proxy's own entry
    assert not COUNTS & await keys({"X-Forwarded-For": "203.0.113.9"})
    assert not COUNTS & await keys({"X-Forwarded-For": "127.0.0.1, 203.0.113.9"})
    # From the trusted proxy without the header: any client of the proxy, not this machine.
    assert not COUNTS & await keys({})


async def test_health_counts_are_hidden_from_a_request_through_a_proxy(client):
    body = await (await client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})).json()
    assert body == {"status": "ok", "database": "ok"}


async def test_health_counts_are_shown_to_signed_in_staff_anywhere(client):
    await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    body = await (await client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})).json()
    assert "sockets" in body and "schema_version" in body
