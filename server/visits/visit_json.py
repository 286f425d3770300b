"""A visit as the API and `run.py create-visit --json` show it (server.http.schemas.Visit)."""

from __future__ import annotations

from typing import Any

import msgspec

from server.http import schemas
from server.storage.assignments import Assignment
from server.storage.visits import Visit
from signaling.chat import ChatEntry
from server.visits.times import iso_time


def visit_json(visit: Visit, assignments: list[Assignment], urls: dict[str, str]) -> dict[str, Any]:
    """The visit's JSON; `urls` holds the links to show, by participant id (none: null)."""
    patient, therapist = visit.participant("patient"), visit.participant("therapist")
    assert patient is not None and therapist is not None
    return msgspec.to_builtins(schemas.Visit(
        visit_id=visit.id,
        status=visit.status,  # type: ignore[arg-type]
        kind=visit.kind,  # type: ignore[arg-type]
        starts_at=iso_time(visit.starts_at),
        ends_at=iso_time(visit.ends_at),
        minutes=visit.minutes,
        capacity=visit.capacity,
        patient_url=urls.get(patient.id),
        therapist_url=urls.get(therapist.id),
        participants=[schemas.Participant(id=p.id, role=p.role,  # type: ignore[arg-type]
                                          name=p.display_name, url=urls.get(p.id))
                      for p in visit.participants],
        patient_id=visit.patient_id,
        plan_id=visit.plan_id,
        assignments=[schemas.Assignment(**a.as_json()) for a in assignments],
    ))


def chat_json(entries: list[ChatEntry]) -> list[dict[str, Any]]:
    """A visit's kept chat as the API's `ChatMessage` list."""
    return msgspec.to_builtins([schemas.ChatMessage(
        id=e.id, sent_at=iso_time(e.at), sender_id=e.sender_id,
        sender_role=e.sender_role,  # type: ignore[arg-type]
        sender_name=e.sender_name, to=e.thread or None, text=e.text) for e in entries])
