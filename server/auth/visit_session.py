"""The visit cookie: a participant's verified link, kept HttpOnly for one visit's pages.

Opening a link moves its token from the URL into a cookie scoped to `/visits/{id}`, so
the token never lingers in history, logs or Referer. Every request re-verifies it:
signature, time window, revocation and the visit's status.
"""

from __future__ import annotations

from aiohttp import web

from server.auth.tokens import LinkClaims, LinkProblem, LinkRefused, verify_link
from server.storage.visits import Participant, Visit, is_revoked

COOKIE = "visitroom_visit"


def cookie_path(visit_id: str) -> str:
    """The path the visit cookie is scoped to."""
    return f"/visits/{visit_id}"


async def check_link(request: web.Request, visit_id: str, token: str, *,
                     program: bool = False) -> tuple[Visit, Participant, LinkClaims]:
    """Verify a token for this visit against keys, revocations and the visit; raise LinkRefused.

    With `program`, a link past its call window still opens the home program for
    `program_days` more days (`claims.expired` is then true).
    """
    from server.app import CONFIG, DB, KEYRING, VISITS

    config = request.app[CONFIG]
    claims = await verify_link(request.app[KEYRING], token, issuer=config.issuer,
                               visit_id=visit_id,
                               expired_grace=config.program_days * 86400 if program else 0)
    visit = await request.app[VISITS].get(visit_id)
    if visit is None:
        raise LinkRefused(LinkProblem.WRONG_VISIT)
    if visit.status == "cancelled":
        raise LinkRefused(LinkProblem.CANCELLED)
    if await is_revoked(request.app[DB], claims.jti):
        raise LinkRefused(LinkProblem.REVOKED)
    participant = next((p for p in visit.participants if p.id == claims.participant_id), None)
    if participant is None or participant.jti != claims.jti or participant.role != claims.role:
        raise LinkRefused(LinkProblem.REVOKED)
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


def set_visit_cookie(request: web.Request, response: web.StreamResponse, visit_id: str,
                     token: str, claims: LinkClaims, now: int) -> None:
    """Store the link's token in the visit cookie until the link expires."""
    from server.app import CONFIG

    config = request.app[CONFIG]
    # The cookie lasts as long as the home program can be opened; each request re-checks
    # whether it still opens the call.
    until = claims.expires_at + config.program_days * 86400
    response.set_cookie(COOKIE, token, path=cookie_path(visit_id), httponly=True,
                        samesite="Strict", secure=config.secure_cookies,
                        max_age=max(0, until - now))
