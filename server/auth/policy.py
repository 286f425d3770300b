"""The one access question: may this actor do this action to this resource?

After datasette's `allowed()`: every check a handler makes asks `allowed` (or a guard
built on it, `server/views/guards.py`), and this module is the whole policy.

Actors: a signed-in staff member (`StaffActor`: admin or therapist), a visit participant
acting through her visit link (`ParticipantActor`: patient, guest or therapist) and an
integrator's API key (`KeyActor`, with its scopes), and a patient acting through her plan
link (`PlanActor`). Resources: the clinic as a whole (`CLINIC`: the visit and patient lists,
accounts, keys, the audit log, jobs), one visit, one patient's care (`CareFile`: her record,
or one plan of hers, with the therapists who lead it) or one plan as its patient opens it.
Actions are declared once, in `Action`, each with the kind of resource it applies to.

For an action on visits, `resource=None` asks "on some visit": whether the actor could do
it to any visit at all. Admin pages ask that first, so a therapist gets the same 403 for an
admin-only action on any visit id, and 404 (as for a missing visit) for another
therapist's visit she could otherwise see.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from server.auth.tokens import LinkProblem
from server.storage.audit_events import by_key, by_participant, by_patient, by_user
from server.storage.plans import Plan
from server.storage.users import User
from server.storage.visits import Participant, Visit


class Kind(Enum):
    """The kinds of resource an action applies to."""

    CLINIC = "clinic"
    VISIT = "visit"
    CARE = "care"
    PLAN = "plan"


class Clinic:
    """The clinic as a whole: the resource of actions that name no visit."""

    def __repr__(self) -> str:
        return "CLINIC"


CLINIC = Clinic()


@dataclass(frozen=True)
class CareFile:
    """A patient's care as staff and keys ask about it: her record (every therapist who
    leads or led one of her plans) or one plan of hers (its therapist)."""

    patient_id: str
    therapist_ids: frozenset[int]


class Action(Enum):
    """Everything the policy answers for: (name, kind of resource, what it lets one do)."""

    LIST_VISITS = ("visits.list", Kind.CLINIC, "list every visit")
    CREATE_VISIT = ("visit.create", Kind.CLINIC, "create visits")
    VIEW_VISIT = ("visit.view", Kind.VISIT, "read visits")
    HOST_VISIT = ("visit.host", Kind.VISIT, "open a call as the therapist it is booked with")
    CANCEL_VISIT = ("visit.cancel", Kind.VISIT, "cancel visits")
    REISSUE_LINK = ("link.reissue", Kind.VISIT, "re-issue links")
    REVOKE_LINK = ("link.revoke", Kind.VISIT, "revoke links")
    ADD_GUEST = ("guest.add", Kind.VISIT, "add guests")
    MANAGE_ACCOUNTS = ("accounts.manage", Kind.CLINIC, "manage staff accounts")
    MANAGE_API_KEYS = ("api_keys.manage", Kind.CLINIC, "manage API keys")
    READ_AUDIT_LOG = ("audit.read", Kind.CLINIC, "read the audit log")
    READ_JOBS = ("jobs.read", Kind.CLINIC, "see the background jobs")
    MANAGE_OUTBOX = ("outbox.manage", Kind.CLINIC, "see the outbox and send dead messages again")
    MANAGE_CLINIC = ("clinic.manage", Kind.CLINIC,
                     "set the clinic's name, logo, accent colour and support phone")
    OPEN_VISIT = ("visit.open", Kind.VISIT, "open a visit's pages, socket and home program")
    READ_PROGRAM = ("program.read", Kind.VISIT, "read the patient's home program")
    CHANGE_PROGRAM = ("program.change", Kind.VISIT, "change the patient's home program")
    RECORD_MEASUREMENT = ("measurement.record", Kind.VISIT,
                          "save a measurement taken in the call to the patient's record")
    LIST_PATIENTS = ("patients.list", Kind.CLINIC, "list and search patients")
    CREATE_PATIENT = ("patient.create", Kind.CLINIC, "create patients")
    VIEW_PATIENT = ("patient.view", Kind.CARE,
                    "read a patient's record, plans, program, outcomes and log")
    CHANGE_CARE = ("care.change", Kind.CARE,
                   "start and close plans, attach questionnaires, handle pain flags, "
                   "write to her on her plan")
    USE_PLAN = ("plan.use", Kind.PLAN,
                "open her plan's home page, log sessions, fill questionnaires and write "
                "to her care team")

    def __init__(self, label: str, kind: Kind, description: str) -> None:
        self.label = label
        self.kind = kind
        self.description = description


class KeyScope(Enum):
    """What an integrator's API key may do; a key holds one or more scopes."""

    READ = "visits:read"
    CREATE = "visits:create"
    CHANGE = "visits:change"
    PATIENTS_READ = "patients:read"
    PATIENTS_WRITE = "patients:write"


SCOPE_ACTIONS: dict[KeyScope, frozenset[Action]] = {
    KeyScope.READ: frozenset({Action.LIST_VISITS, Action.VIEW_VISIT}),
    KeyScope.CREATE: frozenset({Action.CREATE_VISIT}),
    # Changing includes reading: each change answers with the visit as it now is.
    KeyScope.CHANGE: frozenset({Action.VIEW_VISIT, Action.CANCEL_VISIT, Action.REISSUE_LINK,
                                Action.REVOKE_LINK, Action.ADD_GUEST}),
    KeyScope.PATIENTS_READ: frozenset({Action.LIST_PATIENTS, Action.VIEW_PATIENT}),
    # Writing includes reading the record it made or changed.
    KeyScope.PATIENTS_WRITE: frozenset({Action.CREATE_PATIENT, Action.VIEW_PATIENT,
                                        Action.CHANGE_CARE}),
}
VISIT_SCOPES = frozenset({KeyScope.READ, KeyScope.CREATE, KeyScope.CHANGE})
"""What every key could do before keys had scopes (migration 0011 gives it to them)."""
ALL_SCOPES = frozenset(KeyScope)
"""Every scope a key may hold."""

ADMIN_ACTIONS = frozenset({
    Action.LIST_VISITS, Action.CREATE_VISIT, Action.VIEW_VISIT, Action.CANCEL_VISIT,
    Action.REISSUE_LINK, Action.REVOKE_LINK, Action.ADD_GUEST, Action.MANAGE_ACCOUNTS,
    Action.MANAGE_API_KEYS, Action.READ_AUDIT_LOG, Action.READ_JOBS, Action.MANAGE_OUTBOX,
    Action.MANAGE_CLINIC, Action.LIST_PATIENTS, Action.CREATE_PATIENT, Action.VIEW_PATIENT,
    Action.CHANGE_CARE})
"""An admin manages the clinic; she is no participant, so she neither hosts nor opens calls."""
THERAPIST_OWN_VISIT_ACTIONS = frozenset({Action.VIEW_VISIT, Action.HOST_VISIT})
"""What a therapist account may do to a visit booked with it (and to no other)."""
THERAPIST_OWN_CARE_ACTIONS = frozenset({Action.VIEW_PATIENT, Action.CHANGE_CARE})
"""What a therapist account may do to the care of a patient whose plan it leads."""
PARTICIPANT_ACTIONS: dict[str, frozenset[Action]] = {
    "patient": frozenset({Action.OPEN_VISIT, Action.READ_PROGRAM}),
    "guest": frozenset({Action.OPEN_VISIT, Action.READ_PROGRAM}),
    "therapist": frozenset({Action.OPEN_VISIT, Action.READ_PROGRAM, Action.CHANGE_PROGRAM,
                            Action.RECORD_MEASUREMENT}),
}
"""What a visit link lets its holder do to its own visit, by the participant's role (what
she may do inside the call is the room's to say: `signaling/room.py`)."""


class LinkBrowser(Protocol):
    """What the policy asks about the browser that holds a visit link."""

    async def staff_user(self) -> User | None:
        """The staff account signed in on this browser, if any."""
        ...

    async def holds_link(self) -> bool:
        """Whether this browser is the device the link is bound to (binding the link to it
        when no device holds it yet)."""
        ...


@dataclass(frozen=True)
class StaffActor:
    """A signed-in admin or therapist."""

    user: User

    @property
    def audit(self) -> str:
        """How the audit log names her."""
        return by_user(self.user.id)


@dataclass(frozen=True)
class KeyActor:
    """An integrator's API key."""

    key_id: int
    scopes: frozenset[KeyScope]

    @property
    def audit(self) -> str:
        """How the audit log names the key."""
        return by_key(self.key_id)


@dataclass(frozen=True)
class ParticipantActor:
    """A visit participant acting through her (verified) visit link, in one browser."""

    participant: Participant
    browser: LinkBrowser

    @property
    def audit(self) -> str:
        """How the audit log names her."""
        return by_participant(self.participant.id)


@dataclass(frozen=True)
class PlanActor:
    """A patient acting through her (verified) plan link."""

    plan_id: str
    patient_id: str

    @property
    def audit(self) -> str:
        """How the audit log names her."""
        return by_patient(self.patient_id)


Actor = StaffActor | KeyActor | ParticipantActor | PlanActor
Resource = Clinic | Visit | CareFile | Plan | None


@dataclass(frozen=True)
class Verdict:
    """The answer, and for a refused visit link, why (each problem has its own page)."""

    allowed: bool
    problem: LinkProblem | None = None

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Verdict(True)
DENIED = Verdict(False)


async def allowed(actor: Actor, action: Action, resource: Resource = None) -> bool:
    """Whether `actor` may do `action` to `resource` (None: to some resource of its kind)."""
    return (await decide(actor, action, resource)).allowed


async def decide(actor: Actor, action: Action, resource: Resource = None) -> Verdict:
    """`allowed` with the reason a visit link is refused."""
    _check_kind(action, resource)
    visit = resource if isinstance(resource, Visit) else None
    if isinstance(actor, StaffActor):
        if action.kind is Kind.CARE:
            return _staff_care(actor.user, action, resource)
        return _staff(actor.user, action, visit)
    if isinstance(actor, KeyActor):
        return Verdict(any(action in SCOPE_ACTIONS[s] for s in actor.scopes))
    if isinstance(actor, PlanActor):
        return Verdict(action is Action.USE_PLAN and isinstance(resource, Plan)
                       and resource.id == actor.plan_id
                       and resource.patient_id == actor.patient_id
                       and resource.status == "active")
    if action.kind is not Kind.VISIT:
        return DENIED
    return await _participant(actor, action, visit)


def _check_kind(action: Action, resource: Resource) -> None:
    # A handler asking about the wrong kind of resource is a bug, never a "no".
    if resource is None:
        return
    kind = (Kind.VISIT if isinstance(resource, Visit) else Kind.CARE
            if isinstance(resource, CareFile) else Kind.PLAN if isinstance(resource, Plan)
            else Kind.CLINIC)
    if kind is not action.kind:
        raise TypeError(f"{action.label} applies to a {action.kind.value}, not {resource!r}")


def _staff(user: User, action: Action, visit: Visit | None) -> Verdict:
    if user.role == "admin":
        return Verdict(action in ADMIN_ACTIONS)
    if user.role == "therapist" and action in THERAPIST_OWN_VISIT_ACTIONS:
        return Verdict(visit is None or visit.therapist_id == user.id)
    return DENIED


def _staff_care(user: User, action: Action, care: Resource) -> Verdict:
    if user.role == "admin":
        return Verdict(action in ADMIN_ACTIONS)
    if user.role == "therapist" and action in THERAPIST_OWN_CARE_ACTIONS:
        return Verdict(care is None or (isinstance(care, CareFile)
                                        and user.id in care.therapist_ids))
    return DENIED


async def _participant(actor: ParticipantActor, action: Action, visit: Visit | None) -> Verdict:
    participant = actor.participant
    if visit is None or participant.visit_id != visit.id:
        return Verdict(False, LinkProblem.WRONG_VISIT)
    # The role's actions first: an action the role never has binds no device.
    if action not in PARTICIPANT_ACTIONS.get(participant.role, frozenset()):
        return DENIED
    if participant.role != "therapist":
        return ALLOWED
    # A therapist's link opens the host's powers, so it is never a bearer token, for any
    # action: see server/auth/access.py for the two ways it is held.
    if visit.therapist_id is not None:
        user = await actor.browser.staff_user()
        if user is None:
            return Verdict(False, LinkProblem.STAFF_SIGN_IN)
        if user.id != visit.therapist_id:
            return Verdict(False, LinkProblem.WRONG_ACCOUNT)
        return ALLOWED
    if not await actor.browser.holds_link():
        return Verdict(False, LinkProblem.LINK_IN_USE)
    return ALLOWED


def describe_scopes() -> str:
    """What each scope lets a key do, in words (for the API's description)."""
    return "; ".join(
        f"{scope.value}: {', '.join(a.description for a in Action if a in SCOPE_ACTIONS[scope])}"
        for scope in KeyScope)


def parse_scopes(text: str) -> frozenset[KeyScope]:
    """The scopes stored in `api_keys.scopes` (space-separated); one this server does not
    know gives nothing."""
    known = {s.value: s for s in KeyScope}
    return frozenset(known[word] for word in text.split() if word in known)


def scopes_text(scopes: frozenset[KeyScope]) -> str:
    """The scopes as `api_keys.scopes` stores them, in declaration order."""
    return " ".join(s.value for s in KeyScope if s in scopes)
