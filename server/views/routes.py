"""Every route of the application, in one table."""

from __future__ import annotations

from aiohttp import web

from server.views import (
    admin_accounts,
    admin_jobs,
    admin_outbox,
    admin_patients,
    admin_plans,
    admin_visits,
    api,
    api_patients,
    call_care,
    care_api,
    care_home,
    health,
    join,
    library,
    live,
    login,
    program,
    unsubscribe,
)
from server.care.ids import PATIENT_ID_PATTERN, PLAN_ID_PATTERN
from signaling.ids import NAMED_ROLES, PARTICIPANT_ID_PATTERN, SLUG_PATTERN, VISIT_ID_PATTERN

VISIT = f"{{visit_id:{VISIT_ID_PATTERN}}}"
# A seat in a visit: its role for the patient and the therapist, its id for a guest.
SEAT = f"{{participant:{'|'.join(NAMED_ROLES)}|{PARTICIPANT_ID_PATTERN}}}"
SLUG = f"{{slug:{SLUG_PATTERN}}}"
PATIENT = f"{{patient_id:{PATIENT_ID_PATTERN}}}"
PLAN = f"{{plan_id:{PLAN_ID_PATTERN}}}"


def register(app: web.Application) -> None:
    """Add all routes to the app."""
    app.router.add_routes([
        web.get("/", health.home),
        web.get("/healthz", health.healthz),
        web.get(f"/join/{VISIT}", join.join),
        web.get(f"/visits/{VISIT}", join.visit_page),
        web.get(f"/visits/{VISIT}/ws", live.websocket),
        web.post(f"/visits/{VISIT}/echo", live.echo_check),
        web.get(f"/visits/{VISIT}/program", program.program_page),
        web.get(f"/visits/{VISIT}/assignments", program.list_assignments),
        web.get(f"/visits/{VISIT}/care.json", call_care.care_json),
        web.get(f"/visits/{VISIT}/questionnaires.json", call_care.waiting_questionnaires),
        web.post(f"/visits/{VISIT}/questionnaires/{{instrument:[a-z]{{1,12}}}}", call_care.waiting_fill),
        web.post(f"/visits/{VISIT}/assignments", program.create_assignment),
        web.delete(f"/visits/{VISIT}/assignments/{{assignment_id:\\d{{1,12}}}}", program.delete_assignment),
        web.patch(f"/visits/{VISIT}/assignments/{{assignment_id:\\d{{1,12}}}}", program.change_assignment),
        web.get("/login", login.login_form),
        web.post("/login", login.login),
        web.post("/logout", login.logout),
        web.get("/admin", admin_visits.dashboard),
        web.get("/admin/live.json", admin_visits.live_json),
        web.get("/admin/visits/new", admin_visits.new_visit_form),
        web.post("/admin/visits", admin_visits.create_visit),
        web.get(f"/admin/visits/{VISIT}", admin_visits.visit_detail),
        web.post(f"/admin/visits/{VISIT}/cancel", admin_visits.cancel_visit),
        web.post(f"/admin/visits/{VISIT}/participants/{SEAT}/reissue", admin_visits.reissue_link),
        web.post(f"/admin/visits/{VISIT}/participants/{SEAT}/revoke", admin_visits.revoke_link),
        web.get(f"/admin/visits/{VISIT}/invite.ics", admin_visits.invite),
        web.get("/admin/therapists", admin_accounts.therapists),
        web.post("/admin/therapists", admin_accounts.create_therapist),
        web.post(r"/admin/therapists/{user_id:\d+}/deactivate", admin_accounts.set_therapist_active),
        web.post(r"/admin/therapists/{user_id:\d+}/activate", admin_accounts.set_therapist_active),
        web.get("/admin/api-keys", admin_accounts.api_keys),
        web.post("/admin/api-keys", admin_accounts.create_key),
        web.post(r"/admin/api-keys/{key_id:\d+}/revoke", admin_accounts.revoke_key),
        web.get("/admin/events", admin_accounts.audit_log),
        web.get("/admin/jobs", admin_jobs.jobs_page),
        web.get("/admin/jobs.json", admin_jobs.jobs_json),
        web.get("/admin/outbox", admin_outbox.outbox_page),
        web.get("/admin/outbox.json", admin_outbox.outbox_json),
        web.post("/admin/outbox/resend", admin_outbox.resend),
        # Patients and plans of care (staff pages; admin_patients.py, admin_plans.py).
        web.get("/admin/patients", admin_patients.patients_page),
        web.post("/admin/patients", admin_patients.create_patient),
        web.get(f"/admin/patients/{PATIENT}", admin_patients.patient_detail),
        web.post(f"/admin/patients/{PATIENT}/plans", admin_plans.start_plan),
        web.post(f"/admin/patients/{PATIENT}/record", admin_patients.update_record),
        web.post(f"/admin/plans/{PLAN}/reissue", admin_plans.reissue_plan_link),
        web.post(f"/admin/plans/{PLAN}/revoke", admin_plans.revoke_plan_link),
        web.post(f"/admin/plans/{PLAN}/close", admin_plans.close_plan),
        web.post(f"/admin/plans/{PLAN}/questionnaires", admin_plans.attach_questionnaire),
        web.post(f"/admin/plans/{PLAN}/questionnaires/detach", admin_plans.detach_questionnaire),
        web.post(f"/admin/plans/{PLAN}/flags/{{flag_id:\\d{{1,12}}}}/acknowledge", admin_plans.acknowledge_flag),
        web.post(f"/admin/plans/{PLAN}/review-minutes", admin_plans.log_review),
        web.get(f"/admin/plans/{PLAN}/monitoring.csv", admin_plans.monitoring_export),
        web.get("/library", library.index),
        web.get("/library/quiz", library.quiz),
        web.get("/library/exercises", library.exercises_page),
        web.get(f"/library/exercises/{SLUG}", library.exercise_page),
        web.get(f"/library/{SLUG}", library.condition_page),
        web.get("/api/library/conditions", library.api_conditions),
        web.get(f"/api/library/conditions/{SLUG}", library.api_condition),
        web.get("/api/library/exercises", library.api_exercises),
        web.get(f"/api/library/exercises/{SLUG}", library.api_exercise),
        web.get("/api/openapi.json", api.openapi),
        web.post("/api/visits", api.create_visit),
        web.get("/api/visits", api.list_visits_api),
        web.get(f"/api/visits/{VISIT}", api.get_visit),
        web.post(f"/api/visits/{VISIT}/cancel", api.cancel_visit),
        web.post(f"/api/visits/{VISIT}/participants", api.add_guest),
        web.post(f"/api/visits/{VISIT}/participants/{{participant}}/reissue", api.reissue_link),
        web.post(f"/api/visits/{VISIT}/participants/{{participant}}/revoke", api.revoke_link),
        web.post("/api/patients", api_patients.create_patient),
        web.get("/api/patients", api_patients.list_patients),
        web.get(f"/api/patients/{PATIENT}", api_patients.get_patient),
        web.put(f"/api/patients/{PATIENT}", api_patients.update_patient),
        web.post(f"/api/patients/{PATIENT}/plans", api_patients.create_plan),
        web.get(f"/care/{PLAN}", care_home.home),
        web.get(f"/unsubscribe/{PATIENT}", unsubscribe.confirm),
        web.post(f"/unsubscribe/{PATIENT}", unsubscribe.unsubscribe),
        web.get(f"/care/{PLAN}/state.json", care_api.state),
        web.post(f"/care/{PLAN}/log", care_api.log),
        web.post(f"/care/{PLAN}/reminder", care_api.set_reminder),
        web.get(f"/care/{PLAN}/questionnaires.json", care_api.questionnaires),
        web.post(f"/care/{PLAN}/questionnaires/{{instrument:[a-z]{{1,12}}}}", care_api.fill),
    ])
