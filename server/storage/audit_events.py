"""Every audit event Visitroom records, one declared type each, with its fields.

After datasette's `events.py`. A row of `events` stays an action string and a detail JSON
object: the type's tag is the action, its fields are the detail (ids and codes, never a
name, a token or an address). A field marked `UNSET` is left out of the detail when not
given, as the free-form details of older versions did, so rows written before these types
read back the same, and a row whose action no type declares still shows as it is stored.

The whole list is kept in one place, longer than a module usually is, so that what the
clinic audits reads at once. Use them as `audit.LinkOpened(role="patient")` (`from server.storage import audit_events
as audit`); `record_event` takes the instance.
"""

from __future__ import annotations

from typing import Any, ClassVar


import msgspec
from msgspec import UNSET, UnsetType


def by_user(user_id: int) -> str:
    """The audit actor of a staff account."""
    return f"user:{user_id}"


def by_participant(participant_id: str) -> str:
    """The audit actor of a visit participant acting through her link."""
    return f"participant:{participant_id}"


def by_patient(patient_id: str) -> str:
    """The audit actor of a patient acting through her plan link."""
    return f"patient:{patient_id}"


def by_key(key_id: int) -> str:
    """The audit actor of an API key."""
    return f"api_key:{key_id}"


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="action"):
    """An audit event; each subclass declares one action (its tag) and its fields."""

    collapse: ClassVar[bool] = False
    """Repeats by one actor on one visit within a minute count in the first row: events a
    reload or a flaky connection repeats many times a minute, which must not push
    everything else out of sight."""
    collapse_by_detail: ClassVar[bool] = False
    """Collapsed only into a row with the same detail."""

    @property
    def action(self) -> str:
        """The action name this type records."""
        return str(self.__struct_config__.tag)

    def detail(self) -> dict[str, Any]:
        """The fields as the row's detail object."""
        fields = msgspec.to_builtins(self)
        fields.pop("action", None)
        return fields


# Visits and their links.

class VisitCreated(AuditEvent, frozen=True, tag="visit.created"):
    """A visit was created (admin page, API or CLI)."""

    kind: str


class VisitCancelled(AuditEvent, frozen=True, tag="visit.cancelled"):
    """A scheduled visit was cancelled; every link of it stopped."""


class VisitEnded(AuditEvent, frozen=True, tag="visit.ended"):
    """The call is over: the therapist ended it, or its window closed."""

    reason: str
    actor_device: str | None | UnsetType = UNSET


class VisitRead(AuditEvent, frozen=True, tag="visit.read"):
    """An API key read one visit (with its links), and how many kept chat messages it was
    handed (only when it was: a key with patients:read, chat kept)."""

    chat: int | UnsetType = UNSET


class VisitsListed(AuditEvent, frozen=True, tag="visits.listed"):
    """An API key listed visits; the filters it used, and whether links were handed out."""

    count: int
    status: str | UnsetType = UNSET
    since: int | UnsetType = msgspec.field(default=UNSET, name="from")
    until: int | UnsetType = msgspec.field(default=UNSET, name="to")
    links: bool | UnsetType = UNSET


class LinkOpened(AuditEvent, frozen=True, tag="link.opened"):
    """A participant opened her visit link."""

    collapse = True
    role: str


class LinkRefused(AuditEvent, frozen=True, tag="link.refused"):
    """A valid visit link was refused to this browser (another account, another device)."""

    collapse = True
    participant: str
    problem: str
    device: str | None


class LinkBound(AuditEvent, frozen=True, tag="link.bound"):
    """A therapist link without an account was bound to the first device that opened it."""

    participant: str
    device: str


class LinkReissued(AuditEvent, frozen=True, tag="link.reissued"):
    """A participant got a new link; the old one stopped."""

    participant: str


class LinkRevoked(AuditEvent, frozen=True, tag="link.revoked"):
    """A participant's link was stopped without a new one."""

    participant: str
    actor_device: str | None | UnsetType = UNSET


# People in a visit.

class ParticipantAdded(AuditEvent, frozen=True, tag="participant.added"):
    """A guest was added to a visit."""

    participant: str
    role: str


class ParticipantAdmitted(AuditEvent, frozen=True, tag="participant.admitted"):
    """The therapist let a participant into the call."""

    participant: str
    actor_device: str | None | UnsetType = UNSET


class ParticipantDenied(AuditEvent, frozen=True, tag="participant.denied"):
    """The therapist turned a participant away."""

    participant: str
    actor_device: str | None | UnsetType = UNSET


class ParticipantRemoved(AuditEvent, frozen=True, tag="participant.removed"):
    """The therapist moved an admitted participant out of the call: she waits again."""

    participant: str
    actor_device: str | None | UnsetType = UNSET


class ParticipantDeviceDenied(AuditEvent, frozen=True, tag="participant.device_denied"):
    """The therapist turned away one device on a participant's link."""

    participant: str
    device: str | None
    actor_device: str | None | UnsetType = UNSET


class HostReplaced(AuditEvent, frozen=True, tag="host.replaced"):
    """The therapist's link opened on another device, which took the host's place."""

    participant: str
    device: str | None
    previous_device: str | None
    was_connected: bool


# What a visit shows and assigns (clinical content: ids and slugs only).

class DemoShown(AuditEvent, frozen=True, tag="demo.shown"):
    """The therapist showed an exercise demo in the call."""

    collapse = True
    collapse_by_detail = True
    """Which demos a patient saw is clinical content, so two exercises are never one row."""
    exercise: str


class ProgramAssigned(AuditEvent, frozen=True, tag="program.assigned"):
    """An exercise was added to the patient's home program."""

    assignment: int
    exercise: str


class ProgramRemoved(AuditEvent, frozen=True, tag="program.removed"):
    """An exercise was taken off the patient's home program."""

    assignment: int


class ProgramChanged(AuditEvent, frozen=True, tag="program.changed"):
    """An exercise's dosage changed: `replaces` stopped, `assignment` added in its place."""

    assignment: int
    replaces: int


class MeasurementRecorded(AuditEvent, frozen=True, tag="measurement.recorded"):
    """The therapist saved a measurement taken in the call to the patient's record: the
    row's id only (never what was measured or its value; the row's visit is the event's)."""

    measurement: int


# Patients and their care between visits (ids only: never a name, an answer or a pain).

class PatientCreated(AuditEvent, frozen=True, tag="patient.created"):
    """A patient record was made."""

    patient: str


class PatientChanged(AuditEvent, frozen=True, tag="patient.changed"):
    """A patient's record changed (which fields, never their values)."""

    patient: str
    fields: list[str]


class PatientRead(AuditEvent, frozen=True, tag="patient.read"):
    """A patient's record was read through the API."""

    patient: str


class PatientsListed(AuditEvent, frozen=True, tag="patients.listed"):
    """The patient list was read through the API."""

    count: int


class PlanCreated(AuditEvent, frozen=True, tag="plan.created"):
    """A plan of care was started for a patient."""

    plan: str
    patient: str


class PlanClosed(AuditEvent, frozen=True, tag="plan.closed"):
    """A plan of care was closed: its link stops."""

    plan: str


class PlanLinkReissued(AuditEvent, frozen=True, tag="plan.link_reissued"):
    """The patient's plan link was issued again; the one before stops."""

    plan: str


class PlanLinkRevoked(AuditEvent, frozen=True, tag="plan.link_revoked"):
    """The patient's plan link was stopped."""

    plan: str


class QuestionnaireAttached(AuditEvent, frozen=True, tag="questionnaire.attached"):
    """A questionnaire was attached to a plan (or its interval changed)."""

    plan: str
    instrument: str
    every_weeks: int


class QuestionnaireDetached(AuditEvent, frozen=True, tag="questionnaire.detached"):
    """A questionnaire was taken off a plan."""

    plan: str
    instrument: str


class PainFlagAcknowledged(AuditEvent, frozen=True, tag="pain_flag.acknowledged"):
    """A therapist acknowledged a pain flag."""

    flag: int
    plan: str


class ReviewMinutesLogged(AuditEvent, frozen=True, tag="review.logged"):
    """A therapist logged time spent reviewing a patient's data."""

    plan: str
    minutes: int


class PlanMessageWritten(AuditEvent, frozen=True, tag="plan.message"):
    """A message was written on a plan's thread, by the patient or a staff account (the
    row's actor); ids only, never the text."""

    plan: str
    message: int
    author: str


class Unsubscribed(AuditEvent, frozen=True, tag="patient.unsubscribed"):
    """A patient stopped email reminders through the link in one."""

    patient: str


# Staff accounts and sign-in.

class AccountCreated(AuditEvent, frozen=True, tag="account.created"):
    """A staff account was created."""

    user: int
    role: str


class AccountActivated(AuditEvent, frozen=True, tag="account.activated"):
    """A therapist account was made active again."""

    user: int


class AccountDeactivated(AuditEvent, frozen=True, tag="account.deactivated"):
    """A therapist account was deactivated; her live sockets closed."""

    user: int


class AccountUnlocked(AuditEvent, frozen=True, tag="account.unlocked"):
    """`run.py unlock` lifted an account's sign-in lock."""

    user: int


class LoginSucceeded(AuditEvent, frozen=True, tag="login.succeeded"):
    """A staff member signed in (`while_locked`: from her own address, through a lock)."""

    while_locked: bool | UnsetType = UNSET


class LoginRefused(AuditEvent, frozen=True, tag="login.refused"):
    """A right password, refused (another attempt locked the account meanwhile)."""

    reason: str


class LoginFailed(AuditEvent, frozen=True, tag="login.failed"):
    """A wrong password; for an unknown email, its keyed tag (never its text)."""

    email_tag: str | UnsetType = UNSET


class LoginLocked(AuditEvent, frozen=True, tag="login.locked"):
    """A wrong password that locked the account (or the unknown email's tag)."""

    email_tag: str | UnsetType = UNSET


class LoginThrottled(AuditEvent, frozen=True, tag="login.throttled"):
    """Sign-ins waited: too many from one address (its keyed tag) or server-wide."""

    scope: str
    address_tag: str | UnsetType = UNSET


class SignedOut(AuditEvent, frozen=True, tag="login.signed_out"):
    """A staff member signed out on one browser (`device`, None when it has no device
    cookie), or signed in there as another account. `visits` counts the visits booked with
    her whose link was open then, each asked to close the host seat that session opened
    (not how many sockets were open, which no process knows when the event is written)."""

    device: str | None
    visits: int


# Integrator API keys.

class ApiKeyCreated(AuditEvent, frozen=True, tag="api_key.created"):
    """An admin created an API key, with what it may do."""

    api_key: int
    scopes: list[str] | UnsetType = UNSET


class ApiKeyRevoked(AuditEvent, frozen=True, tag="api_key.revoked"):
    """An admin revoked an API key."""

    api_key: int


class ApiKeyRefused(AuditEvent, frozen=True, tag="api_key.refused"):
    """A live key asked for an action its scopes do not allow (the policy's action name,
    such as `visit.create`); nothing of the visits was changed."""

    collapse = True
    collapse_by_detail = True
    api_key: int
    attempted: str


class ApiKeyFailed(AuditEvent, frozen=True, tag="api_key.failed"):
    """A wrong API key was sent, from the address with this keyed tag."""

    address_tag: str


class ApiKeyThrottled(AuditEvent, frozen=True, tag="api_key.throttled"):
    """Keys from an address wait after too many wrong ones (once a window)."""

    address_tag: str


# The clinic's look (server/clinic/): which fields changed, never their values.

class ClinicSettingsChanged(AuditEvent, frozen=True, tag="clinic.settings_changed"):
    """The admin changed the clinic's name, logo, accent colour or support phone."""

    fields: list[str]


class ProfileChanged(AuditEvent, frozen=True, tag="account.profile_changed"):
    """The admin changed a therapist's credentials, bio or photo."""

    user: int
    fields: list[str]


EVENT_TYPES: dict[str, type[AuditEvent]] = {
    str(cls.__struct_config__.tag): cls for cls in AuditEvent.__subclasses__()}
"""Every declared event type by its action."""


def read_event(action: str, detail: dict[str, Any]) -> AuditEvent | None:
    """A stored row as its declared type; None for an action no type declares (a row an
    older or newer version wrote) or a detail the type cannot read."""
    kind = EVENT_TYPES.get(action)
    if kind is None:
        return None
    try:
        return msgspec.convert({**detail, "action": action}, kind)
    except msgspec.ValidationError:
        return None
