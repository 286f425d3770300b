"""HTTP handlers of live visits: the visit WebSocket, the pre-call connection check, and
whether a waiting patient's therapist is in another visit's call."""

from __future__ import annotations

from aiohttp import web

from server.auth.device import device_of
from server.auth.seat import authenticate_seat
from server.http.errors import ApiError
from server.keys import ECHO, PRESENCE, SIGNALING
from server.http.request_json import read_json_object
from server.views.guards import require_own_origin, visit_cookie_holder
from signaling.echo import EchoBusy, EchoOfferError
from signaling.endpoint import SeatRefused
from signaling.protocol import MAX_SDP_CHARS


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/ws."""
    return await request.app[SIGNALING].handle(request)


async def echo_check(request: web.Request) -> web.StreamResponse:
    """POST /visits/{visit_id}/echo: start a connection check; body {"sdp", "type": "offer"}."""
    require_own_origin(request, "This check only serves the clinic's own pages.")
    try:
        seat = await authenticate_seat(request)
    except SeatRefused as refused:
        raise ApiError(refused.status, refused.code, refused.message) from None
    if seat.visit_ended:
        raise ApiError(409, "visit_ended", "This visit has ended; the connection check is closed.")
    if seat.denied:
        raise ApiError(403, "denied", "The therapist did not let this link into the visit.")
    body = await read_json_object(request)
    if (body.get("type") != "offer"
            or not isinstance(body.get("sdp"), str) or not 0 < len(body["sdp"]) <= MAX_SDP_CHARS):
        raise ApiError(400, "bad_offer", "Send {\"type\": \"offer\", \"sdp\": \"...\"}.")
    try:
        session_id, answer = await request.app[ECHO].start(body["sdp"], seat.visit_id,
                                                           seat.participant_id)
    except EchoBusy as busy:
        if busy.scope == "visit":
            raise ApiError(503, "busy", "Others in this visit are checking their connection; "
                           "try again in a minute.") from None
        raise ApiError(503, "busy", "The connection check is busy; try again in a minute.") from None
    except EchoOfferError:
        raise ApiError(400, "bad_offer", "The offer could not be used.") from None
    return web.json_response({"type": "answer", "sdp": answer, "session": session_id,
                              "max_seconds": request.app[ECHO].max_seconds})


async def presence(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/presence: {"busy": bool, "note": {minutes, at} | null}:
    whether the visit's therapist is in a call of another visit now
    (server/visits/presence.py), and her running-late note as stored (she may set it from
    her dashboard); the visit cookie needed, its participant waiting in the room now on
    this browser (409 otherwise), a few questions a minute a seat (429 past that)."""
    visit, participant, _claims = await visit_cookie_holder(request)
    answers = request.app[PRESENCE]
    if not answers.allowed(visit.id, participant.id):
        raise ApiError(429, "too_many_requests", "Ask again in a little while.",
                       {"Retry-After": "10"})
    if not await answers.waiting(visit.id, participant.id, device_of(request)):
        # Told only to someone in the waiting room: a link's holder who never knocks
        # learns nothing of the therapist's day.
        raise ApiError(409, "not_waiting", "This is said only in the waiting room.")
    busy = visit.status == "scheduled" and await answers.busy(visit)
    note = None if visit.late_note is None else visit.late_note.as_json()
    return web.json_response({"busy": busy, "note": note}, headers={"Cache-Control": "no-store"})
