"""The visit link's part of the access question (`server/auth/policy.py`, `OPEN_VISIT`):
may this browser act for the participant its visit link names?

A patient's or a guest's link opens her own pages; what she may do in the call is the
room's to say (she waits until admitted, on the device she was admitted on). A therapist's
link opens the host's powers (admit, remove, end the visit, see the patient, edit the home
program for `program_days`), so it is never a bearer token:

- the visit is booked with a staff account: the browser must be signed in as that account
  (`STAFF_SIGN_IN` without a session, `WRONG_ACCOUNT` with another one);
- the visit names a therapist without an account: the link binds to the first device that
  opens it (audited with that device), and every other device is refused (`LINK_IN_USE`:
  ask the clinic for a new link; a re-issued link starts unbound).

The rule is the policy's; this module gives it the request's browser (`RequestBrowser`:
the signed-in account, the device and its binding). `check_link` asks this after verifying
the link, so every page, socket, connection check and program request asks it, and `/join`
asks it before it sets the visit cookie.
"""

from __future__ import annotations

import time

from aiohttp import web

from server.auth.device import device_of
from server.auth.policy import Action, ParticipantActor, decide
from server.auth.staff import load_user
from server.auth.tokens import LinkProblem, LinkRefused
from server.http.i18n import N_
from server.keys import DB
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.link_devices import bind_link_device, link_device
from server.storage.users import User
from server.storage.visits import Participant, Visit


class RequestBrowser:
    """The browser of a request, as the policy asks about it (`LinkBrowser`), holding the
    link `link_id` names (the jti of the token that was verified, not the one stored)."""

    def __init__(self, request: web.Request, visit: Visit, participant: Participant,
                 link_id: str) -> None:
        self.request = request
        self.visit = visit
        self.participant = participant
        self.link_id = link_id

    async def staff_user(self) -> User | None:
        """The staff account signed in on this browser, if any."""
        return await load_user(self.request)

    async def holds_link(self) -> bool:
        """Whether this device holds the link; the first device to ask binds it (audited).
        Looked up once a request: the policy asks it for each action of a therapist's link."""
        cache = f"link_held:{self.link_id}"
        held = self.request.get(cache)
        if held is None:
            held = self.request[cache] = await self._bound_here()
        return bool(held)

    async def _bound_here(self) -> bool:
        device = device_of(self.request)
        if device is None:
            return False
        db = self.request.app[DB]
        participant = self.participant
        bound = await link_device(db, self.link_id)
        if bound is None:
            now = int(time.time())
            async with db.transaction() as conn:
                bound, fresh = await bind_link_device(conn, jti=self.link_id,
                                                      visit_id=self.visit.id, device=device,
                                                      now=now)
                if fresh:
                    await record_event(conn, audit.LinkBound(participant=participant.id,
                                                             device=device),
                                       actor=audit.by_participant(participant.id), now=now,
                                       visit_id=self.visit.id)
        return bound == device


def participant_actor(request: web.Request, visit: Visit, participant: Participant, *,
                      link_id: str) -> ParticipantActor:
    """The policy's actor for a participant acting in this request through her link
    `link_id` (the verified token's jti)."""
    return ParticipantActor(participant, RequestBrowser(request, visit, participant, link_id))


async def require_access(request: web.Request, visit: Visit, participant: Participant, *,
                         link_id: str) -> None:
    """Raise LinkRefused unless this browser may act for `participant` in `visit` through
    the link `link_id` (the verified token's jti; the policy's `OPEN_VISIT`,
    `server/auth/policy.py`)."""
    verdict = await decide(participant_actor(request, visit, participant, link_id=link_id),
                           Action.OPEN_VISIT, visit)
    if not verdict:

        raise LinkRefused(verdict.problem or LinkProblem.WRONG_VISIT)


_API_REFUSALS: dict[LinkProblem, tuple[int, str]] = {
    LinkProblem.STAFF_SIGN_IN: (401, N_("Sign in with the staff account this visit is booked "
                                        "with.")),
    LinkProblem.WRONG_ACCOUNT: (403, N_("This visit is booked with another staff account.")),
    LinkProblem.LINK_IN_USE: (403, N_("This link is in use on another device; ask the clinic "
                                      "for a new link.")),
}


def api_refusal(problem: LinkProblem) -> tuple[int, str]:
    """The status and message a socket or JSON request gets for a refused visit link."""
    return _API_REFUSALS.get(problem, (403, N_("This visit link no longer opens the visit.")))
