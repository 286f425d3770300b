"""The one access question of a visit's pages, socket and home program: may this browser
act for the participant its visit link names?

A patient's or a guest's link opens her own pages; what she may do in the call is the
room's to say (she waits until admitted, on the device she was admitted on). A therapist's
link opens the host's powers (admit, remove, end the visit, see the patient, edit the home
program for `program_days`), so it is never a bearer token:

- the visit is booked with a staff account: the browser must be signed in as that account
  (`STAFF_SIGN_IN` without a session, `WRONG_ACCOUNT` with another one);
- the visit names a therapist without an account: the link binds to the first device that
  opens it (audited with that device), and every other device is refused (`LINK_IN_USE`:
  ask the clinic for a new link; a re-issued link starts unbound).

`check_link` asks this after verifying the link, so every page, socket, connection check
and program request asks it, and `/join` asks it before it sets the visit cookie.
"""

from __future__ import annotations

import time

from aiohttp import web

from server.auth.device import device_of
from server.auth.staff import load_user
from server.auth.tokens import LinkProblem, LinkRefused
from server.keys import DB
from server.storage.events import record_event
from server.storage.link_devices import bind_link_device, link_device
from server.storage.visits import Participant, Visit


async def require_access(request: web.Request, visit: Visit, participant: Participant) -> None:
    """Raise LinkRefused unless this browser may act for `participant` in `visit`."""
    if participant.role != "therapist":
        return
    if visit.therapist_id is not None:
        user = await load_user(request)
        if user is None:
            raise LinkRefused(LinkProblem.STAFF_SIGN_IN)
        if user.id != visit.therapist_id:
            raise LinkRefused(LinkProblem.WRONG_ACCOUNT)
        return
    device = device_of(request)
    if device is None:
        raise LinkRefused(LinkProblem.LINK_IN_USE)
    db = request.app[DB]
    bound = await link_device(db, participant.jti)
    if bound is None:
        now = int(time.time())
        async with db.transaction() as conn:
            bound, fresh = await bind_link_device(conn, jti=participant.jti, visit_id=visit.id,
                                                  device=device, now=now)
            if fresh:
                await record_event(conn, actor=f"participant:{participant.id}",
                                   action="link.bound", now=now, visit_id=visit.id,
                                   detail={"participant": participant.id, "device": device})
    if bound != device:
        raise LinkRefused(LinkProblem.LINK_IN_USE)


_API_REFUSALS: dict[LinkProblem, tuple[int, str]] = {
    LinkProblem.STAFF_SIGN_IN: (401, "Sign in with the staff account this visit is booked with."),
    LinkProblem.WRONG_ACCOUNT: (403, "This visit is booked with another staff account."),
    LinkProblem.LINK_IN_USE: (403, "This link is in use on another device; ask the clinic "
                                   "for a new link."),
}


def api_refusal(problem: LinkProblem) -> tuple[int, str]:
    """The status and message a socket or JSON request gets for a refused visit link."""
    return _API_REFUSALS.get(problem, (403, "This visit link no longer opens the visit."))
