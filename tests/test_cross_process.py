"""Two Visitroom servers sharing one database and one Redis: a visit whose two sides land
on different servers is admitted, negotiates, shows live on both dashboards, and ends on
both when it is cancelled through either; a room whose server goes away is rebuilt on the
other from what the database holds."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis

from server.auth.seat import seat_of
from server.runtime.config import Config
from server.keys import CONFIG, ROUTER, SIGNALING, VISITS
from server.visits.signaling_wiring import stored_seat
from signaling.closes import CLOSE_ENDED, CLOSE_RECONNECT
from signaling.cluster import ClusterRouter
from signaling.cluster_bus import OWNER_TTL
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, login, make_visit, post_form
from tests.live import LiveServer, free_port, start_live_server
from tests.redis_server import RedisServer, redis_server  # noqa: F401


def _config(db: Path, redis_url: str) -> Config:
    port = free_port()
    return Config(db=db, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD, port=port,
                  public_url=f"http://127.0.0.1:{port}", redis_url=redis_url,
                  ice_loopback=True)


@pytest.fixture
async def servers(tmp_path: Path, redis_server: RedisServer  # noqa: F811
                  ) -> AsyncIterator[list[LiveServer]]:
    """Two servers on two ports, one SQLite file, one Redis."""
    async with aioredis.from_url(redis_server.url) as client:
        await client.flushall()
    db = tmp_path / "shared.db"
    started = [await start_live_server(_config(db, redis_server.url))]
    started.append(await start_live_server(_config(db, redis_server.url)))
    yield started
    for server in started:
        await server.close()


async def _staff(server: LiveServer) -> aiohttp.ClientSession:
    """An admin signed in on one server (a session the server closes with the others)."""
    session = aiohttp.ClientSession(base_url=server.base,
                                    cookie_jar=aiohttp.CookieJar(unsafe=True),
                                    headers={"Origin": server.base})
    server.sessions.append(session)
    await login(session, ADMIN_EMAIL, ADMIN_PASSWORD)  # type: ignore[arg-type]
    return session


async def _owner_of(server: LiveServer, visit_id: str) -> str | None:
    async with aioredis.from_url(server.app[CONFIG].redis_url, decode_responses=True) as client:
        return await client.get(f"visitroom:owner:{visit_id}")


async def _live_status(session: aiohttp.ClientSession, visit_id: str) -> str:
    async with session.get("/admin/live.json") as response:
        assert response.status == 200
        return next(v["live"] for v in (await response.json())["visits"] if v["id"] == visit_id)


async def _split_call(servers: list[LiveServer]):
    """A visit with the patient's socket on the first server and the therapist's on the
    second, the patient admitted."""
    a, b = servers
    visit = await a.visit()
    therapist = await b.socket(await b.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await a.socket(await a.link(visit, "patient"))
    await patient.expect("waiting")
    while not (await therapist.expect("lobby"))["waiting"]:
        pass
    await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
    assert (await patient.expect("admitted"))["peers"][0]["role"] == "therapist"
    await therapist.expect("peer-joined")
    return visit, therapist, patient


async def test_a_visit_split_across_two_servers_is_admitted_negotiated_and_cancelled(servers):
    a, b = servers
    assert all(isinstance(s.app[ROUTER], ClusterRouter) for s in servers)
    visit, therapist, patient = await _split_call(servers)
    # The sides really are on different servers, and one of them owns the room.
    assert [s.app[ROUTER].counts()["sockets"] for s in servers] == [1, 1]
    assert sorted(s.app[ROUTER].counts()["rooms"] for s in servers) == [0, 1]
    stored = await a.app[VISITS].get(visit.id)
    assert stored.participant("patient").admitted_at is not None

    patient_id, therapist_id = visit.participant("patient").id, visit.participant("therapist").id
    await therapist.send({"type": "offer", "to": patient_id, "sdp": "v=0 offer"})
    assert (await patient.expect("offer"))["sdp"] == "v=0 offer"
    await patient.send({"type": "answer", "to": therapist_id, "sdp": "v=0 answer"})
    assert (await therapist.expect("answer"))["sdp"] == "v=0 answer"

    for server in servers:
        assert await _live_status(await _staff(server), visit.id) == "in_call"

    # Cancelled through the server that does not own the room: it ends on both.
    other = next(s for s in servers if s.app[ROUTER].counts()["rooms"] == 0)
    staff = await _staff(other)
    page = f"/admin/visits/{visit.id}"
    response = await post_form(staff, page, f"{page}/cancel")  # type: ignore[arg-type]
    assert response.status == 303
    for person in (patient, therapist):
        assert (await person.expect("visit-ended"))["reason"] == "cancelled"
        assert await person.closed_with() == CLOSE_ENDED


async def test_a_room_whose_server_stops_is_handed_over_at_once_and_its_sockets_reconnect(
        servers):
    a, b = servers
    visit, therapist, patient = await _split_call(servers)
    owner = next(s for s in servers if s.app[ROUTER].counts()["rooms"] == 1)
    survivor = next(s for s in servers if s is not owner)
    stranded, leaving = (patient, therapist) if survivor is a else (therapist, patient)
    started = time.monotonic()
    stopping = asyncio.ensure_future(owner.runner.cleanup())  # it drains as it stops
    # Its own socket is told to reconnect now; the other is seated again through the
    # survivor at once (not when the owner's record would have lapsed).
    assert await leaving.closed_with() == CLOSE_RECONNECT
    welcome = await stranded.expect("welcome", timeout=15)
    assert welcome["status"] == "admitted"  # as the database has her
    assert time.monotonic() - started < 0.7 * OWNER_TTL  # before any lapse (0.75 TTL at least)
    await stopping
    assert survivor.app[ROUTER].counts()["rooms"] == 1
    assert await _owner_of(survivor, visit.id) == survivor.app[ROUTER].node_id
    staff = await _staff(survivor)  # the survivor's dashboard: she is alone in the room
    while await _live_status(staff, visit.id) != "scheduled":
        assert time.monotonic() - started < 15
        await asyncio.sleep(0.1)


async def test_a_rebuilt_room_seats_each_socket_as_the_database_has_it_now(client):
    visits = client.server.app[VISITS]
    visit = await make_visit(client)
    patient = visit.participant("patient")
    opened = seat_of(visit, patient, "device-1", link_id=patient.jti)  # before she was let in
    assert not opened.admitted
    await visits.record_admission(visit.id, patient.id, admitted=True, device="device-1")
    again = await stored_seat(visits, opened)
    assert again.admitted and not again.visit_ended and again.device == "device-1"
    elsewhere = await stored_seat(visits, replace(opened, device="device-2"))
    assert not elsewhere.admitted and elsewhere.other_device  # admitted on her first device
    await visits.cancel(await visits.get(visit.id), actor="test")
    assert (await stored_seat(visits, opened)).visit_ended
    assert (await stored_seat(visits, replace(opened, participant_id="p_nobody0000000001"))
            ).visit_ended


async def test_a_stopping_server_refuses_new_sockets_with_a_503_to_try_again(servers):
    a, _ = servers
    visit = await a.visit()
    a.app[SIGNALING].refuse_new()  # what shutting down does first
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await a.socket(await a.link(visit, "patient"))
    assert refused.value.status == 503
    assert refused.value.headers is not None and refused.value.headers["Retry-After"] == "0"
