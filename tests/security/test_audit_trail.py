"""The audit trail cannot be hidden: paging and filters, collapsed link opens, audited API
reads, API keys' last use, failed logins for unknown emails (by keyed tag, never the text)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from typing import Any

import pytest

from server.keys import DB
from server.storage import audit_events as audit
from server.storage.events import record_event
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    link_of,
    login,
    make_api_key,
    make_visit,
    now,
)
from tests.live import in_call

pytestmark = pytest.mark.both_engines

OLDER = re.compile(r'<a class="button" href="([^"]+)" rel="next">Older events</a>')


def actions_on(page: str) -> list[str]:
    """The action column of an audit log page, top to bottom."""
    return re.findall(r"</code></td><td>([a-z_.]+)</td>", page)


async def test_two_hundred_opens_of_one_link_do_not_push_an_api_key_creation_out_of_sight(admin):
    await make_api_key(admin)
    visit = await make_visit(admin)
    link = await link_of(admin, visit)
    for _ in range(200):
        assert (await admin.get(link, allow_redirects=False)).status == 303
    page = await (await admin.get("/admin/events")).text()
    assert "api_key.created" in actions_on(page)
    assert actions_on(page).count("link.opened") == 1
    assert "repeats=200" in page


async def test_link_opens_a_minute_apart_are_separate_rows(admin):
    visit = await make_visit(admin)
    participant = visit.participant("patient")
    db = admin.server.app[DB]
    start = now()
    for at in (start, start + 30, start + 61):
        async with db.transaction() as conn:
            await record_event(conn, audit.LinkOpened(role="patient"),
                               actor=f"participant:{participant.id}", now=at, visit_id=visit.id)
    rows = await db.fetchall("SELECT at, detail FROM events WHERE action = 'link.opened' ORDER BY id")
    assert [(r[0], json.loads(r[1])) for r in rows] == [
        (start, {"role": "patient", "repeats": 2, "last_at": start + 30}),
        (start + 61, {"role": "patient"})]


async def test_the_audit_log_pages_back_to_its_first_event(admin):
    db = admin.server.app[DB]
    async with db.transaction() as conn:
        for n in range(250):
            await record_event(conn, audit.VisitRead(), actor=f"api_key:{n}", now=now())
    total = (await db.fetchone("SELECT COUNT(*) FROM events"))[0]
    seen, path, pages = [], "/admin/events", 0
    while path:
        page = await (await admin.get(path.replace("&amp;", "&"))).text()
        seen += actions_on(page)
        match = OLDER.search(page)
        path = match.group(1) if match else ""
        pages += 1
    assert len(seen) == total and pages == -(-total // 100)
    assert seen[-1] == "account.created"  # the admin's account, the very first event


async def test_the_audit_log_filters_by_visit_actor_action_and_time(admin):
    key = await make_api_key(admin)
    auth = {"Authorization": f"Bearer {key}"}
    first, second = await make_visit(admin), await make_visit(admin)
    await admin.get(f"/api/visits/{first.id}", headers=auth)
    db = admin.server.app[DB]
    async with db.transaction() as conn:
        await record_event(conn, audit.VisitCreated(kind="follow-up"), actor="cli",
                           now=86400 * 365 * 20, visit_id=second.id)  # 1989-12-27: long ago


    async def rows(query: str) -> list[str]:
        response = await admin.get(f"/admin/events?{query}")
        assert response.status == 200, await response.text()
        return actions_on(await response.text())

    assert set(await rows(f"visit={first.id}")) == {"visit.created", "visit.read"}
    assert await rows("actor=api_key:1") == ["visit.read"]
    assert await rows("action=api_key.created") == ["api_key.created"]
    assert await rows("action=visit.created&to=1990-01-01") == ["visit.created"]
    assert "visit.created" not in await rows("action=visit.created&from=1990-01-01&to=1990-12-31")
    assert len(await rows("action=visit.created&from=2000-01-01")) == 2


async def test_bad_audit_filters_are_a_readable_400(admin):
    for query in ("actor=%27%3B+DROP+TABLE+events", "visit=nope", "from=yesterday",
                  "before=12abc", "action=<script>"):
        response = await admin.get(f"/admin/events?{query}")
        body = await response.text()
        assert response.status == 400, query
        assert "not valid" in body or "must be" in body
        assert "Traceback" not in body and "<script>" not in body


async def test_reading_visits_through_the_api_is_audited_and_marks_the_key_used(api):
    client, auth = api
    visit = await make_visit(client)
    db = client.server.app[DB]
    assert (await db.fetchone("SELECT last_used_at FROM api_keys"))[0] is None
    assert (await client.get("/api/visits", headers=auth, params={"status": "scheduled"})).status == 200
    assert (await client.get(f"/api/visits/{visit.id}", headers=auth)).status == 200
    rows = await db.fetchall("SELECT actor, action, visit_id, detail FROM events"
                             " WHERE action IN ('visits.listed', 'visit.read') ORDER BY id")
    assert [tuple(r)[:3] for r in rows] == [("api_key:1", "visits.listed", None),
                                            ("api_key:1", "visit.read", visit.id)]
    assert json.loads(rows[0][3]) == {"count": 1, "status": "scheduled"}
    last_used = (await db.fetchone("SELECT last_used_at FROM api_keys"))[0]
    assert last_used is not None and abs(last_used - now()) <= 5


async def test_a_failed_login_for_an_unknown_email_is_recorded_by_tag_never_by_text(client, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="aiosqlite")  # as run.py sets it: it quotes SQL
    typed = ["Nobody@Clinic.test", "nobody@clinic.test", "my-Secret-Passw0rd"]
    for email in typed:
        await login(client, email, "whatever-it-is", expect=401)
    rows = await client.server.app[DB].fetchall(
        "SELECT actor, action, detail FROM events WHERE actor = 'anonymous' ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [("anonymous", "login.failed")] * 3
    tags = [json.loads(r[2])["email_tag"] for r in rows]
    assert tags[0] == tags[1] != tags[2] and all(re.fullmatch(r"[0-9a-f]{16}", t) for t in tags)
    everything = json.dumps([tuple(r) for r in await client.server.app[DB].fetchall(
        "SELECT * FROM events")])
    for email in typed:
        assert email.lower() not in everything.lower()
        assert email.lower() not in caplog.text.lower()
    await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    page = await (await client.get("/admin/events?actor=anonymous")).text()
    assert actions_on(page) == ["login.failed"] * 3 and tags[2] in page


def device_hash(socket: Any) -> str:
    """The device id the server keeps for a socket's browser (the hash of its cookie)."""
    cookie = next(c for c in socket.session.cookie_jar if c.key == "visitroom_device")
    return hashlib.sha256(cookie.value.encode()).hexdigest()[:32]


async def visit_events(live: Any, visit_id: str, *actions: str) -> list[tuple[str, str, dict]]:
    rows = await live.app[DB].fetchall(
        f"SELECT action, actor, detail FROM events WHERE visit_id = ?"
        f" AND action IN ({','.join('?' * len(actions))}) ORDER BY id", (visit_id, *actions))
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


async def test_admit_remove_deny_and_end_name_the_acting_therapist_and_her_device(live):
    visit, therapist, patient = await in_call(live)
    patient_id = visit.participant("patient").id
    await therapist.send({"type": "remove", "participant": patient_id})
    await patient.expect("removed")
    await therapist.send({"type": "deny", "participant": patient_id})
    assert await patient.closed_with() == 4003
    await therapist.send({"type": "end-visit"})
    await therapist.expect("visit-ended")
    acting = f"participant:{visit.participant('therapist').id}"
    device = device_hash(therapist)
    assert await visit_events(live, visit.id, "participant.admitted", "participant.removed",
                              "participant.denied", "visit.ended") == [
        ("participant.admitted", acting, {"participant": patient_id, "actor_device": device}),
        ("participant.removed", acting, {"participant": patient_id, "actor_device": device}),
        ("participant.denied", acting, {"participant": patient_id, "actor_device": device}),
        ("visit.ended", acting, {"reason": "ended_by_therapist", "actor_device": device})]


async def test_removing_with_revoke_names_the_acting_therapist_and_her_device(live):
    visit, therapist, patient = await in_call(live)
    patient_id = visit.participant("patient").id
    await therapist.send({"type": "remove", "participant": patient_id, "revoke": True})
    assert await patient.closed_with() is not None
    assert await visit_events(live, visit.id, "link.revoked") == [
        ("link.revoked", f"participant:{visit.participant('therapist').id}",
         {"participant": patient_id, "actor_device": device_hash(therapist)})]


async def test_a_flood_of_demos_is_rate_limited_and_collapsed_in_the_log(live):
    visit, therapist, patient = await in_call(live)
    for n in range(40):
        await therapist.send({"type": "demo-show",
                              "exercise": "glute-bridge" if n % 2 else "cat-cow"})
    await therapist.send({"type": "ping", "t": 7})
    assert (await therapist.expect("pong"))["t"] == 7  # every demo before it was handled
    refused = [m for m in therapist.seen if m["type"] == "error"]
    await patient.send({"type": "ping", "t": 8})
    assert (await patient.expect("pong"))["t"] == 8
    shown = [m for m in patient.seen if m["type"] == "demo-show"]
    # The burst of 5, and at most one more if sending took over a second.
    assert 5 <= len(shown) <= 6 and len(refused) == 40 - len(shown), (len(shown), len(refused))
    assert {m["code"] for m in refused} == {"rate_limited"}
    rows = await visit_events(live, visit.id, "demo.shown")
    # Two exercises, one row each (a row never holds two), the repeats counted in it.
    assert sorted(r[2]["exercise"] for r in rows) == ["cat-cow", "glute-bridge"]
    assert sum(r[2].get("repeats", 1) for r in rows) == len(shown)
    await asyncio.sleep(1.1)  # the rate lets one more through each second
    await therapist.send({"type": "demo-show", "exercise": "cat-cow"})
    assert (await patient.expect("demo-show"))["exercise"] == "cat-cow"


async def test_wrong_api_keys_are_audited_then_throttled_even_for_a_right_key(api):
    client, auth = api
    wrong = {"Authorization": "Bearer vr_" + "x" * 43}
    for _ in range(5):
        response = await client.get("/api/visits", headers=wrong)
        assert response.status == 401
    response = await client.get("/api/visits", headers=auth)
    assert response.status == 429
    assert 880 <= int(response.headers["Retry-After"]) <= 900
    assert (await response.json())["error"]["code"] == "too_many_attempts"
    assert (await client.get("/api/visits", headers=wrong)).status == 429
    rows = await client.server.app[DB].fetchall(
        "SELECT actor, action, detail FROM events WHERE action LIKE 'api_key.%'"
        " AND action != 'api_key.created' ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [("anonymous", "api_key.failed")] * 5 + [
        ("anonymous", "api_key.throttled")]  # the refusals audited once a window
    tags = {json.loads(r[2])["address_tag"] for r in rows}
    assert len(tags) == 1 and re.fullmatch(r"[0-9a-f]{16}", tags.pop())
    assert "x" * 43 not in json.dumps([tuple(r) for r in rows])


async def test_a_listing_with_links_records_links_true(api):
    client, auth = api
    await make_visit(client)
    assert (await client.get("/api/visits", headers=auth, params={"links": "true"})).status == 200
    assert (await client.get("/api/visits", headers=auth)).status == 200
    rows = await client.server.app[DB].fetchall(
        "SELECT detail FROM events WHERE action = 'visits.listed' ORDER BY id")
    assert [json.loads(r[0]) for r in rows] == [{"count": 1, "links": True}, {"count": 1}]
