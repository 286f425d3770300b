"""Every route of the application, in one table."""

from __future__ import annotations

from aiohttp import web

from server.views import (
    admin_accounts,
    admin_jobs,
    admin_visits,
    api,
    health,
    join,
    library,
    live,
    login,
    program,
)
from signaling.ids import NAMED_ROLES, PARTICIPANT_ID_PATTERN, SLUG_PATTERN, VISIT_ID_PATTERN

VISIT = f"{{visit_id:{VISIT_ID_PATTERN}}}"
# A seat in a visit: its role for the patient and the therapist, its id for a guest.
SEAT = f"{{participant:{'|'.join(NAMED_ROLES)}|{PARTICIPANT_ID_PATTERN}}}"
SLUG = f"{{slug:{SLUG_PATTERN}}}"


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
        web.post(f"/visits/{VISIT}/assignments", program.create_assignment),
        web.delete(f"/visits/{VISIT}/assignments/{{assignment_id:\\d{{1,12}}}}", program.delete_assignment),
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
    ])
