"""The plan cookie: a patient's verified plan link, kept HttpOnly for her home page.

As with the visit cookie (`visit_session.py`): opening the link moves its token from the
URL into the `plan` scope's cookie, scoped to `/care/{plan_id}`, and every request checks
it again (signature, window, its `links` row, the plan still active) and asks the policy.
"""

from __future__ import annotations

import time

from aiohttp import web

from server.auth.cookies import set_strict_cookie
from server.auth.policy import Action, PlanActor, allowed
from server.auth.scopes import PLAN
from server.auth.tokens import LinkProblem, LinkRefused
from server.care.service import PlanClaims
from server.keys import CARE, CONFIG
from server.storage.plans import Plan

COOKIE = PLAN.cookie_name


async def plan_for_token(request: web.Request, plan_id: str,
                         token: str) -> tuple[Plan, PlanActor, PlanClaims]:
    """The plan a link opens, its patient as the actor; raise LinkRefused."""
    care = request.app[CARE]
    claims = await care.verify_plan_link(token, plan_id)
    plan = await care.plan(plan_id)
    if plan is None:
        raise LinkRefused(LinkProblem.WRONG_VISIT)
    actor = PlanActor(plan.id, claims.patient_id)
    if not await allowed(actor, Action.USE_PLAN, plan):
        # The link's row is live but the plan is closed (closing revokes it), or the
        # link names another patient: nothing of the plan opens.
        raise LinkRefused(LinkProblem.REVOKED)
    return plan, actor, claims


async def plan_from_cookie(request: web.Request,
                           plan_id: str) -> tuple[Plan, PlanActor, PlanClaims] | None:
    """The plan and patient of the cookie that came with this request; None without one.
    Raises LinkRefused when a cookie came but no longer opens the plan."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await plan_for_token(request, plan_id, token)


def set_plan_cookie(request: web.Request, response: web.StreamResponse, plan_id: str,
                    token: str, expires_at: int) -> None:
    """Keep the link's token in the plan cookie for as long as the link could open."""
    set_strict_cookie(response, COOKIE, token, path=PLAN.path_for(plan_id),
                      secure=request.app[CONFIG].secure_cookies,
                      max_age=max(0, expires_at - int(time.time())))
