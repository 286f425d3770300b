"""The public condition library: pages, their JSON twins, and the pelvic-floor self-check.

Every page and answer is in the request's language: the library as that language shows it
(`Library.in_language`: translated entries, the rest in English and marked so, the warning signs
always translated)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from aiohttp import web

from server.http.errors import ApiError
from server.http.i18n import N_, fill, translate
from server.keys import LIBRARY
from server.library.citations import with_citations, without_markers
from server.library.clinical import SUPINE_SOURCE
from server.library.loader import PHASES
from server.library.model import Exercise, Library
from server.library.quiz import QUESTIONS, assess, related_conditions
from server.library.warning_signs import SHARED_SIGNS
from server.http.query_params import query_value
from server.http.schemas import MAX_QUERY_LENGTH
from server.http.templating import COMPRESS_ON_LOOP_BELOW, render, request_language

CACHE = "public, max-age=300"


def _library(request: web.Request) -> Library:
    """The library in the request's language."""
    return request.app[LIBRARY].in_language(request_language(request))


def _cached_json(request: web.Request, body: Any) -> web.StreamResponse:
    """JSON with an ETag of the library's content in the request's language; 304 when the client has it."""
    etag = f'"{_library(request).etag}"'
    headers = {"ETag": etag, "Cache-Control": CACHE, "Vary": "Accept-Language, Cookie"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    response = web.Response(text=json.dumps(body), headers=headers, content_type="application/json",
                            zlib_executor_size=COMPRESS_ON_LOOP_BELOW)
    response.enable_compression()
    return response


def exercise_json(library: Library, exercise: Exercise) -> dict[str, Any]:
    """An exercise with the poses its demo needs, for the renderer."""
    data = exercise.as_json()
    data["poses"] = {f.pose: library.poses[f.pose] for f in exercise.demo}
    if library.figure is not None:  # the figure's sizes and views, and each prop's shape where it stands
        data["figure"] = {k: v for k, v in library.figure.as_json().items() if k != "props"}
        data["props"] = [{**library.figure.props[p["name"]], **p} for p in data["props"]]
    data["conditions"] = [c.slug for c in library.conditions_for(exercise.slug)]
    return data


def _condition_summary(condition: Any) -> dict[str, Any]:
    return {"slug": condition.slug, "name": condition.name, "aliases": list(condition.aliases),
            "phase": condition.phase, "gist": without_markers(condition.gist),
            "language": condition.language, "english_only": condition.english_only}


def _filtered(request: web.Request) -> tuple[list[Any], str, str]:
    query = request.query.get("q", "")[:MAX_QUERY_LENGTH]
    phase = request.query.get("phase", "")
    if phase and phase not in PHASES:
        phase = ""
    conditions = [c for c in _library(request).ordered_conditions()
                  if c.matches(query) and (not phase or c.phase in (phase, "any"))]
    return conditions, query, phase


def _condition(request: web.Request) -> Any:
    condition = _library(request).conditions.get(request.match_info["slug"])
    if condition is None:
        raise ApiError(404, "not_found", N_("There is no condition with this name in the library."))
    return condition


def _exercise(request: web.Request) -> Exercise:
    exercise = _library(request).exercises.get(request.match_info["slug"])
    if exercise is None:
        raise ApiError(404, "not_found", N_("There is no exercise with this name in the library."))
    return exercise


async def index(request: web.Request) -> web.StreamResponse:
    """GET /library?q=&phase=."""
    conditions, query, phase = _filtered(request)
    return render(request, "library/index.html",
                  {"conditions": conditions, "query": query, "phase": phase, "phases": PHASES})


async def condition_page(request: web.Request) -> web.StreamResponse:
    """GET /library/{slug}."""
    condition = _condition(request)
    library = _library(request)
    keys = [source.key for source in (*condition.sources, *condition.review_sources)]
    shared_sources = {s.key: s for key in condition.shared_red_flags for s in SHARED_SIGNS[key].sources}
    language = request_language(request)

    def label(n: int) -> str:
        return fill(partial(translate, language), N_("source {n}"), n=n)

    return render(request, "library/condition.html",
                  {"condition": condition, "exercises": [library.exercises[s] for s in condition.exercises],
                   "cite": lambda text: with_citations(text, keys, label),
                   "shared_sources": list(shared_sources.values())})


async def exercises_page(request: web.Request) -> web.StreamResponse:
    """GET /library/exercises."""
    library = _library(request)
    return render(request, "library/exercises.html",
                  {"exercises": sorted(library.exercises.values(), key=lambda e: e.name)})


async def exercise_page(request: web.Request) -> web.StreamResponse:
    """GET /library/exercises/{slug}: the exercise with its live demo."""
    exercise = _exercise(request)
    return render(request, "library/exercise.html",
                  {"exercise": exercise, "conditions": _library(request).conditions_for(exercise.slug),
                   "supine_source": SUPINE_SOURCE})


async def quiz(request: web.Request) -> web.StreamResponse:
    """GET /library/quiz: the self-check form, or its result when answers are given."""
    answers = {q.key: request.query.get(q.key, "") for q in QUESTIONS}
    result = assess(answers) if any(answers.values()) else None
    conditions = _library(request).conditions
    related = [conditions[s] for s in related_conditions(answers) if s in conditions] if result else []
    return render(request, "library/quiz.html",
                  {"questions": QUESTIONS, "answers": answers, "result": result, "related": related})


async def api_conditions(request: web.Request) -> web.StreamResponse:
    """GET /api/library/conditions."""
    # The page forgives (a long search is cut, an unknown phase ignored); the API says no,
    # as its document does.
    query_value(request, "q", max_length=MAX_QUERY_LENGTH)
    query_value(request, "phase", choices=PHASES)
    conditions, _, _ = _filtered(request)
    return _cached_json(request, {"conditions": [_condition_summary(c) for c in conditions]})


async def api_condition(request: web.Request) -> web.StreamResponse:
    """GET /api/library/conditions/{slug}: the condition with its exercises."""
    condition = _condition(request)
    library = _library(request)
    body = condition.as_json()
    body["exercises"] = [exercise_json(library, library.exercises[s]) for s in condition.exercises]
    return _cached_json(request, body)


async def api_exercises(request: web.Request) -> web.StreamResponse:
    """GET /api/library/exercises."""
    library = _library(request)
    return _cached_json(request, {"exercises": [
        {"slug": e.slug, "name": e.name, "summary": e.summary, "dosage": e.dosage.text()}
        for e in sorted(library.exercises.values(), key=lambda e: e.name)]})


async def api_exercise(request: web.Request) -> web.StreamResponse:
    """GET /api/library/exercises/{slug}."""
    return _cached_json(request, exercise_json(_library(request), _exercise(request)))
