"""The server's side of live visits: who a socket speaks for, and what rooms tell the database.

Signaling knows nothing of cookies, links or tables; this module gives it an
authenticator, hooks that store admissions and endings, and keeps rooms in step with
cancelled visits and revoked links.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, AsyncIterator, Iterator

from aiohttp import web

from server.app import BUS, CONFIG, ECHO, LIBRARY, ROOMS, SIGNALING, VISITS
from server.auth.tokens import LinkRefused
from server.auth.visit_session import participant_from_cookie
from server.errors import ApiError
from server.library.loader import Library
from server.request_json import read_json_object
from server.storage import DatabaseBusy
from server.visits import VisitService
from signaling.bus import InProcessBus
from signaling.echo import EchoBusy, EchoOfferError, EchoPool
from signaling.endpoint import EndpointSettings, SeatRefused, SignalingEndpoint
from signaling.ice import IceSettings, ice_servers_for, use_loopback_candidates
from signaling.protocol import MAX_SDP_CHARS, ProtocolError
from signaling.room import Seat
from signaling.rooms import RoomRegistry

log = logging.getLogger(__name__)


async def authenticate_seat(request: web.Request) -> Seat:
    """The seat of the visit cookie on a WebSocket request."""
    visit_id = request.match_info["visit_id"]
    try:
        found = await participant_from_cookie(request, visit_id)
    except LinkRefused as refused:
        raise SeatRefused(403, refused.problem.value, "This visit link no longer opens the visit.") from None
    if found is None:
        raise SeatRefused(401, "no_visit_session", "Open the visit link first.")
    visit, participant, _claims = found
    return Seat(visit_id=visit.id, participant_id=participant.id, role=participant.role,
                name=participant.display_name, capacity=visit.capacity,
                expires_at=participant.expires_at, admitted=participant.admitted_at is not None,
                visit_ended=visit.status == "ended")


class RoomStore:
    """Room hooks that write to the database through the visit service."""

    def __init__(self, visits: VisitService, library: Library) -> None:
        self.visits = visits
        self.library = library

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool:
        if exercise not in self.library.exercises:
            return False
        with _busy_as_protocol_error():
            await self.visits.record(visit_id, f"participant:{participant_id}", "demo.shown",
                                     {"exercise": exercise})
        return True

    async def admitted(self, visit_id: str, participant_id: str) -> None:
        with _busy_as_protocol_error():
            await self.visits.record_admission(visit_id, participant_id, admitted=True)

    async def denied(self, visit_id: str, participant_id: str) -> None:
        with _busy_as_protocol_error():
            await self.visits.record_admission(visit_id, participant_id, admitted=False)

    async def ended(self, visit_id: str, reason: str) -> None:
        if reason == "cancelled":
            return
        try:
            await self.visits.mark_ended(visit_id, reason)
        except DatabaseBusy:
            # The call still ends for everyone; the stored visit keeps its status, and its
            # links stop at the end of their window as every link does.
            log.warning("visit end not stored (database busy) visit=%s", visit_id)


@contextmanager
def _busy_as_protocol_error() -> Iterator[None]:
    """A locked database answers the sender with `error` code `busy`; nothing changes."""
    try:
        yield
    except DatabaseBusy:
        raise ProtocolError("busy", "The server is busy for a moment; try again.") from None


class RoomsFollowVisits:
    """Visit changes made anywhere (admin page, API) reach the live rooms."""

    def __init__(self, rooms: RoomRegistry) -> None:
        self.rooms = rooms

    async def visit_closed(self, visit_id: str, reason: str) -> None:
        await self.rooms.end_visit(visit_id, reason)

    async def link_revoked(self, visit_id: str, participant_id: str) -> None:
        await self.rooms.eject(visit_id, participant_id, "link_revoked")


async def signaling_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the bus, rooms, WebSocket endpoint and echo pool; close them at shutdown."""
    config = app[CONFIG]
    if config.ice_loopback:
        use_loopback_candidates()
    ice = IceSettings(config.stun_urls, config.turn_urls, config.turn_secret)
    bus = InProcessBus()
    rooms = RoomRegistry(bus, RoomStore(app[VISITS], app[LIBRARY]))
    settings = EndpointSettings(allowed_origin=config.origin,
                                heartbeat_seconds=config.heartbeat_seconds,
                                flood_rate=config.flood_rate, flood_burst=config.flood_rate * 2)

    def welcome_extra(seat: Seat) -> dict[str, Any]:
        return {"ice_servers": ice_servers_for(ice, seat.participant_id, seat.expires_at)}

    app[BUS] = bus
    app[ROOMS] = rooms
    app[SIGNALING] = SignalingEndpoint(rooms, bus, authenticate_seat, settings, welcome_extra)
    app[ECHO] = EchoPool(config.echo_max_sessions, config.echo_seconds)
    app[VISITS].listeners.append(RoomsFollowVisits(rooms))
    yield
    await app[ECHO].close()
    await app[SIGNALING].close()
    await rooms.close()


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/ws."""
    return await request.app[SIGNALING].handle(request)


async def echo_check(request: web.Request) -> web.StreamResponse:
    """POST /visits/{visit_id}/echo: start a connection check; body {"sdp", "type": "offer"}."""
    if request.headers.get("Origin") not in (None, request.app[CONFIG].origin):
        raise ApiError(403, "bad_origin", "This check only serves the clinic's own pages.")
    try:
        await authenticate_seat(request)
    except SeatRefused as refused:
        raise ApiError(refused.status, refused.code, refused.message) from None
    body = await read_json_object(request)
    if (body.get("type") != "offer"
            or not isinstance(body.get("sdp"), str) or not 0 < len(body["sdp"]) <= MAX_SDP_CHARS):
        raise ApiError(400, "bad_offer", "Send {\"type\": \"offer\", \"sdp\": \"...\"}.")
    try:
        session_id, answer = await request.app[ECHO].start(body["sdp"])
    except EchoBusy:
        raise ApiError(503, "busy", "The connection check is busy; try again in a minute.") from None
    except EchoOfferError:
        raise ApiError(400, "bad_offer", "The offer could not be used.") from None
    return web.json_response({"type": "answer", "sdp": answer, "session": session_id,
                              "max_seconds": request.app[ECHO].max_seconds})
