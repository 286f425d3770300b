"""Chat through the router (docs/protocol.md, "Chat"): relayed across processes like every
room message, each member reading what she may, the recent history kept while the room is
empty, and a room set up in another process starting from the kept chat."""

from __future__ import annotations

import json

from signaling.chat import ChatEntry
from signaling.protocol import parse_message
from signaling.router import LocalRouter
from tests.test_router_contract import (  # noqa: F401 (cluster is a fixture)
    PATIENT,
    THERAPIST,
    Cluster,
    MemoryStore,
    Participant,
    _people,
    _seat,
    cluster,
)
from tests.redis_server import redis_server  # noqa: F401 (a fixture)


class KeepingStore(MemoryStore):
    """Room hooks that keep chat, as the database does with VISITROOM_CHAT_STORE=on."""

    def __init__(self) -> None:
        super().__init__()
        self.chat: list[ChatEntry] = []

    async def chat_kept(self, visit_id: str, entry: ChatEntry) -> None:
        self.chat.append(entry)

    async def chat_history(self, visit_id: str) -> list[ChatEntry]:
        return list(self.chat)


async def _chat_from(person: Participant, sender: str) -> dict:
    """The next chat this person reads from `sender` (her own echoes skipped)."""
    while True:
        message = await person.expect("chat")
        if message["from"]["id"] == sender:
            return message


async def test_chat_crosses_processes_and_each_reads_what_she_may(cluster: Cluster):
    cluster.store = store = KeepingStore()
    therapist, patient = await _people(cluster)  # on two processes but for `local`
    await therapist.join()
    await therapist.expect("welcome")
    await patient.join()
    await patient.expect("waiting")
    assert "chat-history" not in [m["type"] for m in patient.sink.messages]  # none yet
    await therapist.send({"type": "chat", "text": "Running five minutes late", "to": PATIENT})
    late = await _chat_from(patient, THERAPIST)
    assert (late["text"], late["to"], late["from"]["name"]) == (
        "Running five minutes late", PATIENT, "Therapist")
    await patient.send({"type": "chat", "text": "ok"})
    assert (await _chat_from(therapist, PATIENT))["to"] == PATIENT
    await therapist.send({"type": "chat", "text": "Notes for the call"})  # not hers yet
    await therapist.send({"type": "admit", "participant": PATIENT})
    await patient.expect("admitted")
    history = await patient.expect("chat-history")  # let in: she reads the call's too
    assert [m["text"] for m in history["messages"]] == [
        "Running five minutes late", "ok", "Notes for the call"]
    await patient.send({"type": "chat", "text": "I can see you"})
    in_call = await _chat_from(therapist, PATIENT)
    assert in_call["text"] == "I can see you" and "to" not in in_call
    assert [(e.thread, e.text) for e in store.chat] == [
        (PATIENT, "Running five minutes late"), (PATIENT, "ok"), ("", "Notes for the call"),
        ("", "I can see you")]


async def test_an_emptied_room_keeps_its_chat_and_another_process_starts_from_the_kept_one():
    store = KeepingStore()
    first = LocalRouter(store)
    therapist = Participant(first, _seat(THERAPIST, "therapist"), first.new_conn_id())
    await therapist.join()
    await therapist.router.inbound(therapist.seat, therapist.conn, parse_message(
        json.dumps({"type": "chat", "text": "notes for the call"}), "therapist"))
    await therapist.expect("chat")
    await first.leave(therapist.seat, therapist.conn)
    assert first.registry.rooms == {}  # the room emptied and went; its chat stayed
    back = Participant(first, _seat(THERAPIST, "therapist"), first.new_conn_id())
    await back.join()
    assert [m["text"] for m in (await back.expect("chat-history"))["messages"]] == [
        "notes for the call"]
    elsewhere = LocalRouter(store)  # a process that never held the room
    again = Participant(elsewhere, _seat(THERAPIST, "therapist"), elsewhere.new_conn_id())
    await again.join()
    assert [m["text"] for m in (await again.expect("chat-history"))["messages"]] == [
        "notes for the call"]
    await elsewhere.close()
    await first.close()


async def test_an_ended_visit_forgets_its_chat():
    router = LocalRouter(MemoryStore())
    therapist = Participant(router, _seat(THERAPIST, "therapist"), router.new_conn_id())
    await therapist.join()
    await router.inbound(therapist.seat, therapist.conn, parse_message(
        json.dumps({"type": "chat", "text": "bye"}), "therapist"))
    await router.leave(therapist.seat, therapist.conn)
    assert therapist.seat.visit_id in router.registry.chats
    await router.end_visit(therapist.seat.visit_id, "ended")
    assert router.registry.chats == {}
    await router.close()
