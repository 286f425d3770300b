"""Typed audit events (server/storage/audit_events.py): every declared type is stored as
its action and detail and reads back equal; rows written before the types, or by a version
that knows other actions, still read and show on the admin's audit log."""

from __future__ import annotations

import json
import types
import typing

import msgspec
import pytest

from server.keys import DB
from server.storage import audit_events as audit
from server.storage.events import EventQuery, events_for_visit, find_events, record_event
from tests.helpers import make_visit, now

pytestmark = pytest.mark.both_engines

_SAMPLES = {str: "s_1", int: 42, bool: True, list[str]: ["visits:read"]}


def _value(annotation: object) -> object:
    """A value of a field's type; of an optional field, its non-None, given form."""
    if annotation in _SAMPLES:
        return _SAMPLES[annotation]  # type: ignore[index]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        given = [a for a in typing.get_args(annotation)
                 if a not in (type(None), msgspec.UnsetType)]
        return _value(given[0])
    raise AssertionError(f"no sample for {annotation!r}: add one to _SAMPLES")


def _full(kind: type[audit.AuditEvent]) -> audit.AuditEvent:
    """An event of `kind` with every field given."""
    hints = typing.get_type_hints(kind)
    return kind(**{f.name: _value(hints[f.name]) for f in msgspec.structs.fields(kind)})


def _required_only(kind: type[audit.AuditEvent]) -> audit.AuditEvent:
    """An event of `kind` with only the fields it cannot leave out."""
    hints = typing.get_type_hints(kind)
    return kind(**{f.name: _value(hints[f.name]) for f in msgspec.structs.fields(kind)
                   if f.required})


@pytest.mark.parametrize("shape", [_full, _required_only])
async def test_every_event_type_round_trips_through_the_database(admin, shape):
    visit = await make_visit(admin)
    db = admin.server.app[DB]
    events = [shape(kind) for kind in audit.EVENT_TYPES.values()]
    at = now() - 3600
    async with db.transaction() as conn:
        for n, event in enumerate(events):
            # Each a minute and more apart, by its own actor: no collapsing into one row.
            await record_event(conn, event, actor=f"test:{n}", now=at + 120 * n,
                               visit_id=visit.id)
    stored = [e for e in await events_for_visit(db, visit.id) if e.actor.startswith("test:")]
    assert [e.action for e in stored] == list(audit.EVENT_TYPES)
    assert [e.typed() for e in stored] == events
    for event, row in zip(events, stored):
        assert row.detail == event.detail()
        assert "action" not in row.detail and all(v is not msgspec.UNSET
                                                  for v in row.detail.values())


def test_a_type_names_its_own_action_once():

    assert len(audit.EVENT_TYPES) == len({cls.__name__ for cls in audit.EVENT_TYPES.values()})
    assert audit.LinkOpened(role="patient").action == "link.opened"
    assert audit.EVENT_TYPES["visits.listed"] is audit.VisitsListed


async def test_a_field_left_out_is_left_out_of_the_detail_as_before_the_types(admin):
    db = admin.server.app[DB]
    async with db.transaction() as conn:
        await record_event(conn, audit.VisitsListed(count=2, since=100), actor="api_key:1",
                           now=now())
        await record_event(conn, audit.ParticipantAdmitted(participant="p_1", actor_device=None),
                           actor="therapist", now=now())
    rows = await db.fetchall("SELECT action, detail FROM events WHERE actor IN"
                             " ('api_key:1', 'therapist') ORDER BY id")
    assert [(r[0], json.loads(r[1])) for r in rows] == [
        ("visits.listed", {"count": 2, "from": 100}),
        ("participant.admitted", {"participant": "p_1", "actor_device": None})]


async def test_rows_written_before_the_types_read_as_their_type(admin):
    db = admin.server.app[DB]
    async with db.transaction() as conn:
        for action, detail in (("visit.cancelled", {}),
                               ("link.opened", {"role": "guest", "repeats": 3, "last_at": 9}),
                               ("api_key.created", {"api_key": 3})):
            await conn.execute("INSERT INTO events (at, actor, action, visit_id, detail)"
                               " VALUES (?, ?, ?, ?, ?)", (now(), "old", action, None,
                                                           json.dumps(detail)))
    found, _ = await find_events(db, EventQuery(actor="old"), 10)
    assert [e.typed() for e in reversed(found)] == [
        audit.VisitCancelled(), audit.LinkOpened(role="guest"), audit.ApiKeyCreated(api_key=3)]


async def test_an_unknown_action_in_the_database_still_shows_on_the_audit_log(admin):
    db = admin.server.app[DB]
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO events (at, actor, action, visit_id, detail)"
                           " VALUES (?, ?, ?, ?, ?)",
                           (now(), "system", "consent.given", None, '{"form":3}'))
        await conn.execute("INSERT INTO events (at, actor, action, visit_id, detail)"
                           " VALUES (?, ?, ?, ?, ?)",
                           (now(), "system", "visit.created", None, '{"kind":["odd"]}'))
    found, _ = await find_events(db, EventQuery(actor="system"), 10)
    unknown = [e for e in found if e.action == "consent.given"]
    odd = [e for e in found if e.action == "visit.created"]
    assert unknown and unknown[0].typed() is None and unknown[0].detail == {"form": 3}
    assert odd and odd[0].typed() is None  # a detail its type cannot read: shown as stored
    response = await admin.get("/admin/events?action=consent.given")
    assert response.status == 200, await response.text()
    page = await response.text()
    assert "<td>consent.given</td>" in page and "form=3" in page
    everything = await (await admin.get("/admin/events")).text()
    assert "consent.given" in everything and "kind=[&#39;odd&#39;]" in everything
