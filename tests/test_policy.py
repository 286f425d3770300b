"""The whole access policy in one table: for each actor and each action, on the resource
the action applies to, `allowed` says yes or no (server/auth/policy.py). A new action, or a
changed rule, changes this table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from server.auth.policy import (
    ALL_SCOPES,
    VISIT_SCOPES,
    CLINIC,
    Action,
    Actor,
    KeyActor,
    KeyScope,
    Kind,
    CareFile,
    ParticipantActor,
    PlanActor,
    StaffActor,
    allowed,
    decide,
    parse_scopes,
    scopes_text,
)
from server.auth.tokens import LinkProblem
from server.storage.plans import Plan
from server.storage.users import User
from server.storage.visits import Participant, Visit

THERAPIST_ID, OTHER_THERAPIST_ID = 7, 8


def _user(user_id: int, role: str) -> User:
    return User(user_id, f"{role}{user_id}@clinic.test", "Name", role, "hash", True, 0, 0)


def _participant(pid: str, visit_id: str, role: str) -> Participant:
    return Participant(pid, visit_id, role, "Name", f"j_{pid}", "k1", 0, 0, 10)


def _visit(visit_id: str, therapist_id: int | None) -> Visit:
    return Visit(visit_id, "follow-up", 0, 10, "scheduled", 2, therapist_id, 0)


OWN_PLAN = Plan("pl_own", "pt_own", "pelvic-girdle-pain", "", 0, 8, THERAPIST_ID, "active", 0)
OWN = _visit("v_own", THERAPIST_ID)
"""Booked with the therapist account of the table's therapist columns."""
OTHERS = _visit("v_others", OTHER_THERAPIST_ID)
"""Booked with another therapist's account."""
NO_ACCOUNT = _visit("v_noaccount", None)
"""Booked with only a therapist's name: her link binds to the first device."""


@dataclass
class Browser:
    """The browser holding a visit link, as the table states it."""

    signed_in: User | None = None
    holds: bool = True

    async def staff_user(self) -> User | None:
        return self.signed_in

    async def holds_link(self) -> bool:
        return self.holds


def _link(visit: Visit, role: str, browser: Browser | None = None) -> ParticipantActor:
    return ParticipantActor(_participant(f"p_{role}", visit.id, role), browser or Browser())


ADMIN = StaffActor(_user(1, "admin"))
THERAPIST = StaffActor(_user(THERAPIST_ID, "therapist"))
SIGNED_IN = Browser(signed_in=THERAPIST.user)

ACTORS: dict[str, tuple[Actor, Visit]] = {
    # column: (actor, the visit it acts on for actions on a visit)
    "admin": (ADMIN, OWN),
    "ther": (THERAPIST, OWN),
    "ther-x": (THERAPIST, OTHERS),
    "key-r": (KeyActor(1, frozenset({KeyScope.READ})), OWN),
    "key-c": (KeyActor(2, frozenset({KeyScope.CREATE})), OWN),
    "key-x": (KeyActor(3, frozenset({KeyScope.CHANGE})), OWN),
    "key-0": (KeyActor(4, VISIT_SCOPES), OWN),
    "key-pr": (KeyActor(5, frozenset({KeyScope.PATIENTS_READ})), OWN),
    "key-pw": (KeyActor(6, frozenset({KeyScope.PATIENTS_WRITE})), OWN),
    "patient": (_link(OWN, "patient"), OWN),
    "guest": (_link(OWN, "guest"), OWN),
    "host": (_link(OWN, "therapist", SIGNED_IN), OWN),
    "host-dev": (_link(NO_ACCOUNT, "therapist"), NO_ACCOUNT),
    "host-out": (_link(OWN, "therapist", Browser(signed_in=None)), OWN),
    "host-away": (_link(NO_ACCOUNT, "therapist", Browser(holds=False)), NO_ACCOUNT),
    "patient-x": (_link(OTHERS, "patient"), OWN),
    "plan": (PlanActor(OWN_PLAN.id, OWN_PLAN.patient_id), OWN),
    "plan-x": (PlanActor("pl_other", "pt_other"), OWN),
}
"""ther: a therapist account on her own visit, ther-x on another's; key-r/-c/-x: API keys
that may read, create or change visits, key-0 a key made before scopes; host: a therapist
link signed in as its account; host-dev: a therapist link of a visit without an account,
on its device; host-out: a therapist link with nobody signed in; host-away: a therapist
link of a visit without an account, on another device; patient-x: a patient's link on a
visit that is not hers; key-pr/-pw: keys that may read or write patients; plan: a patient's
plan link on her plan, plan-x another patient's plan link on it. Actions on a patient's
care ask about the care of a patient whose plan the table's therapist leads (`OWN_CARE`;
ther-x: another therapist's patient), actions on a plan about `OWN_PLAN`."""
OWN_CARE = CareFile("pt_own", frozenset({THERAPIST_ID}))
OTHERS_CARE = CareFile("pt_others", frozenset({OTHER_THERAPIST_ID}))

POLICY = """
                   admin ther ther-x key-r key-c key-x key-0 key-pr key-pw patient guest host host-dev host-out host-away patient-x plan plan-x
LIST_VISITS        Y     .    .      Y     .     .     Y     .      .      .       .     .    .        .        .         .         .    .
CREATE_VISIT       Y     .    .      .     Y     .     Y     .      .      .       .     .    .        .        .         .         .    .
VIEW_VISIT         Y     Y    .      Y     .     Y     Y     .      .      .       .     .    .        .        .         .         .    .
HOST_VISIT         .     Y    .      .     .     .     .     .      .      .       .     .    .        .        .         .         .    .
CANCEL_VISIT       Y     .    .      .     .     Y     Y     .      .      .       .     .    .        .        .         .         .    .
REISSUE_LINK       Y     .    .      .     .     Y     Y     .      .      .       .     .    .        .        .         .         .    .
REVOKE_LINK        Y     .    .      .     .     Y     Y     .      .      .       .     .    .        .        .         .         .    .
ADD_GUEST          Y     .    .      .     .     Y     Y     .      .      .       .     .    .        .        .         .         .    .
MANAGE_ACCOUNTS    Y     .    .      .     .     .     .     .      .      .       .     .    .        .        .         .         .    .
MANAGE_API_KEYS    Y     .    .      .     .     .     .     .      .      .       .     .    .        .        .         .         .    .
READ_AUDIT_LOG     Y     .    .      .     .     .     .     .      .      .       .     .    .        .        .         .         .    .
READ_JOBS          Y     .    .      .     .     .     .     .      .      .       .     .    .        .        .         .         .    .
MANAGE_OUTBOX      Y     .    .      .     .     .     .     .      .      .       .     .    .        .        .         .         .    .
MANAGE_CLINIC      Y     .    .      .     .     .     .     .      .      .       .     .    .        .        .         .         .    .
OPEN_VISIT         .     .    .      .     .     .     .     .      .      Y       Y     Y    Y        .        .         .         .    .
READ_PROGRAM       .     .    .      .     .     .     .     .      .      Y       Y     Y    Y        .        .         .         .    .
CHANGE_PROGRAM     .     .    .      .     .     .     .     .      .      .       .     Y    Y        .        .         .         .    .
RECORD_MEASUREMENT .     .    .      .     .     .     .     .      .      .       .     Y    Y        .        .         .         .    .
LIST_PATIENTS      Y     .    .      .     .     .     .     Y      .      .       .     .    .        .        .         .         .    .
CREATE_PATIENT     Y     .    .      .     .     .     .     .      Y      .       .     .    .        .        .         .         .    .
VIEW_PATIENT       Y     Y    .      .     .     .     .     Y      Y      .       .     .    .        .        .         .         .    .
CHANGE_CARE        Y     Y    .      .     .     .     .     .      Y      .       .     .    .        .        .         .         .    .
USE_PLAN           .     .    .      .     .     .     .     .      .      .       .     .    .        .        .         .         Y    .
"""


def _table() -> dict[tuple[str, str], bool]:
    header, *rows = POLICY.strip().splitlines()
    columns = header.split()
    cells = {}
    for row in rows:
        action, *marks = row.split()
        assert len(marks) == len(columns), action
        for column, mark in zip(columns, marks):
            assert mark in ("Y", "."), (action, column)
            cells[(action, column)] = mark == "Y"
    return cells


TABLE = _table()


def test_the_table_states_every_action_for_every_actor():
    assert {a for a, _ in TABLE} == {a.name for a in Action}
    assert {c for _, c in TABLE} == set(ACTORS)


@pytest.mark.parametrize(("action", "column"), sorted(TABLE))
async def test_allowed_answers_as_the_table_says(action, column):
    actor, visit = ACTORS[column]
    act = Action[action]
    resource = {Kind.CLINIC: CLINIC, Kind.VISIT: visit, Kind.PLAN: OWN_PLAN,
                Kind.CARE: OTHERS_CARE if column == "ther-x" else OWN_CARE}[act.kind]
    assert await allowed(actor, act, resource) is TABLE[(action, column)]


SOME_VISIT = {
    # (column, action): on some visit (resource None): what an admin page asks first
    ("ther", "VIEW_VISIT"): True,
    ("ther", "HOST_VISIT"): True,
    ("ther", "CANCEL_VISIT"): False,
    ("ther", "REISSUE_LINK"): False,
    ("ther", "CREATE_VISIT"): False,
    ("ther", "READ_AUDIT_LOG"): False,
    ("admin", "CANCEL_VISIT"): True,
    ("key-r", "VIEW_VISIT"): True,
    ("key-r", "CANCEL_VISIT"): False,
}


@pytest.mark.parametrize(("column", "action"), sorted(SOME_VISIT))
async def test_on_some_visit_a_therapist_may_see_but_not_manage(column, action):
    actor, _ = ACTORS[column]
    assert await allowed(actor, Action[action], None) is SOME_VISIT[(column, action)]


REFUSED_LINKS = [
    # (visit, role, browser, why)
    (OWN, "therapist", Browser(signed_in=None), LinkProblem.STAFF_SIGN_IN),
    (OWN, "therapist", Browser(signed_in=_user(OTHER_THERAPIST_ID, "therapist")),
     LinkProblem.WRONG_ACCOUNT),
    (NO_ACCOUNT, "therapist", Browser(holds=False), LinkProblem.LINK_IN_USE),
]


@pytest.mark.parametrize(("visit", "role", "browser", "problem"), REFUSED_LINKS)
async def test_a_therapist_link_opens_only_as_its_account_or_on_its_device(
        visit, role, browser, problem):
    # Every power of her link, not only opening the visit: the policy is the whole rule,
    # whatever a handler asked before.
    for action in (Action.OPEN_VISIT, Action.READ_PROGRAM, Action.CHANGE_PROGRAM,
                   Action.RECORD_MEASUREMENT):
        verdict = await decide(_link(visit, role, browser), action, visit)
        assert not verdict and verdict.problem is problem, action


async def test_a_patient_link_does_not_ask_about_the_browser():
    class Refusing(Browser):
        async def staff_user(self) -> User | None:
            raise AssertionError("a patient's link needs no staff account")

        async def holds_link(self) -> bool:
            raise AssertionError("a patient's link is bound to no device")

    assert await allowed(_link(OWN, "patient", Refusing()), Action.OPEN_VISIT, OWN)


async def test_a_link_for_another_visit_is_refused_as_wrong_visit():
    verdict = await decide(_link(OTHERS, "patient"), Action.OPEN_VISIT, OWN)
    assert not verdict and verdict.problem is LinkProblem.WRONG_VISIT


async def test_asking_about_the_wrong_kind_of_resource_is_an_error_not_a_no():
    with pytest.raises(TypeError, match="visit.cancel applies to a visit"):
        await allowed(ADMIN, Action.CANCEL_VISIT, CLINIC)
    with pytest.raises(TypeError, match="audit.read applies to a clinic"):
        await allowed(ADMIN, Action.READ_AUDIT_LOG, OWN)


def test_stored_scopes_read_back_and_an_unknown_scope_gives_nothing():
    assert parse_scopes(scopes_text(VISIT_SCOPES)) == VISIT_SCOPES
    assert parse_scopes(scopes_text(ALL_SCOPES)) == ALL_SCOPES
    assert scopes_text(VISIT_SCOPES) == "visits:read visits:create visits:change"
    assert parse_scopes("visits:read visits:delete") == {KeyScope.READ}
    assert parse_scopes("") == frozenset()


async def test_a_key_with_no_known_scope_may_do_nothing():
    nothing = KeyActor(9, parse_scopes("visits:delete"))
    assert not [a for a in Action if await allowed(nothing, a)]
