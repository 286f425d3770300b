"""Hostile WebSocket clients: refused before the upgrade, or answered with an `error` code
and the socket closed where the protocol says so; every other visit keeps working."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

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
