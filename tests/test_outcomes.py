"""Outcome questionnaires on a plan of care: attaching them (audited, refusals), their
rounds at the edges, the patient's fills (one a round, in one transaction) and the
therapist's trend read at the minimal important change. On SQLite and on PostgreSQL.

Longer than 400 lines: every test seeds the same plan (`new_plan`, plain SQL) and reads it
through the same store; split, the halves would repeat the helpers.
"""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from server.care import outcome_trend, outcomes
from server.care.instruments import Score
from server.care.outcome_trend import reading, trend
from server.care.outcomes import (
    OutcomeError,
    attach,
    attached,
    detach,
    outcomes_of_patient,
    pending,
    rounds,
    submit,
)
from server.storage import open_store
from server.storage.interface import Database
from server.storage.outcomes import StoredFill, insert_fill
from server.storage.plans import WEEK, Plan, get_plan

pytestmark = pytest.mark.both_engines

START = 1_796_601_600
"""Monday 7 December 2026, 00:00 UTC: every plan starts then."""
BY = "user:1"


@pytest.fixture
async def db(config) -> AsyncIterator[Database]:
    store = await open_store(config)
    try:
        yield store
    finally:
        await store.close()


async def new_plan(db: Database, plan_id: str = "pl_a", *, weeks: int = 8,
                   status: str = "active", patient: str | None = None) -> Plan:
    """A patient (unless given) and her plan, written with plain SQL."""
    patient = patient or f"pt_{plan_id}"
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO patients (id, name, name_key, created_at)"
                           " VALUES (?, 'P', 'p', 0) ON CONFLICT (id) DO NOTHING", (patient,))
        await conn.execute("INSERT INTO plans (id, patient_id, condition, starts_at, weeks,"
                           " status, created_at) VALUES (?, ?, 'sij', ?, ?, ?, 0)",
                           (plan_id, patient, START, weeks, status))
    plan = await get_plan(db, plan_id)
    assert plan is not None
    return plan


def week(n: float) -> int:
    return START + int(n * WEEK)


def nprs(pain: int) -> dict[str, Any]:
    return {"items": {"pain": pain}}


def psfs(*ratings: int, names: tuple[str, ...] = ("lifting my baby", "running", "stairs",
                                                   "sleeping", "sitting")) -> dict[str, Any]:
    return {"activities": [{"activity": n, "score": s} for n, s in zip(names, ratings)]}


async def rows(db: Database, table: str = "outcome_responses") -> list[Any]:
    return list(await db.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2"))


async def audit_trail(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    found = await db.fetchall("SELECT action, actor, detail FROM events"
                              " WHERE action LIKE 'questionnaire.%' ORDER BY id")
    return [(r["action"], r["actor"], json.loads(r["detail"])) for r in found]


async def refused(call: Any, field: str) -> OutcomeError:
    with pytest.raises(OutcomeError) as caught:
        await call
    assert caught.value.field == field, caught.value
    return caught.value


# Attaching.

async def test_attaching_stores_the_interval_changing_it_keeps_one_row_and_both_are_audited(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 2, actor=BY, now=week(0))
    await attach(db, plan, "nprs", 4, actor="user:2", now=week(1))
    await attach(db, plan, "psfs", 0, actor=BY, now=week(1))
    assert [(a.instrument, a.every_weeks, a.added_at, a.added_by)
            for a in await attached(db, plan.id)] == [
        ("nprs", 4, week(0), BY), ("psfs", 0, week(1), BY)]
    assert (await attached(db, plan.id))[0].as_json() == {
        "instrument": "nprs", "every_weeks": 4, "added_at": week(0)}
    assert await audit_trail(db) == [
        ("questionnaire.attached", BY, {"plan": plan.id, "instrument": "nprs", "every_weeks": 2}),
        ("questionnaire.attached", "user:2",
         {"plan": plan.id, "instrument": "nprs", "every_weeks": 4}),
        ("questionnaire.attached", BY, {"plan": plan.id, "instrument": "psfs", "every_weeks": 0})]


async def test_detaching_takes_it_off_keeps_its_fills_and_is_audited(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 0, actor=BY, now=week(0))
    await submit(db, plan, "nprs", nprs(5), due_at=week(0), now=week(0))
    await detach(db, plan, "nprs", actor=BY, now=week(1))
    assert await attached(db, plan.id) == []
    assert await pending(db, plan, now=week(1)) == []
    assert len(await rows(db)) == 1
    assert [t.instrument.key for t in (await trend(db, plan.id)).instruments] == ["nprs"]
    assert (await audit_trail(db))[-1] == (
        "questionnaire.detached", BY, {"plan": plan.id, "instrument": "nprs"})


@pytest.mark.parametrize("instrument, every_weeks, field", [
    ("oswestry", 2, "instrument"), (None, 2, "instrument"), ("NPRS", 2, "instrument"),
    ("nprs", 13, "every_weeks"), ("nprs", -1, "every_weeks"), ("nprs", True, "every_weeks"),
    ("nprs", 1.5, "every_weeks"), ("nprs", "2", "every_weeks"), ("nprs", None, "every_weeks"),
])
async def test_a_refused_attachment_names_its_field_and_changes_nothing(db, instrument,
                                                                         every_weeks, field):
    plan = await new_plan(db)
    error = await refused(attach(db, plan, instrument, every_weeks, actor=BY, now=START), field)
    assert error.text().endswith(".")
    assert await rows(db, "plan_questionnaires") == [] and await audit_trail(db) == []


async def test_a_closed_plan_takes_no_attachment_detachment_or_fill(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 1, actor=BY, now=START)
    await db.execute("UPDATE plans SET status = 'closed', closed_at = ? WHERE id = ?",
                     (week(1), plan.id))
    error = await refused(attach(db, plan, "psfs", 1, actor=BY, now=week(1)), "plan")
    assert "closed" in error.text()
    await refused(detach(db, plan, "nprs", actor=BY, now=week(1)), "plan")
    # `plan` is the caller's stale copy (still 'active'): the store's status decides.
    await refused(submit(db, plan, "nprs", nprs(3), due_at=week(1), now=week(1)), "plan")
    closed = await get_plan(db, plan.id)
    assert closed is not None and await pending(db, closed, now=week(1)) == []
    assert len(await rows(db, "plan_questionnaires")) == 1 and await rows(db) == []
    assert len(await audit_trail(db)) == 1


async def test_detaching_what_is_not_attached_is_refused(db):
    plan = await new_plan(db)
    await refused(detach(db, plan, "pgq", actor=BY, now=START), "instrument")
    await refused(detach(db, plan, "nope", actor=BY, now=START), "instrument")
    assert await audit_trail(db) == []


# Rounds.

def test_every_2_weeks_on_an_8_week_plan_gives_rounds_at_weeks_0_2_4_6():
    plan = Plan("pl_x", "pt_x", "sij", "", START, 8, None, "active", 0)
    assert [(r.number, r.due_at) for r in rounds(plan, 2)] == [
        (0, week(0)), (1, week(2)), (2, week(4)), (3, week(6))]
    assert [r.due_at for r in rounds(plan, 4)] == [week(0), week(4)]  # not at the end, week 8
    assert [r.due_at for r in rounds(plan, 3)] == [week(0), week(3), week(6)]
    assert [r.due_at for r in rounds(plan, 12)] == [week(0)]
    assert [r.due_at for r in rounds(plan, 0)] == [week(0)]


async def test_a_round_is_pending_from_exactly_its_due_time(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 2, actor=BY, now=START)
    assert await pending(db, plan, now=START - 1) == []
    [intake] = await pending(db, plan, now=START)
    assert intake.as_json() == {"instrument": "nprs", "round": 0, "due_at": START,
                                "every_weeks": 2, "first": True, "form": None}
    assert [p.due_at for p in await pending(db, plan, now=week(2) - 1)] == [START]
    assert [(p.round, p.due_at) for p in await pending(db, plan, now=week(2))] == [(1, week(2))]


async def test_a_missed_round_is_not_pending_once_a_later_one_is_due_and_cannot_be_filled(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 2, actor=BY, now=START)
    assert [p.round for p in await pending(db, plan, now=week(4) + 5)] == [2]
    error = await refused(submit(db, plan, "nprs", nprs(4), due_at=week(2), now=week(4) + 5),
                          "due_at")
    assert "passed" in error.text()
    await submit(db, plan, "nprs", nprs(4), due_at=week(4), now=week(4) + 5)
    assert await pending(db, plan, now=week(6) - 1) == []
    assert await rows(db) != [] and len(await rows(db)) == 1


async def test_no_round_falls_at_or_after_the_plans_end(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 4, actor=BY, now=START)
    # Week 8 is the end: the last round stays week 4's, pending until answered.
    assert [p.due_at for p in await pending(db, plan, now=week(9))] == [week(4)]
    await refused(submit(db, plan, "nprs", nprs(2), due_at=week(8), now=week(9)), "due_at")
    await submit(db, plan, "nprs", nprs(2), due_at=week(4), now=week(9))
    assert await pending(db, plan, now=week(20)) == []


async def test_changing_the_interval_never_asks_again_for_a_round_answered_since(db):
    plan = await new_plan(db, weeks=12)
    await attach(db, plan, "nprs", 4, actor=BY, now=START)
    await submit(db, plan, "nprs", nprs(6), due_at=week(4), now=week(4) + 60)
    await attach(db, plan, "nprs", 3, actor=BY, now=week(5))
    # Week 3's round fell due before the fill of week 4: it counts as answered.
    assert await pending(db, plan, now=week(5)) == []
    await refused(submit(db, plan, "nprs", nprs(6), due_at=week(3), now=week(5)), "due_at")
    assert [p.due_at for p in await pending(db, plan, now=week(6))] == [week(6)]


# Fills.

async def test_a_fill_is_stored_once_with_its_rounded_score_and_compact_answers(db):
    plan = await new_plan(db)
    await attach(db, plan, "pgq", 2, actor=BY, now=START)
    answers = {"items": {f"q{n}": (1 if n <= 20 else 2) for n in range(1, 26)}}
    response = await submit(db, plan, "pgq", answers, due_at=START, now=START + 90)
    # 20 + 10 = 30 of 75 is 40.0; activity 20 of 60 is 33.3; symptom 10 of 15 is 66.7.
    assert response.as_json() == {
        "id": response.id, "plan_id": plan.id, "instrument": "pgq", "due_at": START,
        "answered_at": START + 90, "score": 40.0,
        "parts": {"activity": 33.3, "symptom": 66.7}}
    [row] = await rows(db)
    assert response.id.startswith("or_") and row["id"] == response.id
    assert row["score"] == 40.0 and row["due_at"] == START and row["answered_at"] == START + 90
    assert row["answers"] == json.dumps(answers, separators=(",", ":"))
    assert await pending(db, plan, now=START + 91) == []


async def test_a_fill_for_a_round_not_pending_now_is_refused_saying_why(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 2, actor=BY, now=START)
    cases = [
        ({"due_at": week(2), "now": week(1)}, "not due yet"),
        ({"due_at": START + 1, "now": week(1)}, "not asked at that time"),
        ({"due_at": str(START), "now": week(1)}, "not asked at that time"),
    ]
    for when, words in cases:
        error = await refused(submit(db, plan, "nprs", nprs(3), **when), "due_at")
        assert words in error.text()
    await refused(submit(db, plan, "pgq", {"items": {}}, due_at=START, now=START), "instrument")
    await refused(submit(db, plan, "nope", nprs(3), due_at=START, now=START), "instrument")
    await refused(submit(db, plan, "nprs", nprs(11), due_at=START, now=START), "items.pain")
    await submit(db, plan, "nprs", nprs(3), due_at=START, now=START + 5)
    error = await refused(submit(db, plan, "nprs", nprs(4), due_at=START, now=START + 9), "due_at")
    assert "already" in error.text()
    assert [r["score"] for r in await rows(db)] == [3.0]


async def test_two_fills_of_one_round_at_once_store_one_and_refuse_the_other(db):
    plan = await new_plan(db)
    await attach(db, plan, "nprs", 0, actor=BY, now=START)
    results = await asyncio.gather(
        *(submit(db, plan, "nprs", nprs(n), due_at=START, now=START + 1) for n in (2, 7)),
        return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["OutcomeError", "Response"]
    assert len(await rows(db)) == 1
    # Past every check, the unique index still turns a second fill of the round away.
    again = StoredFill("or_again", plan.id, "nprs", START, START + 2, 1.0, nprs(1))
    async with db.transaction() as conn:
        assert await insert_fill(conn, again) is False
    assert len(await rows(db)) == 1


async def test_a_later_psfs_offers_her_activities_and_refuses_other_ones(db):
    plan = await new_plan(db)
    await attach(db, plan, "psfs", 2, actor=BY, now=START)
    [intake] = await pending(db, plan, now=START)
    assert intake.first and intake.form is None
    await submit(db, plan, "psfs", psfs(3, 4, names=("Lifting my baby", "running")),
                 due_at=START, now=START)
    [later] = await pending(db, plan, now=week(2))
    assert not later.first and later.form == {"activities": [
        {"activity": "Lifting my baby", "score": None}, {"activity": "running", "score": None}]}
    for other in (psfs(5, 5, names=("lifting my baby", "swimming")), psfs(5),
                  psfs(5, 5, 5, names=("lifting my baby", "running", "stairs"))):
        await refused(submit(db, plan, "psfs", other, due_at=week(2), now=week(2)), "activities")
    assert len(await rows(db)) == 1
    # The same activities in another order and case are hers.
    response = await submit(db, plan, "psfs", psfs(6, 7, names=("RUNNING", "lifting my baby")),
                            due_at=week(2), now=week(2))
    assert response.score == 6.5


class CountingDatabase:
    """The store, counting transactions and the statements run inside or outside them."""

    def __init__(self, db: Database) -> None:
        self.db, self.transactions, self.statements = db, 0, 0

    async def fetchall(self, *args: Any) -> Any:
        self.statements += 1
        return await self.db.fetchall(*args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.transactions += 1
        counter = self

        class Conn:
            def execute(self, *args: Any) -> Any:
                counter.statements += 1
                return conn.execute(*args)

        async with self.db.transaction() as conn:
            yield Conn()


async def test_a_fill_and_an_attachment_are_one_transaction_of_three_statements(db):
    plan = await new_plan(db)
    counting = CountingDatabase(db)
    await attach(counting, plan, "psfs", 2, actor=BY, now=START)  # type: ignore[arg-type]
    assert (counting.transactions, counting.statements) == (1, 3)
    await submit(db, plan, "psfs", psfs(1, 2, 3), due_at=START, now=START)
    counting = CountingDatabase(db)
    await submit(counting, plan, "psfs", psfs(4, 5, 6), due_at=week(2), now=week(2))  # type: ignore[arg-type]
    assert (counting.transactions, counting.statements) == (1, 3)


# The trend.

async def fill_weekly(db: Database, plan: Plan, key: str, answers: list[dict[str, Any]]) -> None:
    await attach(db, plan, key, 1, actor=BY, now=START)
    for n, given in enumerate(answers):
        await submit(db, plan, key, given, due_at=week(n), now=week(n) + 60)


async def test_the_nprs_trend_reads_a_fall_of_2_as_improved_and_a_rise_of_2_as_worse(db):
    plan = await new_plan(db, weeks=12)
    await fill_weekly(db, plan, "nprs", [nprs(p) for p in (6, 4, 5, 8, 7)])
    [nprs_trend] = (await trend(db, plan.id)).as_json()["instruments"]
    assert [(f["score"], f["change"], f["reading"]) for f in nprs_trend["fills"]] == [
        (6.0, None, None), (4.0, 2.0, "improved"), (5.0, 1.0, "no_important_change"),
        (8.0, -2.0, "worsened"), (7.0, -1.0, "no_important_change")]
    assert nprs_trend["baseline"] == nprs_trend["fills"][0]
    assert {k: nprs_trend[k] for k in ("low", "high", "better", "mic", "band", "every_weeks")} == {
        "low": 0, "high": 10, "better": "lower", "mic": 2, "band": {"low": 4.0, "high": 8.0},
        "every_weeks": 1}


async def test_the_psfs_trend_reads_changes_either_side_of_its_2_3_point_edge(db):
    plan = await new_plan(db, weeks=12)
    # Five activities move the mean by 0.2: 2.2 is under the edge, 2.4 over it.
    await fill_weekly(db, plan, "psfs", [psfs(5, 5, 5, 5, 5), psfs(7, 7, 7, 7, 8),
                                         psfs(7, 7, 7, 8, 8), psfs(3, 3, 3, 3, 2),
                                         psfs(3, 3, 3, 2, 2)])
    [psfs_trend] = (await trend(db, plan.id)).as_json()["instruments"]
    assert [(f["score"], f["change"], f["reading"]) for f in psfs_trend["fills"]] == [
        (5.0, None, None), (7.2, 2.2, "no_important_change"), (7.4, 2.4, "improved"),
        (2.8, -2.2, "no_important_change"), (2.6, -2.4, "worsened")]
    assert psfs_trend["better"] == "higher" and psfs_trend["band"] == {"low": 2.7, "high": 7.3}


@pytest.mark.parametrize("key, before, after, expected", [
    ("psfs", 5.0, 7.3, "improved"), ("psfs", 7.3, 5.0, "worsened"),
    ("psfs", 5.0, 7.2999, "no_important_change"), ("nprs", 6.0, 4.0, "improved"),
    ("nprs", 4.0, 6.0, "worsened"), ("pgic", 4.0, 1.0, None),
])
def test_a_change_of_exactly_the_mic_is_important_both_ways(key, before, after, expected):
    def scored(value: float) -> Score:
        return Score(key, value, 0, 10, key == "psfs", 1, 1, True, exact=value)
    assert reading(key, scored(before), scored(after)) == expected


async def test_the_pgq_trend_reads_each_subscale_and_pgic_says_whether_she_improved(db):
    plan = await new_plan(db, weeks=12)
    items = lambda act, sym: {"items": {f"q{n}": act if n <= 20 else sym for n in range(1, 26)}}
    await fill_weekly(db, plan, "pgq", [items(2, 2), items(1, 1)])
    await fill_weekly(db, plan, "pgic", [{"items": {"change": 4}}, {"items": {"change": 2}}])
    pgq_trend, pgic_trend = (await trend(db, plan.id)).as_json()["instruments"]
    later = pgq_trend["fills"][1]
    # Every item 2 -> 1: each score falls from 66.7 to 33.3, over 25 and 20.
    assert later["parts"] == {"activity": 33.3, "symptom": 33.3}
    assert later["reading"] == "improved"
    assert later["part_readings"] == {"activity": "improved", "symptom": "improved"}
    assert pgq_trend["mic_parts"] == {"activity": 25, "symptom": 20}
    assert pgic_trend["mic"] is None and pgic_trend["band"] is None
    assert [f["reading"] for f in pgic_trend["fills"]] == [None, None]
    assert pgic_trend["improved"] is True and pgq_trend["improved"] is None


async def test_an_attached_questionnaire_without_fills_shows_an_empty_trend(db):
    plan = await new_plan(db)
    await attach(db, plan, "pgic", 0, actor=BY, now=START)
    [empty] = (await trend(db, plan.id)).as_json()["instruments"]
    assert (empty["fills"], empty["baseline"], empty["band"], empty["improved"]) == (
        [], None, None, None)


async def test_a_patients_outcomes_list_each_plans_scores_without_answers(db):
    first = await new_plan(db, "pl_first", patient="pt_her")
    second = await new_plan(db, "pl_second", patient="pt_her")
    other = await new_plan(db, "pl_other")
    for plan in (first, second, other):
        await attach(db, plan, "nprs", 0, actor=BY, now=START)
    await submit(db, second, "nprs", nprs(3), due_at=START, now=START + 10)
    await submit(db, first, "nprs", nprs(5), due_at=START, now=START + 20)
    await submit(db, other, "nprs", nprs(9), due_at=START, now=START + 5)
    found = [o.as_json() for o in await outcomes_of_patient(db, "pt_her")]
    assert [(o["plan_id"], o["instrument"], o["due_at"], o["answered_at"], o["score"])
            for o in found] == [("pl_second", "nprs", START, START + 10, 3.0),
                                ("pl_first", "nprs", START, START + 20, 5.0)]
    assert all("answers" not in o for o in found)
    assert await outcomes_of_patient(db, "pt_nobody") == []


@pytest.mark.parametrize("module", [outcomes, outcome_trend])
def test_every_outcome_error_message_is_marked_for_the_catalog(module):
    tree = ast.parse(Path(module.__file__).read_text())

    def marked(node: ast.expr) -> bool:
        return (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "N_"
                and isinstance(node.args[0], ast.Constant))

    constants = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name)}
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "OutcomeError":
            message = call.args[1]
            if isinstance(message, ast.Name):
                message = constants[message.id]
            assert marked(message) or ast.unparse(message) == "error.message", ast.unparse(call)


async def test_a_pgq_with_items_16_and_19_left_open_is_prorated_and_read_no_further(db):
    plan = await new_plan(db)
    await attach(db, plan, "pgq", 2, actor=BY, now=START)
    full = {"items": {f"q{n}": 2 for n in range(1, 26)}}
    await submit(db, plan, "pgq", full, due_at=START, now=START + 60)
    open_two = {"items": {f"q{n}": 0 for n in range(1, 26) if n not in (16, 19)}}
    await submit(db, plan, "pgq", open_two, due_at=week(2), now=week(2) + 60)
    [found] = (await trend(db, plan.id)).as_json()["instruments"]
    first, later = found["fills"]
    assert (first["complete"], later["complete"]) == (True, False)
    assert later["score"] == 0.0 and later["reading"] is None  # no judgement on a prorated fill
