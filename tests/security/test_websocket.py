"""Hostile WebSocket clients: refused before the upgrade, or answered with an `error` code
and the socket closed where the protocol says so; every other visit keeps working."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time

import aiohttp
import pytest
import yarl

from signaling.masking import MaskedFramesOnly
from tests.live import in_call


async def test_a_patient_cannot_admit_or_deny(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    for kind in ("admit", "deny"):
        await patient.send({"type": kind, "participant": visit.participant("patient").id})
        error = await patient.expect("error")
        assert error["code"] == "forbidden"
    assert await patient.alive()


async def test_a_waiting_patient_cannot_send_an_offer(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await patient.send({"type": "offer", "to": visit.participant("therapist").id, "sdp": "v=0"})
    assert (await patient.expect("error"))["code"] == "not_admitted"
    assert await therapist.alive()
    assert not any(m["type"] == "offer" for m in therapist.seen)


async def test_relay_to_someone_in_another_room_is_refused(live):
    visit, therapist, patient = await in_call(live)
    other, other_therapist, other_patient = await in_call(live)
    await patient.send({"type": "offer", "to": other.participant("therapist").id, "sdp": "v=0"})
    assert (await patient.expect("error"))["code"] == "unknown_peer"
    assert await other_therapist.alive()
    assert not any(m["type"] == "offer" for m in other_therapist.seen)


@pytest.mark.parametrize("raw, code", [
    ("{not json", "bad_json"),
    ("[1, 2, 3]", "bad_message"),
    ('{"type": 5}', "bad_message"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "offer", "to": "p_AAAAAAAAAAAAAAAA"}', "bad_field"),
    ('{"type": "offer", "to": "nobody", "sdp": "v=0"}', "bad_field"),
    ('{"type": "ping", "extra": 1}', "bad_field"),
    ('{"type": "ping", "t": NaN}', "bad_json"),
    ('{"type": "offer", "to": "p_AAAAAAAAAAAAAAAA", "sdp": "v=0", "from": "p_BBBBBBBBBBBBBBBB"}',
     "bad_field"),
    ('{"type": "candidate", "to": "p_AAAAAAAAAAAAAAAA", "candidate": {"candidate": 5}}', "bad_field"),
])
async def test_malformed_messages_get_an_error_and_the_socket_stays_open(live, raw, code):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit))
    await patient.expect("waiting")
    await patient.send(raw)
    assert (await patient.expect("error"))["code"] == code
    assert await patient.alive()


async def test_an_oversize_message_gets_an_error(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit))
    await patient.expect("waiting")
    await patient.send('{"type": "ping", "t": 1, "pad": "' + "x" * 70_000 + '"}')
    assert (await patient.expect("error"))["code"] == "too_large"
    assert await patient.alive()


async def test_a_frame_past_the_hard_limit_closes_the_socket(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit))
    await patient.expect("waiting")
    await patient.send("x" * 300_000)
    assert await patient.closed_with() == 1009


async def test_binary_frames_are_refused(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit))
    await patient.expect("waiting")
    await patient.ws.send_bytes(b"\x00\x01")
    assert (await patient.expect("error"))["code"] == "binary_refused"
    assert await patient.alive()


async def test_a_flooding_socket_is_closed_with_1008(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    for _ in range(400):
        if therapist.ws.closed:
            break
        await therapist.send({"type": "ping"})
    assert await therapist.closed_with() == 1008
    assert any(m.get("code") == "flood" for m in therapist.seen)
    fresh = await live.socket(await live.link(await live.visit(), "therapist"))
    assert await fresh.alive()


async def test_a_socket_without_the_visit_cookie_is_refused(live):
    visit = await live.visit()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{live.base}/visits/{visit.id}/ws", origin=live.base)
    assert refused.value.status == 401


async def test_a_socket_from_another_origin_is_refused(live):
    visit = await live.visit()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await live.socket(await live.link(visit), origin="https://evil.example")
    assert refused.value.status == 403


async def test_a_dead_socket_is_dropped_by_the_heartbeat(live):
    visit, therapist, patient = await in_call(live)
    session = await live.session_for(await live.link(visit, "patient"))
    silent = await session.ws_connect(f"{live.base}/visits/{visit.id}/ws", origin=live.base,
                                      autoping=False)
    started = time.monotonic()
    left = await therapist.expect("peer-left", timeout=10)  # the replaced socket...
    del left
    while True:  # ...then the silent one, once it misses its pongs (heartbeat 2 s here)
        frame = await asyncio.wait_for(silent.receive(), 10)
        if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                          aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
            break
    assert time.monotonic() - started < 3 * 2


@pytest.mark.parametrize("cookie", ["forged", "a.b.c", "x" * 5000], ids=["word", "dots", "oversized"])
async def test_a_socket_with_a_forged_cookie_is_refused(live, cookie):
    visit = await live.visit()
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({"visitroom_visit": cookie})
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{live.base}/visits/{visit.id}/ws", origin=live.base)
    assert refused.value.status == 403
    assert await (await live.socket(await live.link(visit, "therapist"))).alive()


async def test_the_cookie_of_one_visit_does_not_open_another_visits_socket(live):
    first, second = await live.visit(), await live.visit()
    session = await live.session_for(await live.link(first))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(f"{live.base}/visits/{second.id}/ws", origin=live.base)
    assert refused.value.status == 401


@pytest.mark.parametrize("message", [
    {"type": "admit", "participant": "p_AAAAAAAAAAAAAAAA"},
    {"type": "deny", "participant": "p_AAAAAAAAAAAAAAAA"},
    {"type": "end-visit"},
    {"type": "demo-show", "exercise": "pelvic-tilt"},
    {"type": "demo-control", "action": "pause"},
])
async def test_therapist_only_messages_from_an_admitted_patient_are_forbidden(live, message):
    visit, therapist, patient = await in_call(live)
    await patient.send(message)
    assert (await patient.expect("error"))["code"] == "forbidden"
    assert await patient.alive() and await therapist.alive()
    assert not any(m["type"] in ("ended", "demo-show", "demo-control") for m in therapist.seen)


def _frame(text: str, *, masked: bool) -> bytes:
    """One text frame as a client writes it, with or without the mask RFC 6455 requires."""
    payload = text.encode()
    assert len(payload) < 126
    if not masked:
        return bytes([0x81, len(payload)]) + payload
    key = os.urandom(4)
    return (bytes([0x81, 0x80 | len(payload)]) + key
            + bytes(b ^ key[i % 4] for i, b in enumerate(payload)))


async def _server_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(opcode, payload) of the server's next frame (a server's frames are not masked)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length in (126, 127):
        length = int.from_bytes(await reader.readexactly(2 if length == 126 else 8), "big")
    return head[0] & 0x0F, await reader.readexactly(length)


async def _raw_socket(live, *, then: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand over TCP (the patient's), `then` sent with the handshake."""
    visit = await live.visit()
    link = await live.link(visit, "patient")
    session = await live.session_for(link)
    url = f"{live.base}/visits/{visit.id}/ws"
    cookies = "; ".join(f"{k}={m.value}"
                        for k, m in session.cookie_jar.filter_cookies(yarl.URL(url)).items())
    reader, writer = await asyncio.open_connection("127.0.0.1", int(live.base.rsplit(":", 1)[1]))
    writer.write((f"GET /visits/{visit.id}/ws HTTP/1.1\r\nHost: {live.base[7:]}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                  f"Origin: {live.base}\r\nCookie: {cookies}\r\n\r\n").encode() + then)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _until_closed(reader: asyncio.StreamReader) -> tuple[list[dict], int | None]:
    """The text the server sent, and the code of its close frame, until the TCP end."""
    texts, code = [], None
    try:
        while True:
            opcode, payload = await asyncio.wait_for(_server_frame(reader), 5)
            if opcode == 1:
                texts.append(json.loads(payload))
            elif opcode == 8:
                code = int.from_bytes(payload[:2], "big")
    except asyncio.IncompleteReadError:
        return texts, code  # the server closed the TCP connection


async def test_an_unmasked_client_frame_closes_the_connection_with_1002(live):
    reader, writer = await _raw_socket(live)
    try:
        writer.write(_frame('{"type": "ping", "t": 1}', masked=True))
        seen = []
        while not seen or seen[-1].get("type") != "pong":
            opcode, payload = await asyncio.wait_for(_server_frame(reader), 5)
            seen.append(json.loads(payload) if opcode == 1 else {"opcode": opcode})
        writer.write(_frame('{"type": "ping", "t": 2}', masked=False))  # RFC 6455 5.1
        texts, code = await asyncio.wait_for(_until_closed(reader), 10)
        assert code == 1002
        assert not any(m.get("type") == "pong" for m in texts), texts  # never read
    finally:
        writer.close()
    assert await (await live.socket(await live.link(await live.visit()))).alive()


async def test_an_unmasked_frame_sent_with_the_handshake_is_refused_too(live):
    reader, writer = await _raw_socket(live, then=_frame('{"type": "ping", "t": 3}', masked=False))
    try:
        texts, code = await asyncio.wait_for(_until_closed(reader), 10)
    finally:
        writer.close()
    assert code == 1002 and not any(m.get("type") == "pong" for m in texts), texts


def _masked_frame(size: int) -> bytes:
    """A masked binary frame with a payload of `size` bytes (any length form)."""
    if size < 126:
        head = bytes([0x82, 0x80 | size])
    elif size < 65536:
        head = bytes([0x82, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big")
    return head + os.urandom(4) + b"\x80" * size  # a payload byte that looks like a header


class _Queue:
    """Stands for aiohttp's message queue: keeps the error the mask check reports."""

    failed: Exception | None = None

    def set_exception(self, exc: Exception) -> None:
        self.failed = exc


class _Reader:
    """Stands for aiohttp's frame reader: keeps the bytes the mask check passes on."""

    fed = b""

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000, 1 << 20])
def test_the_mask_check_follows_frames_however_the_bytes_arrive(chunk):
    reader, queue = _Reader(), _Queue()
    guard = MaskedFramesOnly(reader, queue)
    stream = b"".join(_masked_frame(n) for n in (0, 5, 125, 126, 300, 65535, 65536, 4))
    for at in range(0, len(stream), chunk):
        assert guard.feed_data(stream[at:at + chunk]) == (False, b"")
    assert reader.fed == stream and queue.failed is None
    assert guard.feed_data(b"\x81\x02hi") == (True, b"")  # unmasked: nothing passes
    assert reader.fed == stream and queue.failed is not None
    assert guard.feed_data(_masked_frame(3)) == (True, b"")  # and nothing after it


def test_an_unmasked_frame_after_masked_ones_in_one_chunk_stops_the_whole_chunk():
    reader, queue = _Reader(), _Queue()
    guard = MaskedFramesOnly(reader, queue)
    assert guard.feed_data(_masked_frame(5) + _masked_frame(300) + b"\x81\x02hi") == (True, b"")
    assert reader.fed == b"" and queue.failed is not None
