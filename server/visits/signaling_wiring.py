"""Signaling wired into the application: the router the configuration names, the
WebSocket endpoint and the echo pool, opened and closed with the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import replace
from typing import Any, AsyncIterator

from aiohttp import web

from server.auth.seat import authenticate_seat, seat_of
from server.runtime.config import Config, ConfigError
from server.keys import CONFIG, DB, ECHO, LIBRARY, PRESENCE, ROUTER, SIGNALING, VISITS
from server.visits.presence import TherapistPresence
from server.visits.room_store import RoomsFollowVisits, RoomStore
from server.storage import Database, DatabaseBusy
from server.storage.server_secrets import bus_seal_key
from server.visits.service import VisitService
from signaling.bus_seal import EnvelopeSeal
from signaling.cluster import ClusterRouter
from signaling.echo import EchoLimits, EchoPool
from signaling.endpoint import EndpointSettings, SignalingEndpoint
from signaling.ice import IceSettings, use_loopback_candidates, welcome_ice
from signaling.router import LocalRouter, Router, Sink
from signaling.seat import Seat
from signaling.turn_grant import TurnGrant

log = logging.getLogger(__name__)


async def make_router(config: Config, hooks: RoomStore, db: Database) -> Router:
    """The router the configuration names (VISITROOM_BUS, VISITROOM_REDIS_URL); over
    Redis, its envelopes sealed with the group's bus key from the shared database."""
    if config.bus == "local":
        return LocalRouter(hooks)
    if config.bus == "redis":
        # Imported here: redis-py costs a one-process clinic a tenth of a second at start.
        from signaling.redis_bus import RedisClusterBus, new_node_id

        visits = hooks.visits

        async def reseat(seat: Seat) -> Seat:
            return await stored_seat(visits, seat)

        seal = EnvelopeSeal(await bus_seal_key(db))
        return ClusterRouter(RedisClusterBus(config.redis_url, new_node_id(), seal), hooks,
                             reseat=reseat)
    raise ConfigError(f"no router for bus {config.bus!r}")


async def stored_seat(visits: VisitService, seat: Seat) -> Seat:
    """A socket's seat as the database has it now (its room is rebuilt on another process:
    admitted or denied since the socket opened, or the visit ended), on the same device."""
    try:
        visit = await visits.get(seat.visit_id)
        turned_away = await visits.device_denied(seat.link_id, seat.device)
    except DatabaseBusy:
        log.warning("seat not re-read (database busy) visit=%s", seat.visit_id)
        return seat
    participant = None if visit is None else next(
        (p for p in visit.participants if p.id == seat.participant_id), None)
    if visit is None or participant is None:
        return replace(seat, visit_ended=True)
    # The link and the staff session stay the ones the socket opened with: a link re-issued
    # meanwhile must not lend the old socket its new jti, nor a sign-in since then its
    # session (the room's link check then turns the old socket away).
    stored = seat_of(visit, participant, seat.device, link_id=seat.link_id,
                     session=seat.session, device_denied=turned_away)
    # A visit cancelled meanwhile is over for a socket still open on it.
    return replace(stored, visit_ended=True) if visit.status == "cancelled" else stored


DRAIN_SECONDS = 8.0
"""How long a stopping process gives its rooms and sockets to move before it goes on."""
NODE_HEADER = "X-Visitroom-Node"
"""Names the process (its random node id) that answered, when several share the rooms."""


async def drain_signaling(app: web.Application) -> None:
    """On shutdown (the listening socket is closed by then): refuse new sockets, hand the
    rooms this process owns to the others, close its sockets with "reconnect now" (the
    clients land on another process, whose room is rebuilt from the database), and end
    the connection checks. Bounded: a stuck step never holds the process up for long."""
    if ROUTER not in app:
        return  # start-up failed before signaling opened
    endpoint = app[SIGNALING]
    endpoint.refuse_new()
    try:
        await asyncio.wait_for(app[ROUTER].drain(), DRAIN_SECONDS / 2)
    except asyncio.TimeoutError:
        log.warning("room handover timed out; the rooms move when their records lapse")
    await endpoint.close_all(timeout=DRAIN_SECONDS / 4)
    await app[ECHO].close()


async def node_header(request: web.Request, response: web.StreamResponse) -> None:
    """Name the process that answered (HTTP and WebSocket upgrades) when several serve."""
    router = request.app.get(ROUTER)
    if router is not None and router.node_id:
        response.headers[NODE_HEADER] = router.node_id


async def signaling_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the router, WebSocket endpoint and echo pool; close them at shutdown."""
    config = app[CONFIG]
    if config.ice_loopback:
        use_loopback_candidates()
    ice = IceSettings(config.stun_urls, config.turn_urls, config.turn_secret,
                      relay_only=config.ice_relay_only,
                      turn_lifetime=config.turn_credential_seconds)
    router = await make_router(config, RoomStore(app[VISITS], app[LIBRARY]), app[DB])
    await router.start()
    if router.node_id:
        log.info("signaling node=%s pid=%d", router.node_id, os.getpid())
    settings = EndpointSettings(allowed_origin=config.origin,
                                heartbeat_seconds=config.heartbeat_seconds,
                                flood_rate=config.flood_rate, flood_burst=config.flood_rate * 2)

    def welcome_extra(seat: Seat) -> dict[str, Any]:
        return welcome_ice(ice)

    def turn_grant(seat: Seat, sink: Sink) -> TurnGrant:
        return TurnGrant(sink, ice, seat)

    app[ROUTER] = router
    app[PRESENCE] = TherapistPresence(app[DB], router)
    app[SIGNALING] = SignalingEndpoint(router, authenticate_seat, settings, welcome_extra,
                                       sink_for=turn_grant if ice.turn else None)
    app[ECHO] = EchoPool(EchoLimits(
        max_sessions=config.echo_max_sessions, max_seconds=config.echo_seconds,
        connect_seconds=config.echo_connect_seconds, per_visit=config.echo_per_visit,
        stun_urls=config.stun_urls, loopback=config.ice_loopback))
    app[VISITS].listeners.append(RoomsFollowVisits(router, app[ECHO]))
    preload = asyncio.ensure_future(app[ECHO].preload())
    yield
    preload.cancel()  # a server stopped within seconds of its start need not import aiortc
    with contextlib.suppress(asyncio.CancelledError):
        await preload
    await app[ECHO].close()
    await app[SIGNALING].close()
    await router.close()
