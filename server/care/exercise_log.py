"""The exercise log: a session the patient logged, checked; the pain-flag rule; storing it.

A session arrives as JSON from her plan page (perhaps late and twice: a log made offline is
sent again until the server answers), is checked here into a `LoggedSession`, and is
stored by `log_session` in one transaction with the pain flags it raises. Text a patient
reads is a message id marked with `N_`, translated where her language is known.

An entry may carry the repetitions she did (`reps`) and, when her phone's camera counted
them, the measurement it used and its best value (`measurement`, `measured_peak`: both or
neither, the measurement the one web/measure/measurements.json gives for the exercise, the
value within its range). Such an entry also stores a home result in `measurements`, so her
therapist's trend holds home results beside those saved in calls.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Mapping, Sequence

import msgspec

from server.care.field_error import FieldError
from server.auth.secrets_util import new_id
from server.http.i18n import N_
from server.http.schemas import MAX_REPS
from server.measure.definitions import Definitions, shipped
from server.storage import exercise_log as store
from server.storage import measurements as measured
from server.storage.audit_events import by_patient
from server.storage.exercise_log import PainFlag
from server.storage.interface import Connection, Database
from server.visits.visit_input import VisitInputError, clean_name

CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
"""The idempotency key her page makes for a session (one key, one stored session)."""
FUTURE_SECONDS = 5 * 60
"""How far ahead of the server's clock `done_at` may be (a phone's clock runs fast)."""
PAST_DAYS = 30
"""How old a session may be when it arrives (a log kept offline for a while)."""
CREATED_SLACK_SECONDS = 60
"""An assignment made up to this long after `done_at` still counts as live then (clocks)."""
MAX_ENTRIES = 30
"""Exercises one session may hold."""
NOTE_MAX = 500
"""Characters of her note."""
SCALE = (0, 10)
"""Pain and effort: whole numbers on this scale."""
STATUSES = ("done", "partly", "skipped")
"""What she says of each exercise; done and partly carry a pain, skipped none."""
WITH_PAIN = ("done", "partly")
"""The statuses that count as doing the exercise (adherence) and carry a pain."""

HIGH_PAIN = 7
"""The pain-flag rule, written once. An entry's pain of HIGH_PAIN or more raises a `high`
flag. Otherwise a pain RISE or more above her usual raises a `rise` flag, where her usual is
the median of her previous ratings of that exercise in this plan (sessions done before this
one, the last USUAL_OF_LAST at most) and exists only with at least USUAL_NEEDS of them.
At most one flag an entry.

Defaults chosen by us, not a published rule: 7/10 is the bottom of the "severe" band
(7-10, "Severe Pain (disabling; unable to perform ADLs)"; physiotherapy.ca, Pain Science
Division, "Numeric Rating Scale (NRS-11)",
https://physiotherapy.ca/divisions/pain-science/numeric-rating-scale-nrs-11/); the
pain-monitoring model (Silbernagel et al. 2007, Am J Sports Med 35(6):897-906,
https://read.qxmd.com/read/17307888/continued-sports-activity-using-a-pain-monitoring-model-during-rehabilitation-in-patients-with-achilles-tendinopathy-a-randomized-controlled-study ;
its bands, not in the abstract, as summarised at https://bim.physio/the-pain-monitoring-model/)
treats >5/10 as unacceptable. A rise of 3 exceeds the NPRS minimum detectable change of 2
(Childs et al. 2005, Spine 30(11):1331-4, https://pubmed.ncbi.nlm.nih.gov/15928561/).
The median-of-last-10 baseline is our choice."""
RISE = 3
USUAL_OF_LAST = 10
USUAL_NEEDS = 3
FLAG_REASONS = ("high", "rise")

_SESSION_FIELDS = frozenset({"client_key", "done_at", "effort", "note", "entries"})
_ENTRY_FIELDS = frozenset({"assignment_id", "status", "pain", "reps", "measurement",
                           "measured_peak"})
_UNREADABLE = N_("This log could not be read. Please try again.")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")
_EPOCH = date(1970, 1, 1)


class LogError(FieldError):
    """A logged session (or review time) the server cannot take: `field` names it
    (`entries[2].pain`), `message` is a message id for the catalog, `values` fill it."""


@dataclass(frozen=True)
class LoggedEntry:
    """One exercise of a session: the assignment, done / partly / skipped, her pain, the
    repetitions she did, and what the camera measured when it counted them."""

    assignment_id: int
    status: str
    pain: int | None
    reps: int | None = None
    measurement: str | None = None
    measured_peak: float | None = None


@dataclass(frozen=True)
class LoggedSession:
    """A session as checked by `parse_session`; assignments are checked when stored."""

    client_key: str
    done_at: int
    effort: int | None
    note: str
    entries: tuple[LoggedEntry, ...]


@dataclass(frozen=True)
class LogResult:
    """What logging a session gave: its id and day, the flags it raised, and whether it
    was a repeat of a key already stored (then nothing was written and this is the first's)."""

    session_id: str
    day: int
    """The clinic's calendar day of the session (days since 1970-01-01)."""
    repeat: bool
    flags: tuple[PainFlag, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The result for the API."""
        return {"session_id": self.session_id, "day": day_date(self.day).isoformat(),
                "repeat": self.repeat, "flags": [flag.as_json() for flag in self.flags]}


def day_number(ts: int, tz: tzinfo) -> int:
    """The calendar day of unix time `ts` in `tz`, as days since 1970-01-01."""
    return (datetime.fromtimestamp(ts, tz).date() - _EPOCH).days


def day_date(day: int) -> date:
    """The date of a day number (`day_number`)."""
    return date.fromordinal(_EPOCH.toordinal() + day)


def date_day(when: date) -> int:
    """The day number of a date (the inverse of `day_date`)."""
    return (when - _EPOCH).days


def whole_number(value: Any, field_name: str, low: int, high: int) -> int:
    """`value` as a whole number from `low` to `high` (a bool is not one), else LogError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LogError(field_name, N_("Choose a whole number from {low} to {high}."),
                       low=low, high=high)
    return value


def parse_session(raw: Any, *, now: int, measures: Definitions | None = None) -> LoggedSession:
    """A session from her page (a decoded JSON object, or a msgspec Struct of one) checked,
    or LogError naming the field. `measures` checks a camera's count (by default the
    shipped measurements file)."""
    if isinstance(raw, msgspec.Struct):
        raw = msgspec.to_builtins(raw)
    if not isinstance(raw, Mapping):
        raise LogError("session", _UNREADABLE)
    unknown = sorted(str(name) for name in set(raw) - _SESSION_FIELDS)
    if unknown:
        # The name is echoed only when it is a plain word (it comes from the client).
        name = unknown[0] if _FIELD_NAME.fullmatch(unknown[0]) else "session"
        raise LogError(name, N_("This log has a field the clinic does not know."))
    key = raw.get("client_key")
    if not isinstance(key, str) or not CLIENT_KEY.fullmatch(key):
        raise LogError("client_key", _UNREADABLE)
    done_at = raw.get("done_at")
    if isinstance(done_at, bool) or not isinstance(done_at, int):
        raise LogError("done_at", N_("Say when you did the exercises."))
    if done_at > now + FUTURE_SECONDS:
        raise LogError("done_at", N_("This time is in the future. Check the date and time on "
                                     "your phone."))
    if done_at < now - PAST_DAYS * 86400:
        raise LogError("done_at", N_("Sessions more than {days} days ago cannot be logged."),
                       days=PAST_DAYS)
    effort = raw.get("effort")
    if effort is not None:
        effort = whole_number(effort, "effort", *SCALE)
    try:
        note = clean_name(raw.get("note"), "note", required=False, max_length=NOTE_MAX) or ""
    except VisitInputError:
        raise LogError("note", N_("The note must be text of at most {max} characters, "
                                  "without special characters."), max=NOTE_MAX) from None
    return LoggedSession(key, done_at, effort, note,
                         _parse_entries(raw.get("entries"), measures or shipped()))


def _parse_count(item: Mapping[str, Any], where: str, status: str,
                 measures: Definitions) -> tuple[int | None, str | None, float | None]:
    """(reps, measurement, measured_peak) of an entry, checked; a skipped one has none."""
    reps, measurement, peak = (item.get(name) for name in ("reps", "measurement",
                                                           "measured_peak"))
    if status not in WITH_PAIN:
        for name, value in (("reps", reps), ("measurement", measurement),
                            ("measured_peak", peak)):
            if value is not None:
                raise LogError(f"{where}.{name}", _UNREADABLE)
        return None, None, None
    if reps is not None:
        reps = whole_number(reps, f"{where}.reps", 0, MAX_REPS)
    if measurement is None and peak is None:
        return reps, None, None
    if not isinstance(measurement, str) or measurement not in measures.measurements:
        raise LogError(f"{where}.measurement", _UNREADABLE)
    if not measures.measurements[measurement].holds(peak):
        raise LogError(f"{where}.measured_peak", _UNREADABLE)
    return reps, measurement, float(peak)


def _parse_entries(raw: Any, measures: Definitions) -> tuple[LoggedEntry, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ENTRIES:
        raise LogError("entries", N_("Log from 1 to {max} exercises."), max=MAX_ENTRIES)
    entries: list[LoggedEntry] = []
    seen: set[int] = set()
    for i, item in enumerate(raw):
        where = f"entries[{i}]"
        if not isinstance(item, Mapping) or set(item) - _ENTRY_FIELDS:
            raise LogError(where, _UNREADABLE)
        assignment_id = item.get("assignment_id")
        # A row id is a positive 64-bit integer; anything else is no assignment of hers.
        if isinstance(assignment_id, bool) or not isinstance(assignment_id, int) \
                or not 0 < assignment_id < 2 ** 63:
            raise LogError(f"{where}.assignment_id", N_("This exercise is not in your program."))
        if assignment_id in seen:
            raise LogError(f"{where}.assignment_id", N_("This exercise is in the log twice."))
        seen.add(assignment_id)
        status = item.get("status")
        if status not in STATUSES:
            raise LogError(f"{where}.status", N_("Say whether you did it, partly did it or "
                                                 "skipped it."))
        pain = item.get("pain")
        if status in WITH_PAIN:
            if pain is None:
                raise LogError(f"{where}.pain", N_("Say how much it hurt, from 0 to 10."))
            pain = whole_number(pain, f"{where}.pain", *SCALE)
        elif pain is not None:
            raise LogError(f"{where}.pain", N_("A skipped exercise has no pain to give."))
        entries.append(LoggedEntry(assignment_id, status, pain,
                                   *_parse_count(item, where, status, measures)))
    return tuple(entries)


def usual_pain(previous: Sequence[int]) -> float | None:
    """Her usual pain of an exercise: the median of her previous ratings (newest first,
    the last USUAL_OF_LAST), or None with fewer than USUAL_NEEDS."""
    recent = list(previous[:USUAL_OF_LAST])
    return float(statistics.median(recent)) if len(recent) >= USUAL_NEEDS else None


def pain_flag(pain: int, previous: Sequence[int]) -> tuple[str, float | None] | None:
    """(reason, usual) of the flag an entry's pain raises (see HIGH_PAIN), given her
    previous ratings of the exercise newest first; None when it raises none."""
    usual = usual_pain(previous)
    if pain >= HIGH_PAIN:
        return "high", usual
    if usual is not None and pain - usual >= RISE:
        return "rise", usual
    return None


async def log_session(db: Database, plan_id: str, session: LoggedSession | Mapping[str, Any], *,
                      tz: tzinfo, now: int, measures: Definitions | None = None) -> LogResult:
    """Store a session of the plan with its entries, the flags it raises and the home
    results the camera measured, in one transaction; a repeat of a stored `client_key`
    stores nothing and gives the first session's result. LogError (nothing stored) when a
    field, an assignment that is not the plan's or was not live at `done_at`, or a
    measurement that does not measure the entry's exercise, is refused. `measures`: the
    app's measurements (by default the shipped file)."""
    measures = measures or shipped()
    checked = session if isinstance(session, LoggedSession) else parse_session(
        session, now=now, measures=measures)
    session_id = new_id("ls_", 12)
    day = day_number(checked.done_at, tz)
    async with db.transaction() as conn:
        stored = await store.insert_session(
            conn, session_id=session_id, plan_id=plan_id, client_key=checked.client_key,
            done_at=checked.done_at, day=day, effort=checked.effort, note=checked.note, now=now)
        if not stored:
            first = await store.session_by_key(conn, plan_id, checked.client_key)
            assert first is not None, "a conflicting key has a row"
            flags = await store.flags_of_session(conn, first[0])
            return LogResult(first[0], first[1], True, tuple(flags))
        entries = await _entries_to_store(conn, plan_id, checked, measures)
        rated = sorted({e.exercise for e in entries if e.pain is not None})
        previous = await store.earlier_pain(conn, plan_id, rated, checked.done_at,
                                            USUAL_OF_LAST) if rated else {}
        await store.insert_entries(conn, session_id=session_id, plan_id=plan_id,
                                   done_at=checked.done_at, entries=entries)
        raised = []
        for entry in entries:
            if entry.pain is None:
                continue
            flag = pain_flag(entry.pain, previous[entry.exercise])
            if flag is not None:
                raised.append(store.NewFlag(entry.exercise, entry.pain, flag[1], flag[0]))
        flags = await store.insert_flags(conn, session_id=session_id, plan_id=plan_id, now=now,
                                         flags=raised)
        await _store_home_results(conn, plan_id, entries, done_at=checked.done_at)
    return LogResult(session_id, day, False, tuple(flags))


async def _store_home_results(conn: Connection, plan_id: str,
                              entries: Sequence[store.NewEntry], *, done_at: int) -> None:
    """A `measurements` row (source 'home', dated when she did it) for each entry the
    camera measured; how long it measured is not sent, so `seconds` is 0."""
    counted = [(e, e.measurement, e.measured_peak) for e in entries
               if e.measurement is not None and e.measured_peak is not None]
    patient_id = await store.patient_of_plan(conn, plan_id) if counted else None
    if patient_id is None:
        return
    await measured.insert_measurements(conn, [
        measured.NewMeasurement(patient_id=patient_id, plan_id=plan_id, visit_id=None,
                                measurement=measurement, exercise=e.exercise, side=None,
                                peak=peak, reps=e.reps or 0, seconds=0.0, trace=None,
                                source="home")
        for e, measurement, peak in counted],
        created_at=done_at, created_by=by_patient(patient_id))


async def _entries_to_store(conn: Connection, plan_id: str, session: LoggedSession,
                            measures: Definitions) -> list[store.NewEntry]:
    """The entries with their exercise, once each assignment is known to be this plan's
    and live when she did the session, and a camera's measurement the one of its exercise
    (raises LogError, rolling the session back)."""
    known = await store.assignments_of_plan(conn, plan_id,
                                             [e.assignment_id for e in session.entries])
    entries = []
    for i, entry in enumerate(session.entries):
        assignment = known.get(entry.assignment_id)
        if assignment is None:
            raise LogError(f"entries[{i}].assignment_id", N_("This exercise is not in your program."))
        stopped = assignment.stopped_at is not None and assignment.stopped_at <= session.done_at
        if stopped or assignment.created_at > session.done_at + CREATED_SLACK_SECONDS:
            raise LogError(f"entries[{i}].assignment_id",
                           N_("This exercise was not in your program at that time."))
        if entry.measurement is not None \
                and measures.measurement_for(assignment.exercise) != entry.measurement:
            raise LogError(f"entries[{i}].measurement", _UNREADABLE)
        entries.append(store.NewEntry(entry.assignment_id, assignment.exercise, entry.status,
                                      entry.pain, entry.reps, entry.measurement,
                                      entry.measured_peak))
    return entries


async def acknowledge_flag(db: Database, flag_id: int, plan_id: str, *, by: str, now: int) -> bool:
    """Acknowledge an open flag of this plan (`by`: the audit actor, e.g. `user:3`); False
    when the plan has no such open flag. The caller writes the audit event."""
    if isinstance(flag_id, bool) or not isinstance(flag_id, int):
        return False
    async with db.transaction() as conn:
        return await store.acknowledge(conn, flag_id, plan_id, by=by, now=now)


OPEN_FLAGS_LIMIT = 200
"""Flags the dashboard lists at most."""


async def open_flags(db: Database, plan_ids: Sequence[str] | None = None,
                     therapist_id: int | None = None, *,
                     limit: int = OPEN_FLAGS_LIMIT) -> list[PainFlag]:
    """Open flags of active plans, newest first, with plan and patient ids: of the plans
    `therapist_id` leads (a therapist's dashboard), of `plan_ids`, or of all (an admin's)."""
    return await store.open_flags(db, plan_ids=plan_ids, therapist_id=therapist_id,
                                  limit=max(1, min(limit, OPEN_FLAGS_LIMIT)))
