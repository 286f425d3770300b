"""Who a visit WebSocket speaks for: the visit cookie's participant, as a `Seat`."""

from __future__ import annotations

from aiohttp import web

from server.auth.access import api_refusal
from server.auth.device import device_of
from server.auth.tokens import LinkRefused
from server.auth.visit_session import participant_from_cookie
from server.keys import VISITS
from server.storage.visits import Participant, Visit
from signaling.endpoint import SeatRefused
from signaling.seat import Seat


def seat_of(visit: Visit, participant: Participant, device: str | None, *,
            device_denied: bool = False) -> Seat:
    """The seat of a stored participant on a device (at authentication, and again when a
    room is rebuilt elsewhere); `device_denied` when the therapist turned this device away
    on her link (`VisitService.device_denied`)."""
    # An admission holds on the device it was given to (or on any, if it predates devices).
    admitted = participant.admitted_at is not None and (
        participant.admitted_device is None or participant.admitted_device == device)
    return Seat(visit_id=visit.id, participant_id=participant.id, role=participant.role,
                name=participant.display_name, capacity=visit.capacity,
                expires_at=participant.expires_at, device=device, admitted=admitted,
                other_device=participant.admitted_at is not None and not admitted,
                admitted_on=None if admitted else participant.admitted_device,
                device_denied=device_denied,
                denied=participant.denied_at is not None,
                visit_ended=visit.status == "ended", link_id=participant.jti)


async def authenticate_seat(request: web.Request) -> Seat:
    """The seat of the visit cookie on a WebSocket request."""
    visit_id = request.match_info["visit_id"]
    try:
        found = await participant_from_cookie(request, visit_id)
    except LinkRefused as refused:
        status, message = api_refusal(refused.problem)
        raise SeatRefused(status, refused.problem.value, message) from None
    if found is None:
        raise SeatRefused(401, "no_visit_session", "Open the visit link first.")
    visit, participant, _claims = found
    device = device_of(request)
    turned_away = await request.app[VISITS].device_denied(participant.jti, device)
    return seat_of(visit, participant, device, device_denied=turned_away)
