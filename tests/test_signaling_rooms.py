"""The visit WebSocket: waiting room, admission, replacement, ending, relay and refusals."""

from __future__ import annotations

import time

import aiohttp

from server.keys import DB, VISITS
from server.visits.visit_input import MIN_CAPACITY
from tests.live import in_call


async def test_patient_waits_and_the_therapist_sees_who_knocks(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit, "patient"))
    welcome = await patient.expect("welcome")
    assert welcome["status"] == "waiting" and welcome["peers"] == []
    assert welcome["you"]["role"] == "patient"
    await patient.expect("waiting")
    therapist = await live.socket(await live.link(visit, "therapist"))
    welcome = await therapist.expect("welcome")
    assert welcome["status"] == "admitted" and welcome["visit"]["state"] == "open"
    lobby = await therapist.expect("lobby")
    assert lobby["waiting"] == [{"id": visit.participant("patient").id, "role": "patient",
                                 "name": "Maya Lopez", "since": lobby["waiting"][0]["since"],
                                 "new_device": False}]


async def test_admit_lets_the_two_meet(live):
    visit, therapist, patient = await in_call(live)
    admitted = patient.seen[-1]
    assert admitted["type"] == "admitted"
    assert admitted["peers"] == [{"id": visit.participant("therapist").id, "role": "therapist",
                                  "name": "Sam Lee", "polite": True}]
    joined = next(m for m in therapist.seen if m["type"] == "peer-joined")
    assert joined["peer"]["id"] == visit.participant("patient").id
    assert joined["peer"]["polite"] is False
    row = await live.app[DB].fetchone("SELECT admitted_at FROM participants WHERE id = ?",
                                      (visit.participant("patient").id,))
    assert row[0] is not None


async def test_deny_closes_the_patients_socket_and_she_stays_turned_away(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient_link = await live.link(visit, "patient")
    patient = await live.socket(patient_link)
    await patient.expect("waiting")
    await therapist.send({"type": "deny", "participant": visit.participant("patient").id})
    denied = await patient.expect("denied")
    assert denied["reason"] == "denied"
    assert await patient.closed_with() == 4003
    again = await live.socket(patient_link)
    await again.expect("denied")
    assert await again.closed_with() == 4003


async def test_relay_reaches_only_the_named_peer_with_the_senders_id(live):
    visit, therapist, patient = await in_call(live)
    await patient.send({"type": "offer", "to": visit.participant("therapist").id, "sdp": "v=0 test"})
    offer = await therapist.expect("offer")
    assert offer == {"type": "offer", "to": visit.participant("therapist").id,
                     "from": visit.participant("patient").id, "sdp": "v=0 test"}
    candidate = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host",
                 "sdpMid": "0", "sdpMLineIndex": 0}
    await therapist.send({"type": "candidate", "to": visit.participant("patient").id,
                          "candidate": candidate})
    assert (await patient.expect("candidate"))["candidate"] == candidate


async def test_capacity_keeps_a_third_participant_out(live):
    visit = await live.visit()
    visit = await live.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test")
    assert visit.capacity == MIN_CAPACITY
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
    await patient.expect("admitted")
    guest = await live.socket(await live.link(visit, "guest"))
    await guest.expect("waiting")
    await therapist.send({"type": "admit", "participant": visit.participant("guest").id})
    error = await therapist.expect("error")
    assert error["code"] == "room_full"
    assert await guest.alive()


async def test_capacity_three_admits_a_guest_into_a_mesh(live):
    visit = await live.visit(capacity=3)
    visit = await live.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test")
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    sockets = {}
    for role in ("patient", "guest"):
        sockets[role] = await live.socket(await live.link(visit, role))
        await sockets[role].expect("waiting")
        await therapist.send({"type": "admit", "participant": visit.participant(role).id})
        admitted = await sockets[role].expect("admitted")
    assert (await sockets["patient"].expect("peer-joined"))["peer"]["role"] == "guest"
    assert {p["role"] for p in admitted["peers"]} == {"therapist", "patient"}


async def test_a_newer_socket_replaces_the_older_one(live):
    visit, therapist, patient = await in_call(live)
    second = await live.socket(await live.link(visit, "patient"), session=patient.session)  # a tab
    welcome = await second.expect("welcome")
    assert welcome["status"] == "admitted"
    bye = await patient.expect("bye")
    assert bye["reason"] == "replaced"
    assert await patient.closed_with() == 4001
    rejoined = await therapist.expect("peer-joined")
    assert rejoined["peer"]["id"] == visit.participant("patient").id
    assert await second.alive()


async def test_an_admitted_patient_who_reloads_does_not_wait_again(live):
    visit, therapist, patient = await in_call(live)
    await patient.close()
    left = await therapist.expect("peer-left")
    assert left["peer"] == visit.participant("patient").id
    again = await live.socket(await live.link(visit, "patient"), session=patient.session)
    welcome = await again.expect("welcome")
    assert welcome["status"] == "admitted"
    assert [p["id"] for p in welcome["peers"]] == [visit.participant("therapist").id]
    assert not any(m["type"] == "waiting" for m in again.seen)


async def test_a_therapist_who_drops_comes_back_to_the_same_queue_and_power(live):
    visit = await live.visit()
    therapist_link = await live.link(visit, "therapist")
    therapist = await live.socket(therapist_link)
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await therapist.expect("lobby")
    await therapist.close()
    back = await live.socket(therapist_link, session=therapist.session)  # her own browser
    await back.expect("welcome")
    lobby = await back.expect("lobby")
    assert [w["id"] for w in lobby["waiting"]] == [visit.participant("patient").id]
    await back.send({"type": "admit", "participant": visit.participant("patient").id})
    await patient.expect("admitted")


async def test_admission_survives_a_server_restart(live_config):
    from tests.live import start_live_server

    live = await start_live_server(live_config)
    device = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        visit = await live.visit()
        therapist = await live.socket(await live.link(visit, "therapist"))
        await therapist.expect("welcome")
        patient = await live.socket(await live.link(visit, "patient"), session=device)
        await patient.expect("waiting")
        await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
        await patient.expect("admitted")
        await live.close()
        live = await start_live_server(live_config)
        again = await live.socket(await live.link(visit, "patient"), session=device)
        assert (await again.expect("welcome"))["status"] == "admitted"
        elsewhere = await live.socket(await live.link(visit, "patient"))  # another device
        assert (await elsewhere.expect("welcome"))["status"] == "waiting"
    finally:
        await live.close()
        await device.close()


async def test_cancelling_the_visit_ends_it_for_everyone(live):
    visit, therapist, patient = await in_call(live)
    await live.app[VISITS].cancel(await live.app[VISITS].get(visit.id), actor="test")
    for sock in (therapist, patient):
        assert (await sock.expect("visit-ended"))["reason"] == "cancelled"
        assert await sock.closed_with() == 4000


async def test_reissuing_a_link_ejects_its_old_holder(live):
    visit, therapist, patient = await in_call(live)
    await live.app[VISITS].reissue(await live.app[VISITS].get(visit.id), "patient", actor="test")
    assert (await patient.expect("visit-ended"))["reason"] == "link_revoked"
    assert await patient.closed_with() == 4004
    assert (await therapist.expect("peer-left"))["reason"] == "link_revoked"
    assert await therapist.alive()


async def test_end_of_the_grace_window_ends_the_call(live):
    # A 1-minute visit whose grace window (30 min) closes 2 seconds from now.
    started = int(time.time()) - 31 * 60 + 2
    visit = await live.visit(now=started, minutes=1)
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    ended = await therapist.expect("visit-ended", timeout=6)
    assert ended["reason"] == "window_closed"
    assert await therapist.closed_with() == 4000
    status = await live.app[DB].fetchone("SELECT status FROM visits WHERE id = ?", (visit.id,))
    assert status[0] == "ended"


async def test_the_therapist_ends_the_visit_for_both(live):
    visit, therapist, patient = await in_call(live)
    await patient.send({"type": "end-visit"})
    assert (await patient.expect("error"))["code"] == "forbidden"
    await therapist.send({"type": "end-visit"})
    for sock in (therapist, patient):
        assert (await sock.expect("visit-ended"))["reason"] == "ended_by_therapist"
    assert (await live.app[VISITS].get(visit.id)).status == "ended"
    late = await live.socket(await live.link(visit, "patient"))
    await late.expect("visit-ended")
    assert await late.closed_with() == 4000


async def test_welcome_carries_stun_and_admission_brings_turn_credentials(live_config):
    import base64
    import hashlib
    import hmac

    from tests.live import start_live_server

    config = live_config.with_overrides(stun="stun:stun.clinic.test:3478",
                                        turn_url="turn:turn.clinic.test:3478?transport=udp",
                                        turn_secret="s3cret")
    live = await start_live_server(config)
    try:
        visit, therapist, patient = await in_call(live)
    finally:
        await live.close()
    participant = visit.participant("patient")
    welcome = next(m for m in patient.seen if m["type"] == "welcome")
    assert welcome["ice_servers"] == [{"urls": ["stun:stun.clinic.test:3478"]}]
    assert welcome["turn"] is True and "ice_expires_at" not in welcome
    admitted = patient.seen[-1]
    servers = admitted["ice_servers"]
    assert servers[0] == {"urls": ["stun:stun.clinic.test:3478"]}
    turn = servers[1]
    assert turn["urls"] == ["turn:turn.clinic.test:3478?transport=udp"]
    assert turn["username"] == f"{admitted['ice_expires_at']}:{participant.id}.{participant.jti}"
    expected = base64.b64encode(hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest())
    assert turn["credential"] == expected.decode()


async def test_without_ice_configuration_welcome_offers_host_candidates_only(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit))
    welcome = await patient.expect("welcome")
    assert welcome["ice_servers"] == [] and welcome["turn"] is False


async def test_a_demo_shown_by_the_therapist_reaches_the_patient_and_is_audited(live):
    visit, therapist, patient = await in_call(live)
    await therapist.send({"type": "demo-show", "exercise": "glute-bridge"})
    shown = await patient.expect("demo-show")
    assert shown == {"type": "demo-show", "from": visit.participant("therapist").id, "exercise": "glute-bridge"}
    await therapist.send({"type": "demo-control", "action": "play", "frame": 1, "playing": True})
    control = await patient.expect("demo-control")
    assert control["action"] == "play" and control["frame"] == 1 and control["playing"] is True
    row = await live.app[DB].fetchone(
        "SELECT detail FROM events WHERE visit_id = ? AND action = 'demo.shown'", (visit.id,))
    assert row is not None and "glute-bridge" in row[0]


async def test_an_unknown_demo_or_a_patients_demo_is_refused(live):
    visit, therapist, patient = await in_call(live)
    await therapist.send({"type": "demo-show", "exercise": "moonwalk"})
    assert (await therapist.expect("error"))["code"] == "unknown_exercise"
    await patient.send({"type": "demo-show", "exercise": "glute-bridge"})
    assert (await patient.expect("error"))["code"] == "forbidden"
    await therapist.send({"type": "demo-control", "action": "dance"})
    assert (await therapist.expect("error"))["code"] == "bad_field"
    assert await patient.alive()
    assert not any(m["type"] == "demo-show" for m in patient.seen)
