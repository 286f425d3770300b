"""What the therapist reads of the exercise log: adherence (sessions done of planned), the
pain trend per exercise, and the monthly monitoring view with the time she spent
reviewing (which she logs here), exportable as CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from typing import Any, Sequence

from server.storage import audit_events as audit
from server.storage.events import record_event
from server.care.exercise_log import (
    WITH_PAIN,
    LogError,
    date_day,
    day_date,
    day_number,
    whole_number,
)
from server.http.i18n import N_
from server.storage import exercise_log as store
from server.storage.exercise_log import ProgramRow
from server.storage.interface import Database

WINDOWS = (7, 28)
"""The adherence windows, in days (today and the days before it)."""
TREND_POINTS = 60
"""Pain ratings the trend shows per exercise (the last ones)."""
PERIOD_DAYS = 30
"""The monitoring view's period."""
REVIEW_MINUTES = (1, 240)
"""Minutes one review entry may hold."""
CSV_HEADER = ("plan_id", "period", "start", "end", "days_with_data", "review_minutes")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Adherence:
    """Sessions done of planned over the last `days` days (today included)."""

    days: int
    done: int
    """Sessions with an exercise done or partly done, at most the day's planned a day."""
    planned: int

    @property
    def rate(self) -> float | None:
        """Done of planned (at most 1), or None when nothing was planned."""
        return None if self.planned == 0 else round(min(self.done, self.planned) / self.planned, 2)

    def as_json(self) -> dict[str, Any]:
        """The figures for the API."""
        return {"days": self.days, "done": self.done, "planned": self.planned, "rate": self.rate}


def _dose(row: ProgramRow) -> tuple[int, int]:
    """(sessions a day, days a week) an assignment asks for: `per_day` times a day on
    `per_week` days (per_week 0: every day; per_day 0 with per_week: once on those days)."""
    if row.per_week:
        return max(row.per_day, 1), min(row.per_week, 7)
    return (row.per_day, 7) if row.per_day else (0, 0)


def _day_start(day: int, tz: tzinfo) -> int:
    d = day_date(day)
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())


def planned_by_day(program: Sequence[ProgramRow], days: range, tz: tzinfo) -> dict[int, tuple[int, int]]:
    """(sessions, days a week) planned on each day: the assignments live that day (made
    before it ended, not stopped before it began) give the largest sessions a day and the
    largest days a week among them."""
    planned = {}
    for day in days:
        start, end = _day_start(day, tz), _day_start(day + 1, tz)
        doses = [_dose(row) for row in program
                 if row.created_at < end and (row.stopped_at is None or row.stopped_at > start)]
        planned[day] = (max((s for s, _ in doses), default=0), max((w for _, w in doses), default=0))
    return planned


async def adherence(db: Database, plan_id: str, *, now: int, tz: tzinfo) -> list[Adherence]:
    """Adherence over each of WINDOWS, ending today in the clinic's time zone.

    The rule: a day's planned sessions are the largest sessions-a-day among the
    assignments live that day, and its days a week the largest days-a-week (see `_dose`);
    a window plans the sum over its days of sessions × days-a-week / 7, rounded half up
    (so 3 days a week plans 3 in 7 days and 12 in 28). A session counts as done when one
    of its exercises was done or partly done; a day counts at most its planned sessions.

    This is our definition (sessions logged with at least one exercise done or partly
    done, of sessions planned); no validated standard exists (Bollen et al. 2014, "A
    systematic review of measures of self-reported adherence to unsupervised home-based
    rehabilitation exercise programmes, and their psychometric properties", BMJ Open
    4:e005044, https://bmjopen.bmj.com/content/4/6/e005044.abstract : of 61 measures, "The
    majority of measures had no reported validity or reliability testing"). It counts what
    she logs, not what she did.
    """
    today = day_number(now, tz)
    days = range(today - max(WINDOWS) + 1, today + 1)
    program = await store.program_of_plan(db, plan_id)
    planned = planned_by_day(program, days, tz)
    done = await store.sessions_done_by_day(db, plan_id, days[0], today, WITH_PAIN)
    found = []
    for window in WINDOWS:
        window_days = days[-window:]
        total = sum((Fraction(planned[d][0] * planned[d][1], 7) for d in window_days), Fraction(0))
        found.append(Adherence(
            days=window, planned=int(total + Fraction(1, 2)),
            done=sum(min(done.get(d, 0), planned[d][0]) for d in window_days)))
    return found


async def pain_trend(db: Database, plan_id: str) -> dict[str, list[tuple[int, int]]]:
    """Per exercise slug, (done_at, pain) of her done and partly entries, oldest first,
    the last TREND_POINTS of each."""
    trend: dict[str, list[tuple[int, int]]] = {}
    for row in await store.pain_points(db, plan_id, TREND_POINTS):
        trend.setdefault(row["exercise"], []).append((int(row["done_at"]), int(row["pain"])))
    return trend


@dataclass(frozen=True)
class MonitoringRow:
    """One PERIOD_DAYS-day period of a plan: days with logged data, minutes reviewed."""

    plan_id: str
    period: int
    """1 for the period the plan starts with."""
    start: date
    end: date
    """The period's last day (it may lie ahead)."""
    days_with_data: int
    review_minutes: int

    def as_json(self) -> dict[str, Any]:
        """The row for the API (dates in ISO 8601)."""
        return {"plan_id": self.plan_id, "period": self.period, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "days_with_data": self.days_with_data,
                "review_minutes": self.review_minutes}


async def monitoring(db: Database, plan_id: str, *, plan_start: int, now: int,
                     tz: tzinfo) -> list[MonitoringRow]:
    """One row per PERIOD_DAYS days from the plan's start (unix time) to today, in the
    clinic's time zone; none before the plan starts."""
    first, today = day_number(plan_start, tz), day_number(now, tz)
    if today < first:
        return []
    periods = (today - first) // PERIOD_DAYS + 1
    last = first + periods * PERIOD_DAYS - 1
    logged = await store.logged_days(db, plan_id, first, last)
    minutes = await store.review_minutes_by_day(db, plan_id, first, last)
    rows = []
    for n in range(periods):
        start = first + n * PERIOD_DAYS
        end = start + PERIOD_DAYS - 1
        rows.append(MonitoringRow(
            plan_id, n + 1, day_date(start), day_date(end),
            sum(1 for d in logged if start <= d <= end),
            sum(m for d, m in minutes.items() if start <= d <= end)))
    return rows


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (text starting = + - @ gets a
    leading apostrophe, OWASP's advice)."""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def monitoring_csv(rows: Sequence[MonitoringRow]) -> str:
    """The monitoring rows as CSV (RFC 4180: CRLF, quoted where needed), a header first;
    ids, dates and numbers only."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow([_cell(row.plan_id), row.period, row.start.isoformat(),
                         row.end.isoformat(), row.days_with_data, row.review_minutes])
    return out.getvalue()


async def log_review_minutes(db: Database, plan_id: str, user_id: int, minutes: int, *,
                             day: date, now: int, actor: str | None = None) -> int:
    """Store minutes a therapist spent reviewing the plan's data on `day` (with `actor`,
    audited in the same transaction); LogError when the minutes are not 1–240 or the day
    is not a date up to today. Returns the row id."""
    minutes = whole_number(minutes, "minutes", *REVIEW_MINUTES)
    latest = datetime.fromtimestamp(now, timezone.utc).date() + timedelta(days=1)
    if not isinstance(day, date) or isinstance(day, datetime) or day > latest:
        # A day after today anywhere on earth (UTC+14) is refused whatever the clinic's zone.
        raise LogError("day", N_("Choose a day up to today."))
    async with db.transaction() as conn:
        row_id = await store.insert_review_minutes(
            conn, plan_id=plan_id, user_id=user_id, day=date_day(day),
            minutes=minutes, now=now)
        if actor is not None:
            await record_event(conn, audit.ReviewMinutesLogged(plan=plan_id, minutes=minutes),
                               actor=actor, now=now)
        return row_id
