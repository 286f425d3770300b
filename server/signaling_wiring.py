"""Signaling wired into the application: the router the configuration names, the
WebSocket endpoint and the echo pool, opened and closed with the app."""

from __future__ import annotations

from typing import Any, AsyncIterator

from aiohttp import web

from server.auth.seat import authenticate_seat
from server.config import Config, ConfigError
from server.keys import CONFIG, ECHO, LIBRARY, ROUTER, SIGNALING, VISITS
from server.room_store import RoomsFollowVisits, RoomStore
from signaling.echo import EchoLimits, EchoPool
from signaling.endpoint import EndpointSettings, SignalingEndpoint
from signaling.ice import IceSettings, ice_servers_for, use_loopback_candidates
from signaling.router import LocalRouter, Router
from signaling.seat import Seat


def make_router(config: Config, hooks: RoomStore) -> Router:
    """The router the configuration names (VISITROOM_BUS)."""
    if config.bus == "local":
        return LocalRouter(hooks)
    raise ConfigError(f"no router for bus {config.bus!r}")


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
