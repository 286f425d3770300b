"""The visit cookie: a participant's verified link, kept HttpOnly for one visit's pages.

Opening a link moves its token from the URL into the `visit` scope's cookie, scoped to
`/visits/{id}` (`server/auth/scopes.py`), so the token never lingers in history, logs or
Referer. Every request re-verifies it: signature, time window, its `links` row (revoked?)
and the visit's status.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auth.cookies import set_strict_cookie
from server.auth.access import require_access
from server.auth.scopes import VISIT
from server.auth.tokens import LinkClaims, LinkProblem, LinkRefused, verify_issued, visit_claims
from server.keys import CONFIG, DB, KEYRING, VISITS
from server.storage.visits import Participant, Visit

COOKIE = VISIT.cookie_name
PROGRAM_ROLES = frozenset({"patient", "therapist"})
"""Roles whose link reopens the home program after the call (the patient reads it, the
therapist may still change it); a guest's does not."""


def cookie_path(visit_id: str) -> str:
    """The path the visit cookie is scoped to."""
    return VISIT.path_for(visit_id)


async def check_link(request: web.Request, visit_id: str, token: str, *,
                     program: bool = False) -> tuple[Visit, Participant, LinkClaims]:
    """Verify a token for this visit, then ask whether this browser may act for its
    participant (`server.auth.access`); raise LinkRefused.

    With `program`, a link past its call window still opens the home program for
    `program_days` more days (`claims.expired` is then true).
    """
    visit, participant, claims = await verify_visit_link(request, visit_id, token,
                                                         program=program)
    await require_access(request, visit, participant, link_id=claims.jti)
    return visit, participant, claims


async def verify_visit_link(request: web.Request, visit_id: str, token: str, *,
                            program: bool = False) -> tuple[Visit, Participant, LinkClaims]:
    """Verify a token for this visit against keys, the visit and its `links` row
    (`verify_issued`); raise LinkRefused. Whether this browser may use it is `check_link`'s
    question."""
    config = request.app[CONFIG]
    grace = program_seconds(config.program_days) if program else 0

    async def visit_state(signed: dict[str, Any]) -> tuple[Visit, LinkClaims]:
        claims = visit_claims(signed, visit_id=visit_id, expired_grace=grace)
        if claims.expired and claims.role not in PROGRAM_ROLES:
            # A guest has no home program: past the call window her link opens nothing.
            raise LinkRefused(LinkProblem.EXPIRED)
        visit = await request.app[VISITS].get(visit_id)
        if visit is None:
            raise LinkRefused(LinkProblem.WRONG_VISIT)
        if visit.status == "cancelled":
            raise LinkRefused(LinkProblem.CANCELLED)
        return visit, claims

    visit, claims = await verify_issued(request.app[KEYRING], request.app[DB], token,
                                        issuer=config.issuer, scope=VISIT, check=visit_state)
    participant = next((p for p in visit.participants if p.id == claims.participant_id), None)
    # Her current link as well as a live row: a second guard should two live rows ever exist.
    if (participant is None or participant.role != claims.role
            or participant.jti != claims.jti):
        raise LinkRefused(LinkProblem.REVOKED)
    if participant.role == "therapist" and not await request.app[VISITS].therapist_active(visit):
        raise LinkRefused(LinkProblem.ACCOUNT_INACTIVE)
    return visit, participant, claims


async def participant_from_cookie(request: web.Request, visit_id: str, *,
                                  program: bool = False) -> tuple[Visit, Participant, LinkClaims] | None:
    """The participant whose cookie came with this request, None when there is no cookie.

    Raises LinkRefused when a cookie came but no longer opens the visit.
    """
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await check_link(request, visit_id, token, program=program)


def program_seconds(program_days: int, role: str = "patient") -> int:
    """How long after its call window a link of this role still opens its home program
    (the one place the program window is reckoned)."""
    return program_days * 86400 if role in PROGRAM_ROLES else 0


def set_visit_cookie(request: web.Request, response: web.StreamResponse, visit_id: str,
                     token: str, claims: LinkClaims, now: int) -> None:
    """Store the link's token in the visit cookie for as long as the link opens anything.

    That is the call window, then the home program window (`program_days`) for the patient
    and the therapist; a guest's cookie ends with the call window. Each request re-checks
    the link (revoked, cancelled, past its window), so the cookie never outlives it in effect.
    """
    config = request.app[CONFIG]
    until = claims.expires_at + program_seconds(config.program_days, claims.role)
    set_strict_cookie(response, COOKIE, token, path=cookie_path(visit_id),
                      secure=config.secure_cookies, max_age=max(0, until - now))
