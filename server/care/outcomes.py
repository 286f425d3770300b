"""Outcome questionnaires on a plan of care: attaching them, their rounds, the patient's
fills (the therapist's trend of them: `server/care/outcome_trend.py`).

A questionnaire attached to a plan is asked in rounds, derived and never stored: round k is
due at `plan.starts_at + k * every_weeks * WEEK` (round 0 is the intake; with `every_weeks`
0 there is only round 0), for due times before `plan.ends_at`. Only the latest round
already due can be answered; an older one left open is missed. One fill a round (the
unique index of `outcome_responses`). Scoring is the instruments' (`server.care.
instruments`). Text a person reads is a message id marked with `N_`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from server.care.field_error import FieldError
from server.auth.secrets_util import new_id
from server.care.instruments import (
    INSTRUMENTS,
    AnswerError,
    Answers,
    psfs,
    score,
    validate,
)
from server.http.i18n import N_
from server.storage import audit_events as audit
from server.storage import outcomes as store
from server.storage.events import record_event
from server.storage.interface import Connection, Database
from server.storage.outcomes import Attached, StoredFill
from server.storage.plans import WEEK, Plan

log = logging.getLogger(__name__)

MAX_EVERY_WEEKS = 12
"""The longest interval between rounds; 0 asks at the plan's start only."""
ACTIVE = "active"
_NO_PLAN = N_("This plan of care could not be found.")
_NOT_ATTACHED = N_("This questionnaire is not attached to the plan of care.")
_NOT_ASKED = N_("This questionnaire is not asked at that time.")
_ANSWERED = N_("This questionnaire has already been answered.")


class OutcomeError(FieldError):
    """A request about questionnaires that cannot be done: `field` names what is wrong
    (`instrument`, `every_weeks`, `due_at`, `plan`, or an answer such as `items.pain`),
    `message` is a message id for the catalog, `values` fill its placeholders."""


@dataclass(frozen=True)
class Round:
    """One round of an attached questionnaire: its number (0 the intake) and due time."""

    number: int
    due_at: int


@dataclass(frozen=True)
class Pending:
    """A round the patient can answer now."""

    instrument: str
    round: int
    due_at: int
    every_weeks: int
    first: bool
    """No fill of this questionnaire yet (a PSFS then names its activities)."""
    form: Answers | None = None
    """A PSFS after its first fill: the activities to rate again (scores unset)."""

    def as_json(self) -> dict[str, Any]:
        """The pending round for her page: give `due_at` back with the answers."""
        return {"instrument": self.instrument, "round": self.round, "due_at": self.due_at,
                "every_weeks": self.every_weeks, "first": self.first, "form": self.form}


@dataclass(frozen=True)
class Response:
    """A stored fill with its score (no answers)."""

    id: str
    plan_id: str
    instrument: str
    due_at: int
    answered_at: int
    score: float
    """Rounded as the instrument shows it."""
    parts: Mapping[str, float] = field(default_factory=dict)
    """Subscale scores (PGQ: activity, symptom); empty where not computed."""

    def as_json(self) -> dict[str, Any]:
        """The fill for the API."""
        return {"id": self.id, "plan_id": self.plan_id, "instrument": self.instrument,
                "due_at": self.due_at, "answered_at": self.answered_at, "score": self.score,
                "parts": dict(self.parts)}


def rounds(plan: Plan, every_weeks: int) -> list[Round]:
    """Every round of a questionnaire asked every `every_weeks` weeks (0: at the start
    only), due before the plan's expected end."""
    if plan.starts_at >= plan.ends_at:
        return []
    if every_weeks == 0:
        return [Round(0, plan.starts_at)]
    step = every_weeks * WEEK
    return [Round(k, due) for k, due in enumerate(range(plan.starts_at, plan.ends_at, step))]


def pending_round(plan: Plan, every_weeks: int, fills: Sequence[StoredFill],
                  now: int) -> Round | None:
    """The round of one questionnaire she can answer now: the latest round due at or
    before `now`, unless a fill of it was given since that round fell due (its own, or
    one for an older round after the interval changed). An older unanswered round is
    missed, not pending: she is never asked twice in a row to catch up."""
    due = [r for r in rounds(plan, every_weeks) if r.due_at <= now]
    if not due:
        return None
    latest = due[-1]
    if any(f.due_at == latest.due_at or f.answered_at >= latest.due_at for f in fills):
        return None
    return latest


def _instrument_key(key: Any) -> str:
    if not isinstance(key, str) or key not in INSTRUMENTS:
        raise OutcomeError("instrument", N_("This questionnaire is not available."))
    return key


def _every_weeks(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            0 <= value <= MAX_EVERY_WEEKS):
        raise OutcomeError("every_weeks", N_("Choose how often to ask: at the start only (0), "
                                             "or every 1 to {max} weeks."), max=MAX_EVERY_WEEKS)
    return value


async def _require_active(conn: Connection, plan_id: str) -> None:
    status = await store.plan_status(conn, plan_id)
    if status is None:
        raise OutcomeError("plan", _NO_PLAN)
    if status != ACTIVE:
        raise OutcomeError("plan", N_("This plan of care is closed: its questionnaires "
                                      "cannot be changed."))


async def attach(db: Database, plan: Plan, instrument_key: str, every_weeks: int, *,
                 actor: str, now: int) -> None:
    """Attach a questionnaire to an active plan, or change its interval (0: at the start
    only, else every 1 to 12 weeks), audited in the same transaction; OutcomeError for
    an unknown questionnaire, a bad interval or a closed plan (nothing changed)."""
    key = _instrument_key(instrument_key)
    every = _every_weeks(every_weeks)
    async with db.transaction() as conn:
        await _require_active(conn, plan.id)
        await store.upsert_attached(conn, plan.id, key, every, by=actor, now=now)
        await record_event(conn, audit.QuestionnaireAttached(
            plan=plan.id, instrument=key, every_weeks=every), actor=actor, now=now)


async def detach(db: Database, plan: Plan, instrument_key: str, *, actor: str,
                 now: int) -> None:
    """Take a questionnaire off an active plan (its fills stay in the trend), audited in
    the same transaction; OutcomeError when it is not attached or the plan is closed."""
    key = _instrument_key(instrument_key)
    async with db.transaction() as conn:
        await _require_active(conn, plan.id)
        if not await store.delete_attached(conn, plan.id, key):
            raise OutcomeError("instrument", _NOT_ATTACHED)
        await record_event(conn, audit.QuestionnaireDetached(plan=plan.id, instrument=key),
                           actor=actor, now=now)


async def attached(db: Database, plan_id: str) -> list[Attached]:
    """The questionnaires attached to a plan, with their intervals."""
    return await store.attached_of_plan(db, plan_id)


def _intake(key: str, fills: Sequence[StoredFill]) -> Answers | None:
    """A PSFS's first fill (the one that named the activities); None for others."""
    return fills[0].answers if key == psfs.INSTRUMENT.key and fills else None


async def pending(db: Database, plan: Plan, *, now: int) -> list[Pending]:
    """The rounds she can answer now, one at most per attached questionnaire: the latest
    round due at or before `now` when no fill has been given since it fell due. An older
    unanswered round is missed, not pending. Nothing on a closed plan. A PSFS after its
    first fill carries the form of the activities she named then."""
    if plan.status != ACTIVE:
        return []
    every = {q.instrument: q.every_weeks for q in await store.attached_of_plan(db, plan.id)}
    if not every:
        return []
    fills = await store.fills_of_plan(db, plan.id, with_answers=True)
    found = []
    for key in INSTRUMENTS:  # in the registry's order; a key no instrument has is skipped
        if key not in every:
            continue
        mine = [f for f in fills if f.instrument == key]
        due = pending_round(plan, every[key], mine, now)
        if due is None:
            continue
        intake = _intake(key, mine)
        found.append(Pending(key, due.number, due.due_at, every[key], not mine,
                             None if intake is None else psfs.follow_up_form(intake)))
    return found


def _check_round(plan: Plan, every_weeks: int, fills: Sequence[StoredFill], due_at: int,
                 now: int) -> None:
    """Refuse a fill for a round that is not the one pending now, saying why."""
    asked = [r for r in rounds(plan, every_weeks) if r.due_at == due_at]
    if not asked:
        raise OutcomeError("due_at", _NOT_ASKED)
    if due_at > now:
        raise OutcomeError("due_at", N_("This questionnaire is not due yet."))
    if any(f.due_at == due_at or f.answered_at >= due_at for f in fills):
        raise OutcomeError("due_at", _ANSWERED)
    if pending_round(plan, every_weeks, fills, now) != asked[0]:
        raise OutcomeError("due_at", N_("The time for this questionnaire has passed; a "
                                        "newer one is waiting."))


async def submit(db: Database, plan: Plan, instrument_key: str, answers: Any, *, due_at: int,
                 now: int) -> Response:
    """Store her answers to the round due at `due_at`, scored, in one transaction.
    OutcomeError (nothing stored) when the questionnaire is not attached, the plan is
    closed, the round is not the one pending now (not due yet, already answered, passed)
    or an answer is refused (its field named; a later PSFS must rate the activities of
    her first)."""
    key = _instrument_key(instrument_key)
    if isinstance(due_at, bool) or not isinstance(due_at, int):
        raise OutcomeError("due_at", _NOT_ASKED)
    async with db.transaction() as conn:
        state = await store.plan_for_fill(conn, plan.id, key)
        if state is None:
            raise OutcomeError("plan", _NO_PLAN)
        fresh = replace(plan, status=state.status, starts_at=state.starts_at, weeks=state.weeks)
        if fresh.status != ACTIVE:
            raise OutcomeError("plan", N_("This plan of care is closed."))
        if state.every_weeks is None:
            raise OutcomeError("instrument", _NOT_ATTACHED)
        fills = await store.fills_of_instrument(conn, plan.id, key)
        _check_round(fresh, state.every_weeks, fills, due_at, now)
        try:
            clean = validate(key, answers, intake=_intake(key, fills))
            scored = score(key, clean)
        except AnswerError as error:
            raise OutcomeError(error.field, error.message, **error.values) from None
        stored = StoredFill(new_id("or_", 12), plan.id, key, due_at, now, scored.value, clean)
        if not await store.insert_fill(conn, stored):
            # Another request stored this round first (checked above, settled by the index).
            raise OutcomeError("due_at", _ANSWERED)
    log.info("outcome %s stored for plan %s", stored.id, plan.id)
    return Response(stored.id, plan.id, key, due_at, now, scored.value, dict(scored.parts))


async def outcomes_of_patient(db: Database, patient_id: str) -> list[Response]:
    """Every fill of her plans (plan, questionnaire, due and answer times, score; no
    answers), oldest first, for her record in the API."""
    return [Response(f.id, f.plan_id, f.instrument, f.due_at, f.answered_at, f.score)
            for f in await store.fills_of_patient(db, patient_id)]
