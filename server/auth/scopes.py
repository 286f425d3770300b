"""Link scopes, declared once: what a link opens, and the cookie that holds it.

A link's token names its scope in the `scope` claim (a token made before scopes has none
and is a `visit` link) and carries the scope as its audience. Every issued link has a row
in `links` (`server/storage/links.py`) whatever its scope, and every scope is verified
through `server/auth/tokens.py` `verify_issued` (signature and scope, the scope's own check,
then that row), so no scope's link opens without its row. Three are issued: `visit` (a
participant's call and home program), `plan` (a patient's plan of care between visits: her
home page) and `unsubscribe` (the link in each email that stops them, no sign-in needed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """What one kind of link opens, and how its token is kept in the browser."""

    name: str
    """The `scope` claim and the `links.scope` column."""
    audience: str
    """The token's `aud`."""
    subject: str
    """What `sub` names (stored as `links.subject`)."""
    claims: tuple[str, ...]
    """Claims this scope requires on top of iss, aud, sub, nbf, exp, iat and jti."""
    cookie_name: str
    """The HttpOnly cookie the token moves into once the link is opened ("": none, the link
    does its one thing when opened)."""
    cookie_path: str
    """That cookie's path, `{key}` standing for the resource the link opens."""

    def path_for(self, key: str) -> str:
        """The cookie path for one resource of this scope (a visit id for `visit`)."""
        return self.cookie_path.format(key=key)


VISIT = Scope(
    name="visit", audience="visit",
    subject="a participant of the visit named by the `vid` claim (`links.visit_id`)",
    claims=("vid", "role"),
    cookie_name="visitroom_visit", cookie_path="/visits/{key}",
)
"""A participant's link to one visit: the call, then the home program."""

PLAN = Scope(
    name="plan", audience="plan",
    subject="a plan of care (`links.subject` is the plan id); the patient's own link",
    claims=("pid", "role"),
    cookie_name="visitroom_plan", cookie_path="/care/{key}",
)
"""A patient's link to her plan of care: valid for the plan's length plus a grace period."""

UNSUBSCRIBE = Scope(
    name="unsubscribe", audience="unsubscribe",
    subject="a patient (`links.subject` is her id), whose email reminders it stops",
    claims=(),
    cookie_name="", cookie_path="",
)
"""The link in every email that stops email reminders, opened without signing in."""

SCOPES: dict[str, Scope] = {scope.name: scope for scope in (VISIT, PLAN, UNSUBSCRIBE)}
"""Every scope the server verifies, by name."""

DEFAULT_SCOPE = VISIT
"""The scope of a token without a `scope` claim (every link made before scopes)."""


def scope_named(name: object) -> Scope | None:
    """The declared scope of this name; None for anything else (a bad link)."""
    return SCOPES.get(name) if isinstance(name, str) else None
