"""The admin's view of the durable jobs: how many of each status, and the jobs of one
status (failed for good, by default) with their last error's class and time. Never a
trace, a message or a job's params (they could carry ids of health records)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from server.auth.policy import Action
from server.http.errors import ApiError, json_error
from server.keys import DB, JOBS
from server.http.query_params import query_value
from server.storage.jobs import STATUSES, JobRecord, count_jobs, job_kinds, list_jobs
from server.http.templating import render
from server.views.guards import staff_may

PAGE_SIZE = 50
MAX_PAGE = 1000
KIND = r"[a-z][a-z0-9_]{0,39}(\.[a-z0-9_]{1,40}){0,3}"
"""A job kind's form (`housekeeping.purge`); one of an older version may still be listed."""


class JobQuery:
    """The listing's parameters, checked: `status`, `kind` and `page`."""

    def __init__(self, request: web.Request) -> None:
        self.status = query_value(request, "status", choices=STATUSES) or "failed"
        self.kind = query_value(request, "kind", max_length=160) or None
        if self.kind is not None and re.fullmatch(KIND, self.kind) is None:
            raise ApiError(400, "bad_parameter",
                           "kind must be a job kind, such as housekeeping.purge.")
        page = query_value(request, "page", max_length=4)
        if page is not None and re.fullmatch(r"[1-9][0-9]{0,3}", page) is None:
            raise ApiError(400, "bad_parameter", f"page must be a number, 1 to {MAX_PAGE}.")
        self.page = int(page) if page else 1
        if self.page > MAX_PAGE:
            raise ApiError(400, "bad_parameter", f"page must be a number, 1 to {MAX_PAGE}.")
        self.kinds: list[str] = []
        """The kinds to offer: this server's and any the table holds."""

    def link(self, page: int) -> str:
        """The listing's address with these filters at another page."""
        shown: dict[str, Any] = {"status": self.status}
        if self.kind:
            shown["kind"] = self.kind
        if page > 1:
            shown["page"] = page
        return f"/admin/jobs?{urlencode(shown)}"


async def _listing(request: web.Request) -> tuple[JobQuery, list[JobRecord], bool, dict[str, int]]:
    await staff_may(request, Action.READ_JOBS)
    query = JobQuery(request)

    db = request.app[DB]
    query.kinds = sorted(set(request.app[JOBS].kinds) | set(await job_kinds(db)))
    jobs = await list_jobs(db, status=query.status, kind=query.kind, limit=PAGE_SIZE + 1,
                           offset=(query.page - 1) * PAGE_SIZE)
    return query, jobs[:PAGE_SIZE], len(jobs) > PAGE_SIZE, await count_jobs(db)


async def jobs_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/jobs?status=&kind=&page=: the jobs, failed ones first."""
    query, jobs, more, counts = await _listing(request)
    return render(request, "admin/jobs.html", {
        "query": query, "jobs": jobs, "counts": counts, "statuses": STATUSES,
        "older": query.link(query.page + 1) if more else None,
        "newer": query.link(query.page - 1) if query.page > 1 else None})


async def jobs_json(request: web.Request) -> web.StreamResponse:
    """GET /admin/jobs.json?status=&kind=&page=: the same listing as JSON."""
    try:
        query, jobs, more, counts = await _listing(request)
    except ApiError as exc:
        if exc.status != 400:
            raise
        return json_error(exc.status, exc.code, exc.message)
    return web.json_response({
        "counts": counts, "status": query.status, "kind": query.kind, "page": query.page,
        "more": more,
        "jobs": [{"id": j.id, "kind": j.kind, "status": j.status, "attempts": j.attempts,
                  "max_attempts": j.max_attempts, "run_at": j.run_at,
                  "last_error": j.last_error, "last_error_at": j.last_error_at,
                  "finished_at": j.finished_at} for j in jobs]})
