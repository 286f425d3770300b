"""Who a visit WebSocket speaks for: the visit cookie's participant, as a `Seat`."""

from __future__ import annotations

from aiohttp import web

from server.auth.access import api_refusal
from server.auth.device import device_of
from server.auth.staff import session_id_hash
from server.auth.tokens import LinkRefused
from server.auth.visit_session import participant_from_cookie
from server.keys import VISITS
from server.storage.visits import Participant, Visit
from signaling.endpoint import SeatRefused
from signaling.seat import Seat


def seat_of(visit: Visit, participant: Participant, device: str | None, *, link_id: str,
            session: str = "", device_denied: bool = False) -> Seat:
    """The seat of a stored participant on a device, through the link `link_id` (the jti
    of the token the socket opened with, never the one stored since: at authentication, and
    again when a room is rebuilt elsewhere); `device_denied` when the therapist turned this
    device away on that link (`VisitService.device_denied`); `session`, the staff session
    a host's socket opened with (`Seat.session`)."""
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
                visit_ended=visit.status == "ended", link_id=link_id, session=session)


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
    visit, participant, claims = found
    device = device_of(request)
    turned_away = await request.app[VISITS].device_denied(claims.jti, device)
    # The host of a visit booked with her account holds it through this sign-in (the
    # access check just asked for it): her seat stands while the session does.
    session = (session_id_hash(request) or "") if (
        participant.role == "therapist" and visit.therapist_id is not None) else ""
    return seat_of(visit, participant, device, link_id=claims.jti, session=session,
                   device_denied=turned_away)
