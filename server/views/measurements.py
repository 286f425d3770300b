"""Measurements taken on the patient's device by pose estimation, saved to her record.

In the call, the therapist's page saves a result (`POST /visits/{visit_id}/measurements`)
and lists the visit's (`GET`): her visit cookie, the policy's `RECORD_MEASUREMENT` (the
therapist's link only) and, for a save, the clinic's own Origin. A result is checked
against web/measure/measurements.json (`app[MEASUREMENTS]`): a known measurement, no side
for one without a side (a sided one has the side the therapist chose, or none when the camera
took the side facing it), a largest value within its range, an exercise it measures, a trace
in time order within the range. Numbers only are stored, never an image.

On the patient's admin page, `patient_measurements` gives her results by measurement
(newest first, with a trend of the largest value per side when there are two or more) and the
repetitions she logged at home.
"""

from __future__ import annotations

import math
import time
from typing import Any

from aiohttp import web

from server.auth.policy import Action
from server.care.trend_chart import Chart, line_chart
from server.http.errors import ApiError
from server.http.i18n import translate
from server.http.request_json import read_body
from server.http.schemas import MAX_SECONDS, MeasurementResult
from server.http.templating import request_language
from server.keys import CONFIG, DB, LIBRARY, MEASUREMENTS
from server.measure.definitions import Definitions, Measurement
from server.measure.words import LABELS, SIDES, UNITS
from server.storage import audit_events as audit
from server.storage import measurements as store
from server.storage.events import record_event
from server.storage.exercise_log import counted_entries
from server.storage.visits import Participant, Visit
from server.views.guards import require_own_origin, visit_seat_may

MAX_PER_VISIT = 100
"""Results one visit may save."""
SHOWN = 500
"""A patient's latest results her admin page shows at most."""
COUNTED_SHOWN = 30
"""Her latest home entries with repetitions her admin page shows at most."""


async def _therapist_of_call(request: web.Request) -> tuple[Visit, Participant]:
    return await visit_seat_may(request, Action.RECORD_MEASUREMENT, "Only the therapist of "
                                "the call can save or read its measurements.")


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_field", message)


def check_result(body: MeasurementResult, measures: Definitions) -> None:
    """Raise a 422 naming the field when a decoded result breaks the measurements file."""
    found = measures.measurements.get(body.measurement)
    if found is None:
        raise _invalid("measurement must be one of " + ", ".join(sorted(measures.measurements)))
    # A sided measurement's side is the one the therapist chose; null when the camera took
    # the side facing it (a model's left or right in a side view is not an anatomical fact).
    if not found.sided and body.side is not None:
        raise _invalid(f"side must be null: {body.measurement} has no side")
    low, high = found.range
    within = f"must be a number from {low:g} to {high:g}"
    if not found.holds(body.peak):
        raise _invalid(f"peak {within}")
    if not math.isfinite(body.seconds):
        raise _invalid(f"seconds must be a number from 0 to {MAX_SECONDS}")
    if body.exercise is not None and measures.measurement_for(body.exercise) != body.measurement:
        raise _invalid(f"exercise is not one {body.measurement} measures")
    last = 0.0
    for i, (at, value) in enumerate(body.trace or ()):
        if not (math.isfinite(at) and last <= at <= MAX_SECONDS):
            raise _invalid(f"trace[{i}] time must be from 0 to {MAX_SECONDS} seconds and "
                           "never go back")
        if not found.holds(value):
            raise _invalid(f"trace[{i}] value {within}")
        last = at


async def save_measurement(request: web.Request) -> web.StreamResponse:
    """POST /visits/{visit_id}/measurements: the call's therapist saves a result to the
    patient's record (201, the stored result)."""
    require_own_origin(request, "Only the clinic's own pages may save a measurement.")
    visit, therapist = await _therapist_of_call(request)
    if visit.patient_id is None:
        raise ApiError(409, "no_patient_record", "This visit was booked without a patient "
                       "record, so a measurement has nowhere to be kept. Book her visits "
                       "from her record to keep them.")
    body = await read_body(request, MeasurementResult)
    check_result(body, request.app[MEASUREMENTS])
    db, now = request.app[DB], int(time.time())
    actor = audit.by_participant(therapist.id)
    async with db.transaction() as conn:
        if await store.count_of_visit(conn, visit.id,
                                      lock=db.engine == "postgres") >= MAX_PER_VISIT:
            raise ApiError(409, "too_many", f"This visit has saved {MAX_PER_VISIT} "
                           "measurements, the most one visit keeps.")
        (saved,) = await store.insert_measurements(conn, [store.NewMeasurement(
            patient_id=visit.patient_id, plan_id=visit.plan_id, visit_id=visit.id,
            measurement=body.measurement, exercise=body.exercise, side=body.side,
            peak=body.peak, reps=body.reps, seconds=body.seconds,
            trace=tuple(body.trace) if body.trace is not None else None, source="visit")],
            created_at=now, created_by=actor)
        await record_event(conn, audit.MeasurementRecorded(measurement=saved.id), actor=actor,
                           now=now, visit_id=visit.id)
    return web.json_response(saved.as_json(), status=201)


async def list_measurements(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/measurements: the call's therapist reads the results saved in
    this visit, newest first."""
    visit, _therapist = await _therapist_of_call(request)
    saved = await store.of_visit(request.app[DB], visit.id)
    return web.json_response({"measurements": [m.as_json() for m in saved]})


def value_text(value: float, unit: str, language: str) -> str:
    """A measured value with its unit, as the page writes it (`85°`, `12 % of shin length`)."""
    # Whole degrees and percents: a tenth would claim a precision an estimate does not have.
    number = f"{round(value, 1):g}" if unit == "seconds" else f"{round(value):d}"
    symbol = translate(language, UNITS[unit]) if unit in UNITS else ""
    if unit == "deg":
        return f"{number}{symbol}"
    return f"{number}% {symbol}" if unit == "percent_shin" else f"{number} {symbol}".rstrip()


async def patient_measurements(request: web.Request, patient_id: str) -> dict[str, Any]:
    """What her admin page shows: `groups` (one a measurement: label, unit, results newest
    first, trend charts) and `counted` (home entries with repetitions, newest first)."""
    db, measures = request.app[DB], request.app[MEASUREMENTS]
    language, tz = request_language(request), request.app[CONFIG].tz
    exercise_names = {slug: e.name for slug, e in request.app[LIBRARY].exercises.items()}
    by_measurement: dict[str, list[store.SavedMeasurement]] = {}
    for saved in await store.of_patient(db, patient_id, SHOWN):
        by_measurement.setdefault(saved.measurement, []).append(saved)
    groups = []
    for name, results in by_measurement.items():
        found = measures.measurements.get(name)
        unit = found.unit if found else ""
        label = translate(language, LABELS[name]) if name in LABELS else name
        groups.append({
            "id": name, "label": label,
            "results": [{"at": m.created_at, "side": _side_words(m.side, found, language),
                         "value": value_text(m.peak, unit, language),
                         "reps": m.reps, "source": m.source,
                         "exercise": exercise_names.get(m.exercise or "", m.exercise or "")}
                        for m in results],
            "charts": _charts(name, label, results, found, language, tz)})
    counted = []
    for entry in await counted_entries(db, patient_id, COUNTED_SHOWN):
        found = measures.measurements.get(entry.measurement or "")
        counted.append({
            "at": entry.done_at, "exercise": exercise_names.get(entry.exercise, entry.exercise),
            "reps": entry.reps, "camera": entry.measurement is not None,
            "best": value_text(entry.measured_peak, found.unit, language)
            if found is not None and entry.measured_peak is not None else None})
    return {"groups": groups, "counted": counted}


def _side_words(side: str | None, found: Measurement | None, language: str) -> str:
    """The side as the staff page writes it: left or right when chosen, "the side facing the
    camera" when the camera took it, a dash for a measurement without a side."""
    if side in SIDES:
        return translate(language, SIDES[side])
    return translate(language, SIDES["camera"]) if found is not None and found.sided else "–"


def _charts(name: str, label: str, results: list[store.SavedMeasurement],
            found: Measurement | None, language: str, tz: Any) -> list[Chart]:
    """A trend of the largest value for each side with two or more results, oldest first (a
    home result of a sided measurement has no side: its own trend)."""
    if found is None:
        return []
    by_side: dict[str, list[store.SavedMeasurement]] = {}
    for m in results:
        by_side.setdefault(m.side or "", []).append(m)
    unit_words = translate(language, UNITS[found.unit])
    charts = []
    for side in sorted(by_side):
        points = sorted(by_side[side], key=lambda m: (m.created_at, m.id))
        if len(points) < 2:
            continue
        side_words = f", {_side_words(side or None, found, language)}" if found.sided else ""
        charts.append(line_chart(
            chart_id=f"measure-{name}-{side or 'any'}",
            title=f"{label}{side_words}: largest value ({unit_words}, estimated)",
            points=[(m.created_at, m.peak) for m in points], low=found.range[0],
            high=found.range[1],
            tz=tz, notes=["in a visit" if m.source == "visit" else "at home"
                          for m in points]))
    return charts
