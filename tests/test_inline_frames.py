"""Text frames handled as they are parsed (signaling/inline_frames.py): relays and pings go
out without waking the socket's reader task, and nothing else changes: the order of what a
socket sends, the errors it gets, the flood limit."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp._websocket.reader import WebSocketReader

from server.keys import SIGNALING
from signaling.inline_frames import InlineFrames
from signaling.router import LocalRouter
from tests.live import in_call


def _candidate(to: str, n: int) -> dict[str, Any]:
    return {"type": "candidate", "to": to, "candidate": {
        "candidate": f"candidate:{n} 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}


async def test_every_socket_is_read_inline_with_this_aiohttp(live):
    await in_call(live)
    sockets = list(live.app[SIGNALING]._open.values())
    assert len(sockets) == 2
    assert all(state.ws.inline is not None for state in sockets)


async def test_relays_keep_their_order_among_frames_the_reader_task_handles(live):
    visit, therapist, patient = await in_call(live)
    to = visit.participant("therapist").id
    expected, refused = [], 0
    # Written without yielding, the frames reach the server in one read: relays handled at
    # once interleave with chat (the reader task's) and refused relays (answered from it).
    for n in range(40):
        if n % 9 == 3:  # five chats: the most a socket may send at once
            await patient.send({"type": "chat", "text": f"chat {n}"})
            expected.append(f"chat {n}")
        elif n % 11 == 5:
            await patient.send({**_candidate("p_" + "x" * 16, n)})
            refused += 1
        else:
            await patient.send(_candidate(to, n))
            expected.append(f"candidate:{n}")
    received = []
    while len(received) < len(expected):
        message = await therapist.expect_any(("chat", "candidate"))
        received.append(message["text"] if message["type"] == "chat"
                        else message["candidate"]["candidate"].split(" ")[0])
    assert received == expected
    errors = [await patient.expect("error") for _ in range(refused)]
    assert {e["code"] for e in errors} == {"unknown_peer"}
    assert all(e["re"] == "candidate" for e in errors)
    assert await therapist.alive() and await patient.alive()


async def test_a_relay_before_admission_is_still_refused(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await patient.send(_candidate(visit.participant("therapist").id, 1))
    assert (await patient.expect("error"))["code"] == "not_admitted"
    assert not any(m.get("type") == "candidate" for m in therapist.seen)


async def test_a_socket_flooding_its_peer_with_relays_is_closed_with_1008(live):
    visit, therapist, patient = await in_call(live)
    to = visit.participant("therapist").id
    for n in range(400):
        if patient.ws.closed:
            break
        await patient.send(_candidate(to, n))
    assert await patient.closed_with() == 1008
    assert any(m.get("code") == "flood" for m in patient.seen)
    relayed = [m for m in await therapist.drain() if m.get("type") == "candidate"]
    assert 0 < len(relayed) < 400


async def test_without_the_inline_queue_every_frame_goes_through_the_reader_task(live, monkeypatch):
    monkeypatch.setattr("signaling.masking.install_inline_frames", lambda ws, request: None)
    visit, therapist, patient = await in_call(live)
    assert all(state.ws.inline is None for state in live.app[SIGNALING]._open.values())
    await patient.send(_candidate(visit.participant("therapist").id, 7))
    relayed = await therapist.expect("candidate")
    assert relayed["candidate"]["candidate"].startswith("candidate:7 ")
    assert await patient.alive()


def test_an_aiohttp_without_the_queue_s_parts_gets_no_inline_queue():
    from signaling.inline_frames import install

    class Bare:
        """A socket and request that lack the parts `install` replaces."""

        protocol = object()

    assert install(Bare(), Bare()) is None


async def test_a_socket_the_server_is_closing_relays_nothing_more_and_leaves_its_room(live):
    visit, therapist, patient = await in_call(live)
    patient_id = visit.participant("patient").id
    closing = next(state.ws for state in live.app[SIGNALING]._open.values()
                   if state.ws.inline.take.args[0].participant_id == patient_id)
    # As while a close waits for a browser that reads nothing to drain its buffer: the
    # socket counts as closed and its reader has not woken yet.
    closing._closed = True
    for n in range(5):
        await patient.send(_candidate(visit.participant("therapist").id, n))
    seen = await therapist.drain(0.5)
    # The frame that wakes the reader is handled (as it always was); then it sees the socket
    # closed and leaves the room, and nothing more is relayed.
    assert len([m for m in seen if m.get("type") == "candidate"]) <= 1
    assert any(m.get("type") == "peer-left" for m in seen)


async def test_an_unexpected_error_in_the_inline_path_leaves_the_frame_to_the_reader(
        live, monkeypatch, caplog):
    def broken(self, seat, conn, message):
        raise RuntimeError("broken")

    monkeypatch.setattr(LocalRouter, "relay_target", broken)
    visit, therapist, patient = await in_call(live)
    with caplog.at_level(logging.ERROR, logger="signaling.endpoint"):
        await patient.send(_candidate(visit.participant("therapist").id, 3))
        relayed = await therapist.expect("candidate")
    assert relayed["candidate"]["candidate"].startswith("candidate:3 ")
    assert "frame left to the reader" in caplog.text
    assert await patient.alive()


def _client_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + bytes(4) + payload  # masked with a zero key


class _Reading:
    """What aiohttp's queue asks of the connection (flow control)."""

    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


async def test_once_a_frame_is_queued_the_frames_after_it_queue_behind_it():
    queue = InlineFrames(_Reading(), 2 ** 16, loop=asyncio.get_running_loop())
    parser = WebSocketReader(queue, 2 ** 20, compress=False, decode_text=True)
    taken: list[str] = []
    queue.take = lambda text: text.startswith("relay") and not taken.append(text)
    queue.idle = True
    parser.feed_data(_client_frame("relay-1") + _client_frame("chat-2") + _client_frame("relay-3"))
    assert taken == ["relay-1"]
    assert [m.data for m, _ in queue._buffer] == ["chat-2", "relay-3"]
    assert queue.idle is False
