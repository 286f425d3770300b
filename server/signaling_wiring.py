"""Signaling wired into the application: the router the configuration names, the
WebSocket endpoint and the echo pool, opened and closed with the app."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, AsyncIterator

from aiohttp import web

from server.auth.seat import authenticate_seat, seat_of
from server.config import Config, ConfigError
from server.keys import CONFIG, ECHO, LIBRARY, ROUTER, SIGNALING, VISITS
from server.room_store import RoomsFollowVisits, RoomStore
from server.storage import DatabaseBusy
from server.visits import VisitService
from signaling.cluster import ClusterRouter
from signaling.echo import EchoLimits, EchoPool
from signaling.endpoint import EndpointSettings, SignalingEndpoint
from signaling.ice import IceSettings, ice_servers_for, use_loopback_candidates
from signaling.redis_bus import RedisClusterBus, new_node_id
from signaling.router import LocalRouter, Router
from signaling.seat import Seat

log = logging.getLogger(__name__)


def make_router(config: Config, hooks: RoomStore) -> Router:
    """The router the configuration names (VISITROOM_BUS, VISITROOM_REDIS_URL)."""
    if config.bus == "local":
        return LocalRouter(hooks)
    if config.bus == "redis":
        visits = hooks.visits

        async def reseat(seat: Seat) -> Seat:
            return await stored_seat(visits, seat)

        return ClusterRouter(RedisClusterBus(config.redis_url, new_node_id()), hooks,
                             reseat=reseat)
    raise ConfigError(f"no router for bus {config.bus!r}")


async def stored_seat(visits: VisitService, seat: Seat) -> Seat:
    """A socket's seat as the database has it now (its room is rebuilt on another process:
    admitted or denied since the socket opened, or the visit ended), on the same device."""
    try:
        visit = await visits.get(seat.visit_id)
    except DatabaseBusy:
        log.warning("seat not re-read (database busy) visit=%s", seat.visit_id)
        return seat
    participant = None if visit is None else next(
        (p for p in visit.participants if p.id == seat.participant_id), None)
    if visit is None or participant is None:
        return replace(seat, visit_ended=True)
    stored = seat_of(visit, participant, seat.device)
    # A visit cancelled meanwhile is over for a socket still open on it.
    return replace(stored, visit_ended=True) if visit.status == "cancelled" else stored


async def signaling_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the router, WebSocket endpoint and echo pool; close them at shutdown."""
    config = app[CONFIG]
    if config.ice_loopback:
        use_loopback_candidates()
    ice = IceSettings(config.stun_urls, config.turn_urls, config.turn_secret)
    router = make_router(config, RoomStore(app[VISITS], app[LIBRARY]))
    await router.start()
    settings = EndpointSettings(allowed_origin=config.origin,
                                heartbeat_seconds=config.heartbeat_seconds,
                                flood_rate=config.flood_rate, flood_burst=config.flood_rate * 2)

    def welcome_extra(seat: Seat) -> dict[str, Any]:
        return {"ice_servers": ice_servers_for(ice, seat.participant_id, seat.expires_at)}

    app[ROUTER] = router
    app[SIGNALING] = SignalingEndpoint(router, authenticate_seat, settings, welcome_extra)
    app[ECHO] = EchoPool(EchoLimits(
        max_sessions=config.echo_max_sessions, max_seconds=config.echo_seconds,
        connect_seconds=config.echo_connect_seconds, per_visit=config.echo_per_visit,
        stun_urls=config.stun_urls, loopback=config.ice_loopback))
    app[VISITS].listeners.append(RoomsFollowVisits(router))
    yield
    await app[ECHO].close()
    await app[SIGNALING].close()
    await router.close()
