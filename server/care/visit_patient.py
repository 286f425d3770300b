"""Which patient record and plan of care a new visit belongs to."""

from __future__ import annotations

from server.care.ids import is_patient_id
from server.storage import Database
from server.storage.patients import Patient, get_patient, patient_by_external_id
from server.storage.plans import Plan, active_plan, plans_of_patient
from server.visits.visit_input import VisitInputError, VisitRequest


async def patient_and_plan(db: Database, request: VisitRequest) -> tuple[Patient | None,
                                                                         Plan | None]:
    """The patient record a visit request names (by id or the clinic's own id), and the
    plan of hers it joins: the one named, else her active plan that started last, else none.
    VisitInputError names the field when there is no such patient or active plan."""
    if request.patient_id:
        field = "patient_id"
        patient = await get_patient(db, request.patient_id) \
            if is_patient_id(request.patient_id) else None
    elif request.patient_external_id:
        field = "patient_external_id"
        patient = await patient_by_external_id(db, request.patient_external_id)
    else:
        return None, None
    if patient is None:
        raise VisitInputError(field, "is not a patient of the clinic")
    plans = await plans_of_patient(db, patient.id)
    if request.plan_id:
        plan = next((p for p in plans if p.id == request.plan_id and p.status == "active"),
                    None)
        if plan is None:
            raise VisitInputError("plan_id", "is not an active plan of this patient")
        return patient, plan
    return patient, active_plan(plans)
