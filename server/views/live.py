"""HTTP handlers of live visits: the visit WebSocket and the pre-call connection check."""

from __future__ import annotations

from aiohttp import web

from server.auth.seat import authenticate_seat
from server.http.errors import ApiError
from server.keys import ECHO, SIGNALING
from server.http.request_json import read_json_object
from server.views.guards import require_own_origin
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
