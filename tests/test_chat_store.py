"""Chat kept with the visit only when the server is told to (VISITROOM_CHAT_STORE): on, the
admin visit page and the API show it; off, nothing is stored and neither shows any."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from server.keys import DB
from server.runtime.config import Config
from server.storage import chat as chat_store
from server.storage.chat import add_chat_message, chat_of_visit
from signaling.chat import ChatEntry
from tests.helpers import count_rows, link_of, make_api_key, make_visit
from tests.live import Socket

pytestmark = pytest.mark.both_engines
ORIGIN = "http://127.0.0.1:8080"


@pytest.fixture(params=[True, False], ids=["store-on", "store-off"])
def config(config: Config, request: pytest.FixtureRequest) -> Config:
    """The module's settings with chat kept (on) or not (off)."""
    return replace(config, chat_store=request.param)


async def _socket(aiohttp_client, client, visit, role: str) -> Socket:
    """Another browser on the same server that opened the participant's link."""
    browser = await aiohttp_client(client.server)
    assert (await browser.get(await link_of(client, visit, role))).status == 200
    return Socket(await browser.ws_connect(f"/visits/{visit.id}/ws", origin=ORIGIN))


async def _chat(socket: Socket, text: str) -> dict:
    """The `chat` message with this text (earlier ones, the socket's own echoes, skipped)."""
    while True:
        try:
            message = await socket.expect("chat")
        except TimeoutError:
            raise AssertionError(f"waited 5 s for the chat {text!r} in vain; "
                                 f"seen {socket.seen}") from None
        if message["text"] == text:
            return message


async def _chat_in_call_and_waiting_room(aiohttp_client, client):
    visit = await make_visit(client, patient_name="Pia Chat", therapist_name="Sam Lee")
    therapist = await _socket(aiohttp_client, client, visit, "therapist")
    await therapist.expect("welcome")
    patient = await _socket(aiohttp_client, client, visit, "patient")
    await patient.expect("waiting")
    patient_id = visit.participant("patient").id
    await therapist.send({"type": "chat", "text": "Running five minutes late", "to": patient_id})
    await _chat(patient, "Running five minutes late")
    await patient.send({"type": "chat", "text": "No problem <b>at all</b>"})
    assert (await _chat(therapist, "No problem <b>at all</b>"))["from"]["id"] == patient_id
    await therapist.send({"type": "admit", "participant": patient_id})
    await patient.expect("admitted")
    await therapist.send({"type": "chat", "text": "Welcome in\nLet's start"})
    await _chat(patient, "Welcome in\nLet's start")
    return visit


async def test_kept_chat_shows_on_the_admin_page_and_in_the_api(aiohttp_client, api, config):
    client, _ = api
    visit = await _chat_in_call_and_waiting_room(aiohttp_client, client)
    page = await (await client.get(f"/admin/visits/{visit.id}")).text()
    key = {"Authorization": f"Bearer {await make_api_key(client, 'Records', 'everything')}"}
    body = await (await client.get(f"/api/visits/{visit.id}", headers=key)).json()
    if not config.chat_store:
        assert await count_rows(client, "chat_messages") == 0
        assert 'data-testid="admin-chat"' not in page and "Running five minutes late" not in page
        assert "chat" not in body
        return
    stored = await chat_of_visit(client.server.app[DB], visit.id)
    assert [e.text for e in stored] == ["Running five minutes late", "No problem <b>at all</b>",
                                        "Welcome in\nLet's start"]
    patient_id = visit.participant("patient").id
    assert [e.thread for e in stored] == [patient_id, patient_id, ""]
    assert 'data-testid="admin-chat"' in page and "Running five minutes late" in page
    assert "No problem &lt;b&gt;at all&lt;/b&gt;" in page and "<b>at all</b>" not in page
    assert [(m["text"], m["to"], m["sender_role"]) for m in body["chat"]] == [
        ("Running five minutes late", patient_id, "therapist"),
        ("No problem <b>at all</b>", patient_id, "patient"),
        ("Welcome in\nLet's start", None, "therapist")]
    assert body["chat_more"] is False and 'data-testid="admin-chat-more"' not in page


async def test_a_key_without_patients_read_gets_no_chat(aiohttp_client, api, config):
    client, headers = api  # visits scopes only
    visit = await _chat_in_call_and_waiting_room(aiohttp_client, client)
    body = await (await client.get(f"/api/visits/{visit.id}", headers=headers)).json()
    assert "chat" not in body and body["visit_id"] == visit.id


async def test_a_visit_keeps_a_bounded_number_of_messages_then_refuses_with_chat_full(
        aiohttp_client, api, config, monkeypatch):
    client, _ = api
    monkeypatch.setattr(chat_store, "KEPT_PER_VISIT", 3)
    visit = await make_visit(client, patient_name="Pia Chat", therapist_name="Sam Lee")
    therapist = await _socket(aiohttp_client, client, visit, "therapist")
    await therapist.expect("welcome")
    for n in range(3):
        await therapist.send({"type": "chat", "text": f"note {n}"})
        await _chat(therapist, f"note {n}")
    await therapist.send({"type": "chat", "text": "one too many"})
    if not config.chat_store:  # nothing kept, nothing to bound: memory keeps 50 a thread
        await _chat(therapist, "one too many")
        assert await count_rows(client, "chat_messages") == 0
        return
    error = await therapist.expect("error")
    assert error["code"] == "chat_full"
    assert "one too many" not in [m.get("text") for m in therapist.seen]
    assert [e.text for e in await chat_of_visit(client.server.app[DB], visit.id)] == [
        "note 0", "note 1", "note 2"]
    await therapist.send({"type": "ping", "t": 7})
    assert (await therapist.expect("pong"))["t"] == 7  # the socket stays


async def test_the_admin_page_and_the_api_show_the_latest_messages_and_say_more_are_kept(
        aiohttp_client, api, config, monkeypatch):
    client, _ = api
    monkeypatch.setattr(chat_store, "SHOWN", 2)
    visit = await make_visit(client, patient_name="Pia Chat", therapist_name="Sam Lee")
    therapist_id = visit.participant("therapist").id
    for n in range(3):
        await add_chat_message(client.server.app[DB], visit.id, ChatEntry(
            f"m_test{n}", 1_000 + n, "", therapist_id, "therapist", "Sam Lee", f"note {n}",
            1_700_000_000 + n))
    page = await (await client.get(f"/admin/visits/{visit.id}")).text()
    assert "note 1" in page and "note 2" in page and "note 0" not in page
    assert 'data-testid="admin-chat-more"' in page
    key = {"Authorization": f"Bearer {await make_api_key(client, 'Records', 'everything')}"}
    body = await (await client.get(f"/api/visits/{visit.id}", headers=key)).json()
    assert [m["text"] for m in body["chat"]] == ["note 1", "note 2"] and body["chat_more"]
    # The read that handed the chat out says so in the audit log: how many messages.
    rows = await client.server.app[DB].fetchall(
        "SELECT detail FROM events WHERE visit_id = ? AND action = ?", (visit.id, "visit.read"))
    assert [json.loads(r["detail"]).get("chat") for r in rows] == [2]


async def test_a_read_without_chat_is_audited_without_a_chat_count(aiohttp_client, api, config):
    client, headers = api  # visits scopes only: no chat
    visit = await make_visit(client, patient_name="Pia Chat", therapist_name="Sam Lee")
    body = await (await client.get(f"/api/visits/{visit.id}", headers=headers)).json()
    assert "chat" not in body and "chat_more" not in body
    rows = await client.server.app[DB].fetchall(
        "SELECT detail FROM events WHERE visit_id = ? AND action = ?", (visit.id, "visit.read"))
    assert len(rows) == 1 and "chat" not in json.loads(rows[0]["detail"] or "{}")
