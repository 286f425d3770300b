"""The exercise log: a session checked and stored once in one transaction, the pain-flag
rule at its edges, flags open until acknowledged, adherence, the pain trend and the
monthly monitoring view with its CSV. On SQLite and on PostgreSQL.

Longer than 400 lines: every test here seeds the same rows (`Clinic`, plain SQL, as the
plan-of-care service is written alongside) and reads them through the same store.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date, datetime, timezone
from typing import Any, AsyncIterator
from zoneinfo import ZoneInfo

import msgspec
import pytest

from server.care.adherence import (
    MonitoringRow,
    adherence,
    log_review_minutes,
    monitoring,
    monitoring_csv,
    pain_trend,
)
from server.care.exercise_log import (
    LogError,
    acknowledge_flag,
    log_session,
    open_flags,
    pain_flag,
    parse_session,
)
from server.storage import open_store
from server.storage.interface import Database

pytestmark = pytest.mark.both_engines

UTC = ZoneInfo("UTC")
DAY = 86400
NOW = int(datetime(2026, 12, 7, 20, 0, tzinfo=timezone.utc).timestamp())
"""Monday 7 December 2026, 20:00 UTC: "today" in every test."""
LOG_TABLES = ("log_sessions", "log_entries", "pain_flags", "review_minutes")


class Clinic:
    """Rows the exercise log needs, written with plain SQL: therapists, patients, plans,
    and assignments (each plan has a visit with a patient participant for their keys)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.serial = 0

    async def therapist(self) -> int:
        self.serial += 1
        async with self.db.transaction() as conn:
            async with conn.execute(
                "INSERT INTO users (email, name, role, password_hash, created_at)"
                " VALUES (?, 'T', 'therapist', 'x', 0) RETURNING id",
                (f"t{self.serial}@clinic.test",)) as cur:
                row = await cur.fetchone()
        return int(row[0])

    async def plan(self, plan_id: str, therapist_id: int | None = None, *,
                   status: str = "active", starts_at: int = NOW - 60 * DAY) -> str:
        async with self.db.transaction() as conn:
            await conn.execute("INSERT INTO signing_keys (kid, private_pem, created_at, position)"
                               " VALUES ('k1', 'pem', 0, 1) ON CONFLICT (kid) DO NOTHING")
            await conn.execute("INSERT INTO patients (id, name, name_key, created_at)"
                               " VALUES (?, 'P', 'p', 0)", (f"pt_{plan_id}",))
            await conn.execute("INSERT INTO plans (id, patient_id, condition, starts_at, weeks,"
                               " therapist_id, status, created_at) VALUES (?, ?, 'sij', ?, 8, ?, ?, 0)",
                               (plan_id, f"pt_{plan_id}", starts_at, therapist_id, status))
            await conn.execute("INSERT INTO visits (id, kind, starts_at, ends_at, created_at,"
                               " patient_id, plan_id) VALUES (?, 'evaluation', 0, 1, 0, ?, ?)",
                               (f"v_{plan_id}", f"pt_{plan_id}", plan_id))
            await conn.execute("INSERT INTO participants (id, visit_id, role, display_name, jti,"
                               " kid, issued_at, not_before, expires_at, position)"
                               " VALUES (?, ?, 'patient', 'P', ?, 'k1', 0, 0, 1, 1)",
                               (f"pa_{plan_id}", f"v_{plan_id}", f"j_{plan_id}"))
        return plan_id

    async def assign(self, plan_id: str, exercise: str = "glute-bridge", *, per_day: int = 1,
                     per_week: int = 0, created_at: int = NOW - 60 * DAY,
                     stopped_at: int | None = None) -> int:
        async with self.db.transaction() as conn:
            async with conn.execute(
                "INSERT INTO assignments (visit_id, participant_id, exercise, sets, reps,"
                " hold_seconds, per_day, per_week, created_at, created_by, plan_id, stopped_at)"
                " VALUES (?, ?, ?, 1, 10, 0, ?, ?, ?, 'user:1', ?, ?) RETURNING id",
                (f"v_{plan_id}", f"pa_{plan_id}", exercise, per_day, per_week, created_at,
                 plan_id, stopped_at)) as cur:
                row = await cur.fetchone()
        return int(row[0])


@pytest.fixture
async def db(config) -> AsyncIterator[Database]:
    store = await open_store(config)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def clinic(db) -> Clinic:
    return Clinic(db)


async def counts(db: Database) -> dict[str, int]:
    return {table: (await db.fetchone(f"SELECT COUNT(*) FROM {table}"))[0] for table in LOG_TABLES}


_keys = iter(range(10**6))


def session(*entries: dict[str, Any], done_at: int = NOW - 3600, key: str | None = None,
            **extra: Any) -> dict[str, Any]:
    """A session as her page sends it (a fresh key unless given)."""
    return {"client_key": key or f"key-{next(_keys):06d}", "done_at": done_at,
            "entries": list(entries), **extra}


def done(assignment_id: int, pain: int = 2, status: str = "done") -> dict[str, Any]:
    return {"assignment_id": assignment_id, "status": status, "pain": pain}


def skipped(assignment_id: int) -> dict[str, Any]:
    return {"assignment_id": assignment_id, "status": "skipped"}


async def test_every_refused_field_is_named_and_nothing_is_stored(db, clinic):
    plan = await clinic.plan("pl_a")
    other = await clinic.plan("pl_b")
    a = await clinic.assign(plan)
    b = await clinic.assign(plan, "clam")
    of_other_plan = await clinic.assign(other)
    stopped = await clinic.assign(plan, "bird-dog", stopped_at=NOW - 2 * DAY)
    later = await clinic.assign(plan, "cat-cow", created_at=NOW - 3600 + 61)
    cases: list[tuple[Any, str]] = [
        (["not", "an", "object"], "session"),
        (session(done(a), colour="red"), "colour"),
        ({**session(done(a)), "<b>odd</b>": 1}, "session"),
        (session(done(a), key="short"), "client_key"),
        (session(done(a), key="spaces in it"), "client_key"),
        (session(done(a), key="k" * 65), "client_key"),
        ({"client_key": "key-missing-time", "entries": [done(a)]}, "done_at"),
        (session(done(a), done_at="yesterday"), "done_at"),
        (session(done(a), done_at=True), "done_at"),
        (session(done(a), done_at=NOW + 301), "done_at"),
        (session(done(a), done_at=NOW - 30 * DAY - 1), "done_at"),
        (session(done(a), effort=11), "effort"),
        (session(done(a), effort=-1), "effort"),
        (session(done(a), effort=True), "effort"),
        (session(done(a), effort=2.5), "effort"),
        (session(done(a), note="x" * 501), "note"),
        (session(done(a), note="a\x00b"), "note"),
        (session(done(a), note=7), "note"),
        (session(), "entries"),
        (session(*[done(a)] * 31), "entries"),
        ({"client_key": "key-no-list", "done_at": NOW, "entries": {"0": done(a)}}, "entries"),
        (session("done"), "entries[0]"),
        (session({**done(a), "extra": 1}), "entries[0]"),
        (session(done("1")), "entries[0].assignment_id"),  # type: ignore[arg-type]
        (session(done(True)), "entries[0].assignment_id"),
        (session(done(a), done(b), done(a)), "entries[2].assignment_id"),
        (session(done(a, status="maybe")), "entries[0].status"),
        (session({"assignment_id": a, "status": "done"}), "entries[0].pain"),
        (session(done(a, pain=None)), "entries[0].pain"),  # type: ignore[arg-type]
        (session(done(a, pain=11)), "entries[0].pain"),
        (session(done(a, pain=-1)), "entries[0].pain"),
        (session(done(a, pain=True)), "entries[0].pain"),
        (session(done(a, pain=3, status="skipped")), "entries[0].pain"),
        (session(done(a), done(of_other_plan)), "entries[1].assignment_id"),
        (session(done(a), done(999_999)), "entries[1].assignment_id"),
        (session(done(stopped)), "entries[0].assignment_id"),
        (session(done(later)), "entries[0].assignment_id"),
    ]
    for raw, field in cases:
        with pytest.raises(LogError) as refused:
            await log_session(db, plan, raw, tz=UTC, now=NOW)
        assert (refused.value.field, bool(refused.value.text())) == (field, True), raw
    assert await counts(db) == dict.fromkeys(LOG_TABLES, 0)


async def test_a_session_at_each_accepted_edge_is_stored(db, clinic):
    plan = await clinic.plan("pl_a")
    ids = [await clinic.assign(plan, f"ex-{i}") for i in range(30)]
    just_made = await clinic.assign(plan, "fresh", created_at=NOW - 3600 + 60)
    stopped_after = await clinic.assign(plan, "stops", stopped_at=NOW - 3600 + 1)
    edges = [
        session(*[done(i, pain=0) for i in ids], effort=0, note="x" * 500),
        session(done(ids[0], pain=10), effort=10, done_at=NOW + 300),
        session(skipped(ids[0]), done_at=NOW - 30 * DAY),
        session(done(just_made), done(stopped_after, status="partly")),
    ]
    for raw in edges:
        result = await log_session(db, plan, raw, tz=UTC, now=NOW)
        assert not result.repeat
    assert await counts(db) == {"log_sessions": 4, "log_entries": 30 + 1 + 1 + 2,
                                "pain_flags": 1, "review_minutes": 0}


async def test_a_repeated_client_key_stores_one_session_and_returns_the_first_result(db, clinic):
    plan = await clinic.plan("pl_a")
    a = await clinic.assign(plan)
    first = await log_session(db, plan, session(done(a, pain=8), key="offline-key-1"),
                              tz=UTC, now=NOW)
    again = await log_session(db, plan, session(done(a, pain=1), key="offline-key-1"),
                              tz=UTC, now=NOW + 60)
    assert again.repeat and not first.repeat
    assert (again.session_id, again.day, again.flags) == (first.session_id, first.day, first.flags)
    assert [f.reason for f in again.flags] == ["high"]
    assert await counts(db) == {"log_sessions": 1, "log_entries": 1, "pain_flags": 1,
                                "review_minutes": 0}
    # The key is the plan's own: another plan's page may make the same one.
    other = await clinic.plan("pl_b")
    assert not (await log_session(db, other, session(done(await clinic.assign(other)),
                                                     key="offline-key-1"), tz=UTC, now=NOW)).repeat


class CountingDatabase:
    """The store, counting transactions and the statements run inside or outside them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.transactions = 0
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    async def fetchone(self, *args: Any) -> Any:
        self.statements += 1
        return await self.db.fetchone(*args)

    async def fetchall(self, *args: Any) -> Any:
        self.statements += 1
        return await self.db.fetchall(*args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.transactions += 1
        counter = self

        class Conn:
            def __init__(self, conn: Any) -> None:
                self.conn = conn

            def execute(self, *args: Any) -> Any:
                counter.statements += 1
                return self.conn.execute(*args)

        async with self.db.transaction() as conn:
            yield Conn(conn)


async def test_logging_a_session_is_one_transaction_of_a_bounded_number_of_statements(db, clinic):
    plan = await clinic.plan("pl_a")
    ids = [await clinic.assign(plan, f"ex-{i}") for i in range(30)]
    for n in range(3):  # a history, so her usual pain is read
        await log_session(db, plan, session(*[done(i, pain=1) for i in ids],
                                            done_at=NOW - (n + 2) * DAY), tz=UTC, now=NOW)
    spent = []
    for entries in ([done(ids[0], pain=9)], [done(i, pain=9) for i in ids]):
        counting = CountingDatabase(db)
        result = await log_session(counting, plan, session(*entries), tz=UTC, now=NOW)  # type: ignore[arg-type]
        assert len(result.flags) == len(entries)
        spent.append((counting.transactions, counting.statements))
    assert spent == [(1, 5), (1, 5)]
    # No flag: no flag statement. A repeat: its insert, then the first's row and flags.
    counting = CountingDatabase(db)
    await log_session(counting, plan, session(done(ids[0]), key="key-repeat"), tz=UTC, now=NOW)  # type: ignore[arg-type]
    assert (counting.transactions, counting.statements) == (1, 4)
    await log_session(counting, plan, session(done(ids[0]), key="key-repeat"), tz=UTC, now=NOW)  # type: ignore[arg-type]
    assert (counting.transactions, counting.statements) == (2, 4 + 3)


@pytest.mark.parametrize("pain, previous, expected", [
    (6, [], None),
    (7, [], ("high", None)),
    (10, [6, 7, 8], ("high", 7.0)),
    (9, [2, 2], ("high", None)),
    (5, [2, 2], None),               # two previous ratings: no usual yet
    (5, [1, 2, 3], ("rise", 2.0)),   # median 2, rise of 3
    (4, [1, 2, 3], None),            # rise of 2
    (5, [2, 3, 1, 1], ("rise", 1.5)),  # an even count: the mean of the middle two
    (5, [2] * 10 + [9] * 15, ("rise", 2.0)),  # the last 10 only (newest first)
    (5, [4] * 5 + [0] * 5 + [9] * 20, ("rise", 2.0)),  # exactly 10: 9 or 11 give a usual of 4
])
def test_the_pain_flag_rule_at_its_edges(pain, previous, expected):
    assert pain_flag(pain, previous) == expected


async def test_a_rise_over_her_usual_is_flagged_from_sessions_done_before_this_one(db, clinic):
    plan = await clinic.plan("pl_a")
    bridge = await clinic.assign(plan, per_day=1, created_at=NOW - 20 * DAY)
    for n, pain in enumerate((1, 2, 3)):
        await log_session(db, plan, session(done(bridge, pain=pain), done_at=NOW - (5 - n) * DAY),
                          tz=UTC, now=NOW)
    # Logged late (an offline log), done before the others: not "previous" to them, and
    # with nothing done before it, no usual.
    early = await log_session(db, plan, session(done(bridge, pain=6), done_at=NOW - 10 * DAY),
                              tz=UTC, now=NOW)
    assert early.flags == ()
    # The dosage changes: a new assignment of the same exercise keeps her history.
    changed = await clinic.assign(plan, per_day=2, created_at=NOW - 2 * DAY)
    four = await log_session(db, plan, session(done(changed, pain=4)), tz=UTC, now=NOW)
    # previous now 3, 2, 1, 6 (newest first): median 2.5; 4 is no rise, 6 is
    assert four.flags == ()
    rise = await log_session(db, plan, session(done(changed, pain=6), done_at=NOW - 1800),
                             tz=UTC, now=NOW)
    assert [(f.reason, f.pain, f.usual, f.exercise) for f in rise.flags] == \
        [("rise", 6, 3.0, "glute-bridge")]  # 4, 3, 2, 1, 6 → median 3
    # A session done in the same second is not a previous one (with it: median 3.5, no rise).
    same = await log_session(db, plan, session(done(changed, pain=6), done_at=NOW - 1800),
                             tz=UTC, now=NOW)
    assert [(f.reason, f.usual) for f in same.flags] == [("rise", 3.0)]


async def test_an_acknowledged_flag_is_no_longer_open_and_says_who_and_when(db, clinic):
    therapist = await clinic.therapist()
    plan = await clinic.plan("pl_a", therapist)
    flag = (await log_session(db, plan, session(done(await clinic.assign(plan), pain=7)),
                              tz=UTC, now=NOW)).flags[0]
    assert [f.id for f in await open_flags(db, therapist_id=therapist)] == [flag.id]
    assert await acknowledge_flag(db, flag.id, plan, by=f"user:{therapist}", now=NOW + 10)
    assert await open_flags(db, therapist_id=therapist) == []
    assert not await acknowledge_flag(db, flag.id, plan, by="user:9", now=NOW + 20)
    row = await db.fetchone("SELECT acknowledged_at, acknowledged_by FROM pain_flags WHERE id = ?",
                            (flag.id,))
    assert (row[0], row[1]) == (NOW + 10, f"user:{therapist}")


async def test_another_plans_flag_cannot_be_acknowledged_through_this_plan(db, clinic):
    mine = await clinic.plan("pl_mine")
    theirs = await clinic.plan("pl_theirs")
    await clinic.assign(mine)
    flag = (await log_session(db, theirs, session(done(await clinic.assign(theirs), pain=9)),
                              tz=UTC, now=NOW)).flags[0]
    assert not await acknowledge_flag(db, flag.id, mine, by="user:1", now=NOW)
    assert [f.id for f in await open_flags(db)] == [flag.id]


async def test_the_dashboard_lists_open_flags_of_her_active_plans_newest_first(db, clinic):
    her, colleague = await clinic.therapist(), await clinic.therapist()
    first = await clinic.plan("pl_1", her)
    second = await clinic.plan("pl_2", her)
    theirs = await clinic.plan("pl_3", colleague)
    closed = await clinic.plan("pl_4", her, status="closed")
    raised = {}
    for at, plan in enumerate((first, theirs, second, closed)):
        result = await log_session(db, plan, session(done(await clinic.assign(plan), pain=8)),
                                   tz=UTC, now=NOW + at)
        raised[plan] = result.flags[0].id
    mine = await open_flags(db, therapist_id=her)
    assert [(f.id, f.plan_id, f.patient_id) for f in mine] == \
        [(raised[second], second, "pt_pl_2"), (raised[first], first, "pt_pl_1")]
    assert mine[0].as_json()["reason"] == "high"
    assert [f.plan_id for f in await open_flags(db)] == [second, theirs, first]
    assert [f.plan_id for f in await open_flags(db, [first, theirs], her)] == [first]
    assert [f.plan_id for f in await open_flags(db, limit=1)] == [second]
    assert await open_flags(db, []) == []


async def test_adherence_counts_sessions_done_of_planned_over_7_and_28_days(db, clinic):
    plan = await clinic.plan("pl_a")
    # Three days a week all along; from six days ago also twice a day, every day.
    bridge = await clinic.assign(plan, "glute-bridge", per_day=0, per_week=3,
                                 created_at=NOW - 40 * DAY)
    clam = await clinic.assign(plan, "clam", per_day=2, created_at=NOW - 6 * DAY - 10 * 3600)
    today = NOW - 3600
    logged = [
        session(done(bridge), done(clam), done_at=today),
        session(done(clam, status="partly"), done_at=today + 60),
        session(done(bridge), done_at=today + 120),           # a third today: counts as two
        session(skipped(bridge), skipped(clam), done_at=today - DAY),  # skipped only: not done
        session(done(bridge, status="partly"), done_at=today - 2 * DAY),
        session(done(bridge), done_at=today - 10 * DAY),
        session(done(bridge), done_at=today - 10 * DAY + 60),  # two on a once-a-day day: one
        session(done(bridge), done_at=today - 20 * DAY),
    ]
    for raw in logged:
        await log_session(db, plan, raw, tz=UTC, now=NOW)
    # 7 days: 2 a day every day = 14. 28 days: 21 days × 3/7 + 14 = 23.
    assert [a.as_json() for a in await adherence(db, plan, now=NOW, tz=UTC)] == [
        {"days": 7, "done": 3, "planned": 14, "rate": 0.21},
        {"days": 28, "done": 5, "planned": 23, "rate": 0.22}]


async def test_adherence_with_nothing_planned_has_no_rate(db, clinic):
    plan = await clinic.plan("pl_a")
    await clinic.assign(plan, created_at=NOW - 50 * DAY, stopped_at=NOW - 40 * DAY)
    assert [a.as_json() for a in await adherence(db, plan, now=NOW, tz=UTC)] == [
        {"days": 7, "done": 0, "planned": 0, "rate": None},
        {"days": 28, "done": 0, "planned": 0, "rate": None}]


async def test_a_sessions_day_is_the_clinics_calendar_day(db, clinic):
    plan = await clinic.plan("pl_a")
    a = await clinic.assign(plan)
    # 02:00 UTC on 7 December is still 6 December in Los Angeles.
    at = int(datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc).timestamp())
    result = await log_session(db, plan, session(done(a), done_at=at),
                               tz=ZoneInfo("America/Los_Angeles"), now=NOW)
    assert result.as_json()["day"] == "2026-12-06"


async def test_the_pain_trend_is_per_exercise_oldest_first_and_bounded(db, clinic):
    plan = await clinic.plan("pl_a")
    bridge = await clinic.assign(plan, "glute-bridge")
    clam = await clinic.assign(plan, "clam")
    for n in range(62):
        await log_session(db, plan, session(done(bridge, pain=n % 11), done_at=NOW - (62 - n) * 3600),
                          tz=UTC, now=NOW)
    await log_session(db, plan, session(done(clam, pain=4, status="partly"), skipped(bridge),
                                        done_at=NOW - 1800), tz=UTC, now=NOW)
    await log_session(db, plan, session(done(clam, pain=3), done_at=NOW - 7200), tz=UTC, now=NOW)
    trend = await pain_trend(db, plan)
    assert trend["clam"] == [(NOW - 7200, 3), (NOW - 1800, 4)]
    assert trend["glute-bridge"] == [(NOW - (62 - n) * 3600, n % 11) for n in range(2, 62)]
    assert set(trend) == {"clam", "glute-bridge"}


async def test_monitoring_gives_30_day_periods_with_logged_days_and_review_time(db, clinic):
    therapist = await clinic.therapist()
    start = int(datetime(2026, 10, 23, 9, 0, tzinfo=timezone.utc).timestamp())  # 45 days ago
    plan = await clinic.plan("pl_mon", therapist, starts_at=start)
    a = await clinic.assign(plan, created_at=start)
    for days_ago in (29, 20, 20, 10, 2):  # 29 and 20: period 1; 10 and 2: period 2
        await log_session(db, plan, session(skipped(a), done_at=NOW - days_ago * DAY),
                          tz=UTC, now=NOW)
    for when, minutes in ((date(2026, 10, 28), 15), (date(2026, 11, 17), 10),
                          (date(2026, 12, 4), 20), (date(2026, 12, 7), 7)):
        await log_review_minutes(db, plan, therapist, minutes, day=when, now=NOW)
    rows = await monitoring(db, plan, plan_start=start, now=NOW, tz=UTC)
    assert monitoring_csv(rows) == (
        "plan_id,period,start,end,days_with_data,review_minutes\r\n"
        "pl_mon,1,2026-10-23,2026-11-21,2,25\r\n"
        "pl_mon,2,2026-11-22,2026-12-21,2,27\r\n")
    assert rows[1].as_json()["start"] == "2026-11-22"
    assert await monitoring(db, plan, plan_start=NOW + DAY, now=NOW, tz=UTC) == []


def test_the_monitoring_csv_keeps_a_spreadsheet_from_running_a_cell_as_a_formula():
    rows = [MonitoringRow(plan_id, 1, date(2026, 1, 1), date(2026, 1, 30), 0, 0)
            for plan_id in ("=HYPERLINK(1)", "+1", "-1", "@SUM(1)", "pl_ok")]
    lines = monitoring_csv(rows).split("\r\n")
    assert [line.split(",")[0] for line in lines[1:-1]] == \
        ["'=HYPERLINK(1)", "'+1", "'-1", "'@SUM(1)", "pl_ok"]


async def test_review_minutes_out_of_range_or_for_a_future_day_are_refused(db, clinic):
    therapist = await clinic.therapist()
    plan = await clinic.plan("pl_a", therapist)
    today = date(2026, 12, 7)
    for minutes, day, field in ((0, today, "minutes"), (241, today, "minutes"),
                                (True, today, "minutes"), ("5", today, "minutes"),
                                (10, date(2026, 12, 9), "day"), (10, "2026-12-01", "day"),
                                (10, datetime(2026, 12, 1), "day")):
        with pytest.raises(LogError) as refused:
            await log_review_minutes(db, plan, therapist, minutes, day=day, now=NOW)  # type: ignore[arg-type]
        assert refused.value.field == field, (minutes, day)
    assert await counts(db) == dict.fromkeys(LOG_TABLES, 0)
    await log_review_minutes(db, plan, therapist, 240, day=date(2026, 12, 8), now=NOW)
    await log_review_minutes(db, plan, therapist, 1, day=today, now=NOW)
    assert (await counts(db))["review_minutes"] == 2


class Entry(msgspec.Struct):
    assignment_id: int
    status: str
    pain: int | None = None


class Body(msgspec.Struct):
    client_key: str
    done_at: int
    entries: list[Entry]
    effort: int | None = None
    note: str | None = None


@pytest.mark.parametrize("as_struct", [False, True])
def test_a_parsed_session_keeps_what_she_said_and_tidies_the_note(as_struct):
    raw = session(done(4, pain=3, status="partly"), skipped(5), effort=6,
                  note="  felt   fine  ", key="abc_DEF-12")
    parsed = parse_session(msgspec.convert(raw, Body) if as_struct else raw, now=NOW)
    assert (parsed.client_key, parsed.effort, parsed.note) == ("abc_DEF-12", 6, "felt fine")
    assert [(e.assignment_id, e.status, e.pain) for e in parsed.entries] == \
        [(4, "partly", 3), (5, "skipped", None)]
