"""Messages between visits: she writes on her plan page, her therapist answers on her admin
page; unread ones reach the therapist's dashboard until she reads them; a staff message
queues one email notice (without its text, with her consent only) while earlier ones are
unread; a closed plan takes none; every bad message is refused with nothing stored. On
SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.care.messages import MAX_A_DAY, MAX_TEXT, PAGE
from server.keys import CONFIG, DB
from server.storage.plan_messages import insert_message
from server.storage.plans import Plan
from tests.helpers import count_rows, now, page_csrf, post_form
from tests.test_admin_patients import new_patient, new_plan, plan_link, therapist_client

pytestmark = pytest.mark.both_engines

NAME = "Maya Lopez"
SECRET = "my pelvic pain is back since Tuesday"


@pytest.fixture
async def care(aiohttp_client, admin) -> dict[str, Any]:
    """Maya (email, consent), whose plan Rae leads, and her own browser with her link open."""
    rae = await therapist_client(aiohttp_client, admin, "Rae Kim", "rae@clinic.test")
    maya = await new_patient(admin, NAME, email="maya@example.test", email_consent="true")
    plan = await new_plan(admin, maya, therapist_email="rae@clinic.test")
    her = await aiohttp_client(admin.server)
    assert (await her.get(await plan_link(admin, plan), allow_redirects=False)).status == 303
    return {"admin": admin, "rae": rae, "maya": maya, "plan": plan, "her": her,
            "page": f"/admin/patients/{maya}"}


def _origin(client: TestClient) -> dict[str, str]:
    return {"Origin": client.server.app[CONFIG].origin}


async def _send(her: TestClient, plan: Plan, text: Any = "Hello", **headers: str) -> Any:
    return await her.post(f"/care/{plan.id}/messages", json={"text": text},
                          headers={**_origin(her), **headers})


async def _thread(her: TestClient, plan: Plan, query: str = "") -> dict[str, Any]:
    response = await her.get(f"/care/{plan.id}/messages{query}")
    assert response.status == 200, await response.text()
    return await response.json()


async def _reply(staff: TestClient, c: dict[str, Any], text: str) -> Any:
    return await post_form(staff, c["page"], f"/admin/plans/{c['plan'].id}/messages",
                           {"text": text})


async def _notices(client: TestClient) -> list[Any]:
    return await client.server.app[DB].fetchall(
        "SELECT idempotency_key, subject, body, unsubscribe_url, recipient FROM outbox"
        " WHERE kind = 'notice.message' ORDER BY created_at, idempotency_key")


async def test_her_message_reaches_the_dashboard_until_her_therapist_reads_it(care):
    her, rae, plan = care["her"], care["rae"], care["plan"]
    response = await _send(her, plan, f"  {SECRET}\r\nThanks!  ")
    assert response.status == 201, await response.text()
    sent = (await response.json())["message"]
    assert (sent["author"], sent["text"], sent["read"]) == ("patient", f"{SECRET}\nThanks!",
                                                            False)
    assert [m["text"] for m in (await _thread(her, plan))["messages"]] == [sent["text"]]
    for staff in (rae, care["admin"]):
        dashboard = await (await staff.get("/admin")).text()
        assert 'data-testid="unread-messages"' in dashboard
        assert f'href="{care["page"]}#messages">{NAME}</a>' in dashboard
        assert "1 unread message," in dashboard
    # The admin looking at Rae's plan leaves it unread for Rae; Rae's own look reads it.
    assert SECRET in await (await care["admin"].get(care["page"])).text()
    assert "unread-messages" in await (await rae.get("/admin")).text()
    page = await (await rae.get(care["page"])).text()
    assert SECRET in page and 'data-author="patient"' in page
    assert "unread-messages" not in await (await rae.get("/admin")).text()
    row = await rae.server.app[DB].fetchone("SELECT read_at FROM plan_messages")
    assert row[0] is not None


async def test_her_therapists_reply_shows_on_her_page_and_opening_it_marks_it_read(care):
    her, rae, plan = care["her"], care["rae"], care["plan"]
    response = await _reply(rae, care, "Try the slow holds <b>twice</b> a day.")
    assert response.status == 303
    assert response.headers["Location"] == f"{care['page']}?done=message_sent#messages"
    page = await (await rae.get(care["page"])).text()
    assert "Try the slow holds &lt;b&gt;twice&lt;/b&gt; a day." in page
    assert "not read yet" in page
    thread = await _thread(her, plan)
    assert [(m["author"], m["author_name"], m["text"]) for m in thread["messages"]] == [
        ("staff", "Rae Kim", "Try the slow holds <b>twice</b> a day.")]
    assert thread["max_length"] == MAX_TEXT and thread["older"] is None
    assert (await _thread(her, plan))["messages"][0]["read"] is True
    assert "read by her" in await (await rae.get(care["page"])).text()


async def test_a_reply_queues_one_notice_without_its_text_until_she_reads_it(care):
    her, rae, plan = care["her"], care["rae"], care["plan"]
    for text in (SECRET, "And rest on Sunday."):
        assert (await _reply(rae, care, text)).status == 303
    notices = await _notices(rae)
    assert len(notices) == 1
    key, subject, body, unsubscribe, recipient = notices[0]
    assert key.startswith(f"message-notice:{plan.id}:") and recipient == "maya@example.test"
    assert subject == "You have a new message from Visitroom"
    assert f"/care/{plan.id}?token=" in body and unsubscribe and unsubscribe in body
    assert SECRET not in body + subject and "Sunday" not in body and "pelvic" not in body
    await _thread(her, plan)  # she reads them
    assert (await _reply(rae, care, "How did it go?")).status == 303
    assert len(await _notices(rae)) == 2


async def test_no_notice_goes_to_a_patient_without_email_consent(aiohttp_client, admin):
    rae = await therapist_client(aiohttp_client, admin, "Rae Kim", "rae@clinic.test")
    maya = await new_patient(admin, NAME, email="maya@example.test")
    plan = await new_plan(admin, maya, therapist_email="rae@clinic.test")
    c = {"page": f"/admin/patients/{maya}", "plan": plan}
    assert (await _reply(rae, c, "See you Monday.")).status == 303
    assert await count_rows(rae, "plan_messages") == 1
    assert await _notices(rae) == []


async def test_a_closed_plan_takes_no_message_from_either_side(care):
    her, admin, plan = care["her"], care["admin"], care["plan"]
    assert (await post_form(admin, care["page"], f"/admin/plans/{plan.id}/close")).status == 303
    response = await _send(her, plan, "Are you there?")
    assert response.status == 409
    assert "closed" in (await response.json())["error"]["message"]
    token = await page_csrf(admin, care["page"])
    response = await admin.post(f"/admin/plans/{plan.id}/messages",
                                data={"text": "Hello", "csrf_token": token},
                                allow_redirects=False)
    assert response.status == 409 and "closed" in await response.text()
    assert await count_rows(her, "plan_messages") == 0


BAD = [
    ("", "Write a message first"), (" \r\n \u3000", "Write a message first"),
    ("x" * (MAX_TEXT + 1), f"at most {MAX_TEXT}"), ("beep\x07", "control"),
    ("red\x1b[31m", "control"), ("tab\there", "control"), ("nul\x00", "control"),
    ("c1\x85", "control"), ("us\x1f", "control"), ("\u202egnp.exe", "direction"),
    ("a\u2066b", "direction"), (42, "text must be"),
    (None, "text must be"),
]
"""Messages refused, and words of what each refusal says."""


async def test_a_bad_message_is_refused_and_nothing_is_stored(care):
    # One test for every case: each costs a request, the fixture far more.
    for text, says in BAD:
        response = await _send(care["her"], care["plan"], text)
        assert response.status == 422, (text, await response.text())
        assert says in (await response.json())["error"]["message"], text
    assert await count_rows(care["her"], "plan_messages") == 0
    assert (await _send(care["her"], care["plan"], "still here")).status == 201


async def test_a_body_that_is_not_one_text_is_refused(care):
    her, plan = care["her"], care["plan"]
    for body, status in (({"text": "hi", "colour": "red"}, 422), ([], 400), ({}, 422)):
        response = await her.post(f"/care/{plan.id}/messages", json=body, headers=_origin(her))
        assert response.status == status, body
    response = await her.post(f"/care/{plan.id}/messages", data="text=hi",
                              headers={**_origin(her), "Content-Type": "text/plain"})
    assert response.status == 415
    assert await count_rows(her, "plan_messages") == 0


async def test_a_message_longest_allowed_and_with_line_breaks_is_kept_as_written(care):
    text = "é" * (MAX_TEXT - 2) + "\n😀"
    response = await _send(care["her"], care["plan"], text)
    assert response.status == 201
    assert (await _thread(care["her"], care["plan"]))["messages"][0]["text"] == text


async def test_another_site_or_a_request_without_origin_cannot_post_her_message(care):
    her, plan = care["her"], care["plan"]
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {}):
        response = await her.post(f"/care/{plan.id}/messages", json={"text": "hi"},
                                  headers=headers)
        assert response.status == 403, headers
        assert (await response.json())["error"]["code"] == "bad_origin"
    assert await count_rows(her, "plan_messages") == 0


async def test_another_plans_cookie_or_none_opens_nothing_of_her_thread(care, aiohttp_client):
    admin, plan = care["admin"], care["plan"]
    await _send(care["her"], plan, SECRET)
    ines = await new_patient(admin, "Ines Ortega")
    other_plan = await new_plan(admin, ines)
    other = await aiohttp_client(admin.server)
    assert (await other.get(await plan_link(admin, other_plan),
                            allow_redirects=False)).status == 303
    token = (await plan_link(admin, other_plan)).split("token=", 1)[1]
    forged = {"Cookie": f"visitroom_plan={token}"}
    for client, headers in ((other, {}), (other, forged)):
        got = await client.get(f"/care/{plan.id}/messages", headers=headers)
        sent = await client.post(f"/care/{plan.id}/messages", json={"text": "hi"},
                                 headers={**_origin(client), **headers})
        assert (got.status, sent.status) in ((401, 401), (403, 403)), headers
        assert SECRET not in await got.text() and NAME not in await sent.text()
    assert await count_rows(other, "plan_messages") == 1


async def test_a_therapist_not_hers_gets_404_and_one_not_leading_the_plan_403(
        care, aiohttp_client):
    admin, rae = care["admin"], care["rae"]
    sam = await therapist_client(aiohttp_client, admin, "Sam Lee", "sam@clinic.test")
    token = await page_csrf(sam, "/admin")
    response = await sam.post(f"/admin/plans/{care['plan'].id}/messages",
                              data={"text": "hi", "csrf_token": token}, allow_redirects=False)
    assert response.status == 404 and NAME not in await response.text()
    # Rae led her old plan; the new one is Sam's: she may read the thread, not write in it.
    assert (await post_form(admin, care["page"],
                            f"/admin/plans/{care['plan'].id}/close")).status == 303
    newer = await new_plan(admin, care["maya"], therapist_email="sam@clinic.test")
    token = await page_csrf(rae, care["page"])
    response = await rae.post(f"/admin/plans/{newer.id}/messages",
                              data={"text": "hi", "csrf_token": token}, allow_redirects=False)
    assert response.status == 403
    assert 'data-testid="message-form"' not in await (await rae.get(care["page"])).text()
    response = await rae.post(f"/admin/plans/{newer.id}/messages", data={"text": "hi"},
                              allow_redirects=False)
    assert response.status == 403  # no CSRF token
    assert await count_rows(rae, "plan_messages") == 0


async def test_a_bad_reply_shows_her_page_again_with_the_text_kept(care):
    rae = care["rae"]
    response = await _reply(rae, care, "   ")
    assert response.status == 422
    assert "Write a message first" in await response.text()
    response = await _reply(rae, care, "ok\x1b then <i>")
    assert response.status == 422
    assert ">ok\x1b then &lt;i&gt;</textarea>" in await response.text()  # kept, to correct
    assert await count_rows(rae, "plan_messages") == 0


async def test_a_flood_of_her_messages_is_a_429_that_says_when_to_try_again(care):
    her, plan = care["her"], care["plan"]
    db = her.server.app[DB]
    async with db.transaction() as conn:  # her day's messages, an hour ago
        for n in range(MAX_A_DAY["patient"] - 1):
            await insert_message(conn, plan_id=plan.id, author="patient", user_id=None,
                                 text=f"note {n}", now=now() - 3600)
    assert (await _send(her, plan, "the last one today")).status == 201
    response = await _send(her, plan, "one more")
    assert response.status == 429
    assert "tomorrow" in (await response.json())["error"]["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 86400 - 3600 + 5
    assert await count_rows(her, "plan_messages") == MAX_A_DAY["patient"]
    assert (await _thread(her, plan))["messages"][0]["text"] == "the last one today"


async def test_the_thread_pages_newest_first_with_an_older_cursor(care):
    her, plan = care["her"], care["plan"]
    db = her.server.app[DB]
    start = now() - 7200
    async with db.transaction() as conn:
        for n in range(PAGE + 5):  # two a second: some share a second, ordered by id
            await insert_message(conn, plan_id=plan.id, author="patient", user_id=None,
                                 text=f"m{n}", now=start + n // 2)
    first = await _thread(her, plan)
    assert [m["text"] for m in first["messages"]] == [f"m{n}" for n in
                                                      range(PAGE + 4, 4, -1)]
    older = await _thread(her, plan, f"?before={first['older']}")
    assert [m["text"] for m in older["messages"]] == ["m4", "m3", "m2", "m1", "m0"]
    assert older["older"] is None
    for bad in ("x", "1-", "12345678901234-1", "1-2-3"):
        response = await her.get(f"/care/{plan.id}/messages?before={bad}")
        assert response.status == 400, bad
    assert (await care["rae"].get(f"{care['page']}?messages_before=nope")).status == 400


async def test_each_message_is_audited_with_ids_only(care):
    her, rae, plan = care["her"], care["rae"], care["plan"]
    await _send(her, plan, SECRET)
    await _reply(rae, care, "Noted, Maya.")
    rows = await her.server.app[DB].fetchall(
        "SELECT actor, detail FROM events WHERE action = 'plan.message' ORDER BY id")
    assert [r["actor"].split(":")[0] for r in rows] == ["patient", "user"]
    for row in rows:
        assert SECRET not in row["detail"] and "Maya" not in row["detail"]
        assert plan.id in row["detail"]
