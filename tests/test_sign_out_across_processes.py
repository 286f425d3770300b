"""A therapist's sign-out on one process closes her host socket held by another (docs/
security.md T46): two real servers share one database and one Redis; the ejection goes to
the room's owner and is sent again until it confirms (`signaling/cluster_ejects.py`)."""

from __future__ import annotations

import re
import time

import aiohttp
import pytest

from server.keys import ROUTER
from signaling.closes import CLOSE_REVOKED
from signaling.cluster_messages import Lost
from tests.live import LiveServer
from tests.redis_server import redis_server  # noqa: F401 (a fixture)
from tests.test_cross_process import servers  # noqa: F401 (a fixture)

RAE = "rae@clinic.test"


async def _sign_out(server: LiveServer, session: aiohttp.ClientSession) -> None:
    """POST /logout on `server` from a browser (its CSRF token from a page of that server)."""
    async with session.get(f"{server.base}/admin") as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token, "the dashboard has no CSRF token"
    async with session.post(f"{server.base}/logout", data={"csrf_token": token.group(1)},
                            allow_redirects=False) as done:
        assert done.status == 303


async def test_signing_out_on_one_process_closes_her_host_socket_held_by_the_other(
        servers: list[LiveServer]):  # noqa: F811
    a, b = servers
    user_id = await b.therapist_account(RAE)
    a.staff[user_id] = b.staff[user_id]  # one database: a browser signs in on either
    visit = await a.visit(therapist_name=None, therapist_email=RAE)
    other_visit = await a.visit(therapist_name=None, therapist_email=RAE)
    laptop = await b.socket(await b.link(visit, "therapist"))  # on b, which owns the room
    await laptop.expect("lobby")
    patient = await a.socket(await a.link(visit, "patient"))
    await patient.expect("waiting")
    tablet = await a.socket(await a.link(other_visit, "therapist"))  # her second browser
    await tablet.expect("lobby")
    assert b.app[ROUTER].local.owns(visit.id) and not a.app[ROUTER].local.owns(visit.id)

    started = time.monotonic()
    await _sign_out(a, laptop.session)  # on a: the room and her socket are b's

    assert await laptop.closed_with(timeout=10) == CLOSE_REVOKED
    assert time.monotonic() - started < 10
    assert {"type": "visit-ended", "reason": "link_revoked"} in laptop.seen
    assert await tablet.alive()  # her other browser keeps its call
    assert await patient.alive()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await laptop.session.ws_connect(f"{b.base}/visits/{visit.id}/ws", origin=b.base)
    assert refused.value.status == 401


async def test_a_room_resynced_after_her_sign_out_does_not_seat_that_browser_again(
        servers: list[LiveServer], monkeypatch):  # noqa: F811
    """The sign-out's close never reached her socket's process (a stall past the stream's
    retention, a Redis flush: here the ejection is lost outright); the repair that seats
    that process's sockets again asks the room's check, which finds her session gone: the
    socket is closed as revoked and never welcomed again as host."""
    a, b = servers
    user_id = await b.therapist_account(RAE)
    a.staff[user_id] = b.staff[user_id]
    visit = await a.visit(therapist_name=None, therapist_email=RAE)
    patient = await b.socket(await b.link(visit, "patient"))  # b claims the room first
    await patient.expect("welcome")
    laptop = await a.socket(await a.link(visit, "therapist"))  # her socket on a
    await laptop.expect("lobby")
    assert b.app[ROUTER].local.owns(visit.id) and not a.app[ROUTER].local.owns(visit.id)
    monkeypatch.setattr(a.app[ROUTER].ejections, "ask", lambda *args, **kwargs: None)

    await _sign_out(a, laptop.session)
    assert await laptop.alive()  # nothing closed it: the ejection was lost
    before = len(laptop.seen)
    await a.app[ROUTER]._on_message(Lost(visit.id))  # a's bus lost the room's messages

    assert await laptop.closed_with(timeout=10) == CLOSE_REVOKED
    after = laptop.seen[before:]
    assert {"type": "visit-ended", "reason": "link_revoked"} in after
    assert "welcome" not in [m["type"] for m in after], after
    assert await patient.alive()
