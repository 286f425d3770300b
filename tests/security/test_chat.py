"""Hostile chat (docs/security.md T55, T56): oversized, control characters, a flood, the wrong
sender, another visit's participant, markup; and who reads what: a waiting patient never
sees the call's chat nor another waiting participant's exchange. Each refusal is an `error`
with nothing relayed or kept, and the sockets keep working."""

from __future__ import annotations

import asyncio

import pytest

from server.keys import ROUTER, VISITS
from signaling.chat import CHAT_BURST
from signaling.protocol import MAX_CHAT_CHARS
from tests.live import Socket, in_call


async def _next_chat(socket: Socket, *, skip_own: str | None = None) -> dict:
    """The next `chat` this socket receives (its own echoes skipped when `skip_own` names it)."""
    while True:
        try:
            message = await socket.expect("chat")
        except TimeoutError:
            raise AssertionError(f"waited 5 s for a chat in vain; seen {socket.seen}") from None
        if message["from"]["id"] != skip_own:
            return message


async def _nothing_before(sender: Socket, sender_id: str, receiver: Socket) -> None:
    """What the receiver reads next from the sender is a marker sent after the refused
    message: nothing of that message got through (one room relays in order)."""
    await sender.send({"type": "chat", "text": "marker"})
    message = await _next_chat(receiver)
    while message["from"]["id"] != sender_id:
        message = await _next_chat(receiver)
    assert message["text"] == "marker", message


async def _waiting_room(live, **fields):
    """The therapist present, the patient waiting."""
    visit = await live.visit(**fields)
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    return visit, therapist, patient


@pytest.mark.parametrize("text", [
    "x" * (MAX_CHAT_CHARS + 1), "", "   \n\t ", "bell\x07", "nul\x00", "tab\tinside",
    "carriage\rreturn", "escape\x1b[31m", "c1\x85c1", "bidi \u202egnp.exe", "isolate\u2066x",
])
async def test_oversized_empty_or_control_text_is_refused(live, text):
    visit, therapist, patient = await in_call(live)
    await patient.send({"type": "chat", "text": text})
    assert (await patient.expect("error"))["code"] == "bad_field"
    await _nothing_before(patient, visit.participant("patient").id, therapist)
    assert await patient.alive() and await therapist.alive()


async def test_a_flood_of_chat_is_rate_limited_per_seat_and_the_socket_stays(live):
    visit, therapist, patient = await in_call(live)
    patient_id = visit.participant("patient").id
    for n in range(int(CHAT_BURST) + 3):
        await patient.send({"type": "chat", "text": f"spam {n}"})
    got = [(await _next_chat(therapist))["text"] for _ in range(int(CHAT_BURST))]
    assert got == [f"spam {n}" for n in range(int(CHAT_BURST))]
    codes = [(await patient.expect("error"))["code"] for _ in range(3)]
    assert codes == ["rate_limited"] * 3
    # The therapist's own allowance is hers: the patient's flood does not spend it.
    await therapist.send({"type": "chat", "text": "calm down"})
    assert (await _next_chat(patient, skip_own=patient_id))["text"] == "calm down"
    await asyncio.sleep(1.1)  # a token comes back every second
    await _nothing_before(patient, patient_id, therapist)
    assert await patient.alive()


async def test_html_and_script_are_relayed_as_the_text_they_are(live):
    visit, therapist, patient = await in_call(live)
    text = '<img src=x onerror="alert(1)"> <script>alert(2)</script> https://evil.example/'
    await therapist.send({"type": "chat", "text": text})
    message = await _next_chat(patient)
    assert message["text"] == text
    assert message["from"] == {"id": visit.participant("therapist").id, "role": "therapist",
                               "name": "Sam Lee"}
    assert isinstance(message["at"], int) and message["id"].startswith("m_")


async def test_an_admitted_patient_cannot_address_someone(live):
    visit, therapist, patient = await in_call(live)
    await patient.send({"type": "chat", "text": "psst", "to": visit.participant("therapist").id})
    assert (await patient.expect("error"))["code"] == "forbidden"
    await _nothing_before(patient, visit.participant("patient").id, therapist)


async def test_the_therapist_cannot_write_to_someone_of_another_visit(live):
    _, therapist, patient = await _waiting_room(live)
    other, other_therapist, other_patient = await _waiting_room(live)
    await therapist.send({"type": "chat", "text": "hello",
                          "to": other.participant("patient").id})
    assert (await therapist.expect("error"))["code"] == "not_waiting"
    await other_therapist.send({"type": "chat", "text": "marker",
                                "to": other.participant("patient").id})
    assert (await _next_chat(other_patient))["text"] == "marker"
    assert await other_patient.alive() and await patient.alive()


async def test_a_chat_to_a_participant_in_the_call_by_id_is_refused(live):
    visit, therapist, _ = await in_call(live)
    await therapist.send({"type": "chat", "text": "x", "to": visit.participant("patient").id})
    assert (await therapist.expect("error"))["code"] == "not_waiting"


async def test_waiting_participants_read_only_their_own_exchange_with_the_therapist(live):
    visit = await live.visit(capacity=3)
    visit = await live.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test")
    patient_id, guest_id = visit.participant("patient").id, visit.participant("guest").id
    therapist_id = visit.participant("therapist").id
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    guest = await live.socket(await live.link(visit, "guest"))
    await guest.expect("waiting")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    # The guest, waiting, writes to the therapist; the patient, waiting too, never sees it.
    await guest.send({"type": "chat", "text": "guest to therapist"})
    assert (await _next_chat(therapist, skip_own=therapist_id))["text"] == "guest to therapist"
    # A waiting patient may not write to another waiting participant.
    await patient.send({"type": "chat", "text": "hi guest", "to": guest_id})
    assert (await patient.expect("error"))["code"] == "forbidden"
    # The guest is let in; the call's chat does not reach the patient in the waiting room.
    await therapist.send({"type": "admit", "participant": guest_id})
    await guest.expect("admitted")
    await therapist.send({"type": "chat", "text": "in the call"})
    assert (await _next_chat(guest, skip_own=guest_id))["text"] == "in the call"
    await therapist.send({"type": "chat", "text": "five minutes late", "to": patient_id})
    # The patient's first chat is her own exchange: nothing of the guest's or of the call.
    first = await _next_chat(patient)
    assert first["text"] == "five minutes late" and first["to"] == patient_id
    assert [m["text"] for m in patient.seen if m["type"] == "chat"] == ["five minutes late"]
    # Her answers go to the therapist only (with or without naming her), never to the call.
    await patient.send({"type": "chat", "text": "fine"})
    answer = await _next_chat(therapist, skip_own=therapist_id)
    assert (answer["text"], answer["to"]) == ("fine", patient_id)
    await patient.send({"type": "chat", "text": "see you", "to": therapist_id})
    assert (await _next_chat(therapist, skip_own=therapist_id))["text"] == "see you"
    await therapist.send({"type": "chat", "text": "marker"})
    assert (await _next_chat(guest, skip_own=guest_id))["text"] == "marker"
    assert {"fine", "see you"}.isdisjoint(m.get("text") for m in guest.seen)


async def test_a_reload_brings_back_what_she_may_read_and_no_more(live):
    visit = await live.visit(capacity=3)
    visit = await live.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test")
    patient_id, guest_id = visit.participant("patient").id, visit.participant("guest").id
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    guest = await live.socket(await live.link(visit, "guest"))
    await guest.expect("waiting")
    await therapist.send({"type": "admit", "participant": guest_id})
    await guest.expect("admitted")
    await therapist.send({"type": "chat", "text": "call talk"})
    patient_link = await live.link(visit, "patient")
    patient = await live.socket(patient_link)
    await patient.expect("waiting")  # nothing of the call's chat: no history at all
    assert "chat-history" not in [m["type"] for m in patient.seen]
    await therapist.send({"type": "chat", "text": "for you", "to": patient_id})
    await _next_chat(patient)
    await patient.close()
    again = await live.socket(patient_link, session=patient.session)  # the same browser
    assert [m["text"] for m in (await again.expect("chat-history"))["messages"]] == ["for you"]
    # Admitted, she reads the call's chat too, and her own exchange stays hers.
    await therapist.send({"type": "admit", "participant": patient_id})
    await again.expect("admitted")
    history = await again.expect("chat-history")
    assert [m["text"] for m in history["messages"]] == ["call talk", "for you"]


async def test_a_second_device_knocking_on_her_seat_reads_and_writes_nothing(live):
    visit, therapist, patient = await in_call(live)
    await therapist.send({"type": "chat", "text": "private"})
    await _next_chat(patient)
    leaked = await live.socket(await live.link(visit, "patient"))  # another browser
    await leaked.expect("waiting")
    await leaked.send({"type": "chat", "text": "who is this"})
    assert (await leaked.expect("error"))["code"] == "not_in_room"
    assert not any(m["type"] in ("chat", "chat-history") for m in leaked.seen)
    await _nothing_before(therapist, visit.participant("therapist").id, patient)


async def test_moved_back_to_the_waiting_room_she_no_longer_reads_the_call(live):
    visit, therapist, patient = await in_call(live)
    patient_id = visit.participant("patient").id
    await therapist.send({"type": "chat", "text": "said in the call"})
    await _next_chat(patient)
    await therapist.send({"type": "remove", "participant": patient_id})
    await patient.expect("removed")
    assert (await patient.expect("chat-history"))["messages"] == []  # the call's is gone
    await therapist.send({"type": "chat", "text": "still in the call"})
    await therapist.send({"type": "chat", "text": "just you", "to": patient_id})
    assert (await _next_chat(patient))["text"] == "just you"
    assert "still in the call" not in [m.get("text") for m in patient.seen]


async def _lobby_of(therapist: Socket, count: int) -> list[dict]:
    """The therapist's next lobby that lists `count` people (earlier ones are stale)."""
    while len(waiting := (await therapist.expect("lobby"))["waiting"]) != count:
        pass
    return waiting


async def _a_private_exchange(live):
    """The therapist present, the patient waiting, a word each way between them."""
    visit, therapist, patient = await _waiting_room(live)
    patient_id = visit.participant("patient").id
    therapist_id = visit.participant("therapist").id
    await therapist.send({"type": "chat", "text": "your scan looks fine", "to": patient_id})
    await _next_chat(patient)
    await patient.send({"type": "chat", "text": "my knee still hurts"})
    await _next_chat(therapist, skip_own=therapist_id)
    return visit, therapist, patient


async def test_her_link_on_another_browser_after_her_page_dropped_reads_and_writes_nothing(live):
    visit, therapist, patient = await _a_private_exchange(live)
    patient_id = visit.participant("patient").id
    therapist_id = visit.participant("therapist").id
    await patient.close()  # her page dropped first: nothing of hers is live
    await _lobby_of(therapist, 0)
    leaked = await live.socket(await live.link(visit, "patient"))  # another browser
    assert (await leaked.expect("welcome"))["status"] == "waiting"
    await leaked.expect("waiting")
    # The therapist is told the knock comes from another browser.
    assert [(w["id"], w["new_device"]) for w in await _lobby_of(therapist, 1)] == [
        (patient_id, True)]
    # Her next message from the therapist is not delivered there, and it cannot write as her.
    await therapist.send({"type": "chat", "text": "and the results are", "to": patient_id})
    assert (await _next_chat(therapist))["text"] == "and the results are"  # stored, echoed
    await leaked.send({"type": "chat", "text": "what results?"})
    assert (await leaked.expect("error"))["code"] == "forbidden"
    await asyncio.sleep(0.2)
    assert not any(m["type"] in ("chat", "chat-history") for m in leaked.seen), leaked.seen
    assert "what results?" not in [m.get("text") for m in therapist.seen]
    # Her own browser, back, is a knock from a browser other than the last: it waits to be
    # admitted too, reading nothing meanwhile (the therapist decides which one is hers).
    again = await live.socket(await live.link(visit, "patient"), session=patient.session)
    await again.expect("waiting")
    assert "chat-history" not in [m["type"] for m in again.seen]
    # Admitted, the browser the therapist let in reads her exchange.
    await therapist.send({"type": "admit", "participant": patient_id})
    await again.expect("admitted")
    history = await again.expect("chat-history")
    assert [m["text"] for m in history["messages"]] == [
        "your scan looks fine", "my knee still hurts", "and the results are"]
    assert therapist_id in {m["from"]["id"] for m in history["messages"]}


async def test_a_room_that_emptied_gives_her_exchange_back_to_her_browser_only(live):
    visit, therapist, patient = await _a_private_exchange(live)
    await patient.close()
    await therapist.close()
    await _room_gone(live, visit)  # the room knows no browser of hers any more
    leaked = await live.socket(await live.link(visit, "patient"))  # another browser, first
    await leaked.expect("waiting")
    assert await leaked.alive()
    assert not any(m["type"] in ("chat", "chat-history") for m in leaked.seen), leaked.seen
    await leaked.close()
    await _room_gone(live, visit)
    again = await live.socket(await live.link(visit, "patient"), session=patient.session)
    history = await again.expect("chat-history")  # the exchange was held on this browser
    assert [m["text"] for m in history["messages"]] == [
        "your scan looks fine", "my knee still hurts"]


async def _room_gone(live, visit) -> None:
    """Wait (bounded) until the visit's room emptied and went (its chat stays)."""
    for _ in range(250):
        if live.app[ROUTER].registry.room(visit.id) is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the room was never dropped after every socket closed")
