"""The therapist's presence in the waiting room (issue 23, point 3; docs/protocol.md, "The
therapist's presence"; docs/security.md T62): a waiting patient is told whether her
therapist is here or away and her late note, as it changes; whether she is in another
visit's call comes from `GET /visits/{id}/presence`; only the therapist sets the note, from
fixed choices, a few at a time, and it never reaches another visit."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from typing import get_args, get_type_hints

import aiohttp
import pytest

from server.auth.visit_session import COOKIE as VISIT_COOKIE
from server.keys import DB, PRESENCE, ROUTER, VISITS
from server.storage.visits import late_note_of
from signaling.cluster import ClusterRouter
from signaling.live_detail import LiveDetail, waiting_tag
from signaling.protocol import LATE_MINUTES, LateNote, ProtocolError
from signaling.room import NOTE_BURST, WAITS_KEPT_SECONDS
from signaling.seat import RunningLate
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.live import Socket, in_call
from tests.redis_server import redis_server  # noqa: F401 (a fixture)
from tests.test_router_contract import PATIENT, VISIT, Cluster, _people, cluster  # noqa: F401

RAE = "rae@clinic.test"


async def _presence(socket: Socket) -> dict:
    try:
        return await socket.expect("presence")
    except TimeoutError:
        raise AssertionError(f"waited 5 s for presence in vain; seen {socket.seen}") from None


async def _nothing_more(socket: Socket, kind: str) -> None:
    """Nothing of this type arrived before the answer to a ping sent now."""
    assert kind not in [m["type"] for m in await _drain(socket)]


async def _drain(socket: Socket) -> list[dict]:
    """Everything the socket received up to the answer of a ping sent now."""
    start = len(socket.seen)
    assert await socket.alive()
    return socket.seen[start:]


async def test_a_waiting_patient_sees_her_therapist_come_and_go(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    assert await _presence(patient) == {"type": "presence", "therapist": "away", "note": None}
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    assert (await _presence(patient))["therapist"] == "here"
    assert (await _presence(therapist))["therapist"] == "here"  # her note control's state
    await therapist.close()
    assert (await _presence(patient))["therapist"] == "away"


async def test_the_late_note_reaches_the_waiting_and_stays_while_she_is_away(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    assert (await _presence(therapist))["note"] is None
    await therapist.send({"type": "late-note", "minutes": 10})
    note = (await _presence(therapist))["note"]
    assert note["minutes"] == 10 and isinstance(note["at"], int)
    await therapist.close()  # the room empties: the note is kept for her patient
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    told = await _presence(patient)
    while told["therapist"] != "away":  # her socket's close may still be on its way
        told = await _presence(patient)
    assert told["note"]["minutes"] == 10
    back = await live.socket(await live.link(visit, "therapist"), session=therapist.session)
    await back.expect("welcome")
    assert (await _presence(patient))["therapist"] == "here"
    await back.send({"type": "late-note", "minutes": None})
    told = await _presence(patient)
    while told["note"] is not None:
        told = await _presence(patient)


async def test_an_admitted_patient_gets_no_presence_and_one_moved_back_does(live):
    visit, therapist, patient = await in_call(live)
    await therapist.send({"type": "late-note", "minutes": 5})
    await _presence(therapist)
    await _nothing_more(patient, "presence")
    await therapist.send({"type": "remove", "participant": visit.participant("patient").id})
    await patient.expect("waiting")
    told = await _presence(patient)
    assert (told["therapist"], told["note"]["minutes"]) == ("here", 5)


async def test_busy_when_her_therapist_is_in_another_visits_call(live):
    await live.therapist_account(email=RAE)
    first = await live.visit(therapist_name=None, therapist_email=RAE)
    second = await live.visit(therapist_name=None, therapist_email=RAE)
    waiting = await live.socket(await live.link(second, "patient"))
    await waiting.expect("waiting")
    url = f"{live.base}/visits/{second.id}/presence"
    async with waiting.session.get(url) as answer:
        assert answer.status == 200 and await answer.json() == {"busy": False, "note": None}
    therapist = await live.socket(await live.link(first, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(first, "patient"))
    await patient.expect("waiting")
    await therapist.send({"type": "admit", "participant": first.participant("patient").id})
    await patient.expect("admitted")
    live.app[PRESENCE]._answers.clear()  # the 5 s reuse of the last answer, for the test
    async with waiting.session.get(url) as answer:
        assert await answer.json() == {"busy": True, "note": None}
    # Her own visit's patient, admitted, is in no waiting room: she is told nothing.
    async with patient.session.get(f"{live.base}/visits/{first.id}/presence") as answer:
        assert answer.status == 409 and "only in the waiting room" in await answer.text()
    # She leaves that call: free again.
    await therapist.close()
    await _until_presence_answer(live, waiting, second.id, {"busy": False, "note": None})


async def _until_presence_answer(live, socket: Socket, visit_id: str, expected: dict) -> None:
    """Ask (the 5 s reuse cleared each time) until the answer is `expected`, for 5 s."""
    answers = []
    for _ in range(50):
        live.app[PRESENCE]._answers.clear()
        live.app[PRESENCE]._buckets.clear()
        async with socket.session.get(f"{live.base}/visits/{visit_id}/presence") as answer:
            answers.append(await answer.json())
        if answers[-1] == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"waited 5 s for {expected}; answers {answers[-3:]}")


async def _guest_visit(live, email: str):
    """A visit of her staff account with a guest (capacity 3)."""
    visit = await live.visit(therapist_name=None, therapist_email=email, capacity=3)
    return await live.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test")


async def test_busy_is_where_she_is_not_who_else_is_in_a_call(live):
    """Busy follows the therapist's own seat: her patient and guest in a call without her
    is not busy; she in a call while someone knocks there still is."""
    await live.therapist_account(email=RAE)
    first = await _guest_visit(live, RAE)
    second = await live.visit(therapist_name=None, therapist_email=RAE)
    waiting = await live.socket(await live.link(second, "patient"))
    await waiting.expect("waiting")
    therapist = await live.socket(await live.link(first, "therapist"))
    await therapist.expect("welcome")
    sockets = {}
    for role in ("patient", "guest"):
        sockets[role] = await live.socket(await live.link(first, role))
        await sockets[role].expect("waiting")
        await therapist.send({"type": "admit", "participant": first.participant(role).id})
        await sockets[role].expect("admitted")
    await _until_presence_answer(live, waiting, second.id, {"busy": True, "note": None})
    # The guest's second browser knocks: the room now has someone waiting, she is still busy.
    knock = await live.socket(await live.link(first, "guest"))
    await knock.expect("waiting")
    await _until_presence_answer(live, waiting, second.id, {"busy": True, "note": None})
    await knock.close()
    # She leaves; her patient and guest stay in their call: she is not busy.
    await therapist.close()
    await _until_presence_answer(live, waiting, second.id, {"busy": False, "note": None})
    assert await sockets["patient"].alive()


async def _dashboard_form(live, session: aiohttp.ClientSession, visit_id: str) -> str:
    """The CSRF token of the dashboard's running-late form for this visit (it is there)."""
    async with session.get(f"{live.base}/admin") as page:
        html = await page.text()
    assert f'action="/admin/visits/{visit_id}/late-note"' in html
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_from_her_dashboard_she_tells_her_waiting_patient_she_is_late(live):
    """In another visit's call, she sets the note of the next one from her dashboard: the
    waiting patient's page reads it at its next question, the room at its next presence."""
    await live.therapist_account(email=RAE)
    visit = await live.visit(therapist_name=None, therapist_email=RAE)
    waiting = await live.socket(await live.link(visit, "patient"))
    await waiting.expect("waiting")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as rae:
        await live.sign_in(rae, RAE, "therapist-pass-1")
        token = await _dashboard_form(live, rae, visit.id)
        url = f"{live.base}/admin/visits/{visit.id}/late-note"
        async with rae.post(url, data={"csrf_token": token, "minutes": "15"},
                            allow_redirects=False) as done:
            assert done.status == 303
        stored = await late_note_of(live.app[DB], visit.id)
        minutes, at = stored.minutes, stored.at
        assert minutes == 15
        async with waiting.session.get(f"{live.base}/visits/{visit.id}/presence") as answer:
            assert await answer.json() == {"busy": False, "note": {"minutes": 15, "at": at}}
        async with rae.get(f"{live.base}/admin") as page:  # her control shows it
            assert '<option value="15" selected>' in await page.text()
        # A second browser of hers knocks: the room's presence reads the stored note.
        second = await live.socket(await live.link(visit, "patient"))
        assert (await _presence(second))["note"] == {"minutes": 15, "at": at}
        # Wrong choices, a missing token: refused in words, nothing changed.
        for bad in ("7", "abc", "-5", "10.5", "1" * 40, "1" * 5000, "²", "１０", "<b>5</b>"):
            async with rae.post(url, data={"csrf_token": token, "minutes": bad}) as answer:
                assert answer.status == 400 and "Traceback" not in await answer.text(), bad
        async with rae.post(url, data={"minutes": "30"}) as answer:
            assert answer.status == 403
        assert await late_note_of(live.app[DB], visit.id) == RunningLate(15, at)
        async with rae.post(url, data={"csrf_token": token, "minutes": ""},
                            allow_redirects=False) as done:
            assert done.status == 303
        assert await late_note_of(live.app[DB], visit.id) is None


async def test_only_her_own_therapist_sets_a_visits_note_from_the_dashboard(live):
    await live.therapist_account(email=RAE)
    await live.therapist_account(email="kim@clinic.test", name="Kim Ode")
    visit = await live.visit(therapist_name=None, therapist_email=RAE)
    url = f"{live.base}/admin/visits/{visit.id}/late-note"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as kim:
        await live.sign_in(kim, "kim@clinic.test", "therapist-pass-1")
        async with kim.get(f"{live.base}/admin") as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
        async with kim.post(url, data={"csrf_token": token, "minutes": "10"}) as answer:
            assert answer.status == 404  # another therapist's visit: as a missing one
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin:
        await live.sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        async with admin.get(f"{live.base}/admin") as page:
            html = await page.text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        assert "late-note" not in html  # she hosts no call
        async with admin.post(url, data={"csrf_token": token, "minutes": "10"}) as answer:
            assert answer.status in (403, 404)
    assert await late_note_of(live.app[DB], visit.id) is None
    later = await live.visit(now=int(time.time()) + 2 * 86400, therapist_name=None,
                             therapist_email=RAE)  # (it starts then)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as rae:
        await live.sign_in(rae, RAE, "therapist-pass-1")
        async with rae.get(f"{live.base}/admin") as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
        async with rae.post(f"{live.base}/admin/visits/{later.id}/late-note",
                            data={"csrf_token": token, "minutes": "10"}) as answer:
            assert answer.status == 409  # two days ahead: not yet
    assert await late_note_of(live.app[DB], later.id) is None
    await live.app[VISITS].cancel(visit, actor="test")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as rae:
        await live.sign_in(rae, RAE, "therapist-pass-1")
        async with rae.get(f"{live.base}/admin") as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
        async with rae.post(url, data={"csrf_token": token, "minutes": "10"}) as answer:
            assert answer.status == 409
    assert await late_note_of(live.app[DB], visit.id) is None


async def test_a_therapist_booked_by_name_is_never_busy(live):
    first, therapist, _patient = await in_call(live)
    second = await live.visit()  # the same name, no account: nothing ties the two
    waiting = await live.socket(await live.link(second, "patient"))
    await waiting.expect("waiting")
    await _until_presence_answer(live, waiting, second.id, {"busy": False, "note": None})
    assert first.therapist_id is None and await therapist.alive()


async def test_the_busy_question_needs_the_visit_cookie_and_is_rate_limited(live):
    visit = await live.visit()
    waiting = await live.socket(await live.link(visit, "patient"))
    await waiting.expect("waiting")
    url = f"{live.base}/visits/{visit.id}/presence"
    async with aiohttp.ClientSession() as stranger:
        async with stranger.get(url) as answer:
            assert answer.status == 401
    statuses = []
    for _ in range(5):
        async with waiting.session.get(url) as answer:
            statuses.append(answer.status)
            if answer.status == 429:
                assert answer.headers["Retry-After"]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses


async def test_the_busy_question_is_answered_only_in_the_waiting_room(live):
    """A link's holder who never knocks, another visit's cookie, a revoked link: no answer,
    a clear error, and the server goes on answering the patient who waits."""
    visit = await live.visit()
    other = await live.visit()
    url = f"{live.base}/visits/{visit.id}/presence"
    never_knocked = await live.session_for(await live.link(visit, "patient"))
    async with never_knocked.get(url) as answer:
        assert answer.status == 409 and "only in the waiting room" in await answer.text()
    elsewhere = await live.session_for(await live.link(other, "patient"))
    theirs = next(c.value for c in elsewhere.cookie_jar if c.key == VISIT_COOKIE)
    async with aiohttp.ClientSession() as bare:  # the other visit's cookie, sent here
        async with bare.get(url, headers={"Cookie": f"{VISIT_COOKIE}={theirs}"}) as answer:
            assert answer.status in (401, 403) and "Traceback" not in await answer.text()
        async with bare.get(f"{live.base}/visits/not-a-visit/presence",
                            headers={"Cookie": f"{VISIT_COOKIE}={theirs}"}) as answer:
            assert answer.status in (401, 403, 404) and "Traceback" not in await answer.text()
    waiting = await live.socket(await live.link(visit, "patient"))
    await waiting.expect("waiting")
    async with waiting.session.get(url) as answer:
        assert answer.status == 200 and await answer.json() == {"busy": False, "note": None}
    # Her link's second holder, who never knocked, asks while she waits: nothing.
    async with never_knocked.get(url) as answer:
        assert answer.status == 409
    guest_free = await live.visit()
    revoked = await live.socket(await live.link(guest_free, "patient"))
    await revoked.expect("waiting")
    await live.app[VISITS].revoke(guest_free, "patient", actor="test")
    async with revoked.session.get(f"{live.base}/visits/{guest_free.id}/presence") as answer:
        assert answer.status in (401, 403, 410) and "Traceback" not in await answer.text()
    live.app[PRESENCE]._buckets.clear()  # (her questions and her link's second holder's)
    async with waiting.session.get(url) as answer:
        assert answer.status == 200


def test_the_note_choices_msgspec_checks_are_the_lists_choices():
    choices, nothing = get_args(get_type_hints(LateNote)["minutes"])
    assert get_args(choices) == LATE_MINUTES and nothing is type(None)


def test_a_live_detail_that_is_not_one_is_not_read():
    good = LiveDetail((waiting_tag("p_" + "a" * 16, "d" * 32),), 1_765_000_000, True, "n1")
    assert LiveDetail.decode(good.encode()) == good
    assert LiveDetail.decode(LiveDetail().encode()) == LiveDetail()
    fine = '"since":null,"host_in_call":false,"node":"n1"'
    assert LiveDetail.decode('{"waiting":[],' + fine + '}') == LiveDetail(node="n1")
    for bad in (None, "", "waiting", "[]", "{}", '{"waiting":[],"since":null}',
                '{"waiting":"x",' + fine + '}',
                '{"waiting":[],"since":5.0,"host_in_call":false,"node":"n1"}',
                '{"waiting":[],"since":-1,"host_in_call":false,"node":"n1"}',
                '{"waiting":[],"since":true,"host_in_call":false,"node":"n1"}',
                '{"waiting":[],"since":null,"host_in_call":1,"node":"n1"}',
                '{"waiting":[],"since":null,"host_in_call":false}',  # no writer
                '{"waiting":[],"since":null,"host_in_call":false,"node":7}',
                '{"waiting":["<b>"],' + fine + '}',
                '{"waiting":["p_aaaaaaaaaaaaaaaa"],' + fine + '}',  # an id, not a tag
                '{"waiting":[],' + fine + ',"x":"' + "y" * 5000 + '"}'):
        assert LiveDetail.decode(bad) is None, bad


async def test_a_note_outside_the_choices_is_a_bad_field(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    for bad in [{"minutes": m} for m in (7, 0, -5, 60, "10", 10.5, True, [10], "<b>5</b>")] + [
            {}, {"minutes": 5, "text": "<b>late</b>"}]:
        await therapist.send({"type": "late-note", **bad})
        assert (await therapist.expect("error"))["code"] == "bad_field", bad
    assert await therapist.alive()


async def test_only_the_therapist_sets_the_note_and_only_in_her_visit(live):
    visit = await live.visit()
    other = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await _presence(patient)
    await patient.send({"type": "late-note", "minutes": 30})
    assert (await patient.expect("error"))["code"] == "forbidden"
    # Another visit's therapist and her waiting patient: nothing of this visit reaches them.
    elsewhere = await live.socket(await live.link(other, "therapist"))
    await elsewhere.expect("welcome")
    theirs = await live.socket(await live.link(other, "patient"))
    await theirs.expect("waiting")
    await _presence(theirs)
    await therapist.send({"type": "late-note", "minutes": 15})
    assert (await _presence(patient))["note"]["minutes"] == 15
    await _nothing_more(theirs, "presence")
    await elsewhere.send({"type": "late-note", "minutes": 20})
    assert (await _presence(theirs))["note"]["minutes"] == 20
    await _nothing_more(patient, "presence")


async def test_a_flood_of_notes_is_rate_limited(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await _presence(patient)
    for minutes in [5, 10, 15, 20, 30, 5, 10]:
        await therapist.send({"type": "late-note", "minutes": minutes})
    assert (await therapist.expect("error"))["code"] == "rate_limited"
    await asyncio.sleep(0.2)
    told = [m for m in await _drain(patient) if m["type"] == "presence"]
    assert len(told) == int(NOTE_BURST)
    assert await therapist.alive() and await patient.alive()



async def test_every_node_tells_presence_and_since_when_someone_waits(cluster: Cluster):
    therapist, patient = await _people(cluster)  # on two processes but for `local`
    await patient.join()
    await patient.expect("waiting")
    assert (await patient.expect("presence"))["therapist"] == "away"
    await therapist.join()
    await therapist.expect("welcome")
    assert (await patient.expect("presence"))["therapist"] == "here"
    await therapist.send({"type": "late-note", "minutes": 20})
    told = await patient.expect("presence")
    while told["note"] is None:
        told = await patient.expect("presence")
    assert told["note"]["minutes"] == 20
    await asyncio.sleep(0.05)  # the owner publishes after the room changed
    for node in (therapist.router, patient.router):
        if isinstance(node, ClusterRouter):  # the state stays the bare word older releases read
            assert await node.bus.live([VISIT]) == {VISIT: "waiting"}
        assert await node.live_states([VISIT]) == {VISIT: "waiting"}
        detail = (await node.live_details([VISIT]))[VISIT]
        assert abs(detail.waiting_since - time.time()) < 5
        assert (len(detail.waiting), detail.host_in_call) == (1, False)
    await therapist.send({"type": "admit", "participant": PATIENT})
    await patient.expect("admitted")
    await asyncio.sleep(0.05)
    for node in (therapist.router, patient.router):
        detail = (await node.live_details([VISIT]))[VISIT]
        assert (detail.waiting, detail.waiting_since, detail.host_in_call) == ((), None, True)
    # Her note was kept with the visit (the store), not in one process; letting her
    # patient in cleared it.
    assert cluster.store.late_notes[VISIT] is None
    await therapist.router.leave(therapist.seat, therapist.conn)
    await asyncio.sleep(0.05)
    for node in (therapist.router, patient.router):  # her patient stays; she is not in a call
        detail = (await node.live_details([VISIT]))[VISIT]
        assert detail.host_in_call is False


async def test_a_busy_store_never_has_the_room_say_a_wrong_note(cluster: Cluster, monkeypatch):
    """While the store cannot be read, a room that has read no note leaves it out (not "no
    note"), and a note just written is told as written."""
    therapist, patient = await _people(cluster)

    async def busy(visit_id: str) -> None:
        raise ProtocolError("busy", "The server is busy for a moment; try again.")
    monkeypatch.setattr(cluster.store, "late_note", busy)
    await patient.join()
    await patient.expect("waiting")
    assert "note" not in await patient.expect("presence")
    await therapist.join()
    await therapist.expect("welcome")
    await therapist.send({"type": "late-note", "minutes": 10})
    told = await patient.expect("presence")
    while "note" not in told:  # (the therapist's arrival, note still unknown)
        told = await patient.expect("presence")
    assert told["note"]["minutes"] == 10
    assert cluster.store.late_notes[VISIT].minutes == 10


async def test_a_detail_its_rooms_owner_did_not_write_is_not_read(cluster: Cluster):
    """A detail its room's owner did not write (left behind when a process of an older
    release, which writes the bare state only, took the room over) says nothing, and
    neither does one whose room has no owner (its process died)."""
    therapist, patient = await _people(cluster)
    if not isinstance(therapist.router, ClusterRouter):
        pytest.skip("one process reads its rooms where they are: no detail on a bus")
    await therapist.join()
    await therapist.expect("welcome")
    await patient.join()
    await patient.expect("waiting")
    await therapist.send({"type": "admit", "participant": PATIENT})
    await patient.expect("admitted")
    await asyncio.sleep(0.05)
    node = therapist.router
    written = (await node.live_details([VISIT]))[VISIT]
    assert written.host_in_call and written.node == await node.bus.owner(VISIT)
    await node.bus.set_live(VISIT, "in_call", replace(written, node="gone").encode())
    await node.bus.flush()
    assert await node.live_details([VISIT]) == {}
    assert await node.live_states([VISIT]) == {VISIT: "in_call"}  # the bare state stays
    await node.bus.set_live(VISIT, "in_call", written.encode())  # its own again
    await node.bus.flush()
    assert VISIT in await node.live_details([VISIT])
    await node.bus.release(VISIT)  # as when its process died: no owner
    await node.bus.flush()
    assert await node.live_details([VISIT]) == {}


async def test_a_reload_does_not_restart_her_wait(live):
    visit = await live.visit()
    link = await live.link(visit, "patient")
    patient = await live.socket(link)
    await patient.expect("waiting")
    router = live.app[ROUTER]
    first = (await router.live_details([visit.id]))[visit.id].waiting_since
    await asyncio.sleep(1.1)
    await patient.close()  # the room empties: a reload, a phone asleep for a moment
    for _ in range(50):
        if router.registry.room(visit.id) is None:
            break
        await asyncio.sleep(0.05)
    assert router.registry.room(visit.id) is None and visit.id in router.registry.waits
    again = await live.socket(link, session=patient.session)
    await again.expect("waiting")
    assert (await router.live_details([visit.id]))[visit.id].waiting_since == first


async def test_a_wait_kept_for_the_next_room_counts_from_when_she_left(live):
    visit = await live.visit()
    link = await live.link(visit, "patient")
    patient = await live.socket(link)
    await patient.expect("waiting")
    router = live.app[ROUTER]
    await patient.close()
    for _ in range(50):
        if visit.id in router.registry.waits:
            break
        await asyncio.sleep(0.05)
    emptied, waited = router.registry.waits[visit.id]
    began, left = waited[visit.participant("patient").id]
    assert left is not None and began <= left
    # She had left well before the room emptied (someone else stayed a while): a new wait.
    waited[visit.participant("patient").id] = (began - 3600, left - WAITS_KEPT_SECONDS - 1)
    again = await live.socket(link, session=patient.session)
    await again.expect("waiting")
    since = (await router.live_details([visit.id]))[visit.id].waiting_since
    assert abs(since - time.time()) < 5


async def test_a_knock_long_after_she_left_is_a_new_wait(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))  # keeps the room
    await therapist.expect("welcome")
    link = await live.link(visit, "patient")
    patient = await live.socket(link)
    await patient.expect("waiting")
    router = live.app[ROUTER]
    first = (await router.live_details([visit.id]))[visit.id].waiting_since
    await patient.close()
    member = router.registry.room(visit.id).members[visit.participant("patient").id]
    for _ in range(50):
        if member.left_at is not None:
            break
        await asyncio.sleep(0.05)
    member.left_at -= WAITS_KEPT_SECONDS + 1  # she closed the page long ago
    member.waiting_from -= 3600
    again = await live.socket(link, session=patient.session)
    await again.expect("waiting")
    since = (await router.live_details([visit.id]))[visit.id].waiting_since
    assert since >= first and abs(since - time.time()) < 5


async def test_letting_someone_in_clears_her_note(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    await therapist.send({"type": "late-note", "minutes": 10})
    while (await _presence(therapist))["note"] is None:
        pass
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
    await patient.expect("admitted")
    while (await _presence(therapist))["note"] is not None:
        pass
    assert await late_note_of(live.app[DB], visit.id) is None


async def test_her_note_is_kept_with_the_visit(live):
    visit = await live.visit()
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    assert (await _presence(therapist))["note"] is None  # (as she joined)
    await therapist.send({"type": "late-note", "minutes": 15})
    note = (await _presence(therapist))["note"]
    assert await late_note_of(live.app[DB], visit.id) == RunningLate(15, note["at"])
    await therapist.send({"type": "late-note", "minutes": None})
    assert (await _presence(therapist))["note"] is None
    assert await late_note_of(live.app[DB], visit.id) is None
    other = await live.visit()
    assert await late_note_of(live.app[DB], other.id) is None


async def test_a_guest_may_not_set_the_note(live):
    visit = await live.visit(capacity=3)
    visit = await live.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test")
    guest = await live.socket(await live.link(visit, "guest"))
    await guest.expect("waiting")
    await _presence(guest)
    await guest.send({"type": "late-note", "minutes": 30})
    assert (await guest.expect("error"))["code"] == "forbidden"
    assert await late_note_of(live.app[DB], visit.id) is None
    assert await guest.alive()


async def test_the_dashboard_shows_since_when_her_patient_waits(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as staff:
        await live.sign_in(staff, ADMIN_EMAIL, ADMIN_PASSWORD)
        async with staff.get(f"{live.base}/admin/live.json") as answer:
            row = next(v for v in (await answer.json())["visits"] if v["id"] == visit.id)
        assert row["live"] == "waiting" and abs(row["waiting_since"] - time.time()) < 5
        async with staff.get(f"{live.base}/admin") as page:
            assert f'data-waiting-for data-visit="{visit.id}"' in await page.text()
        await patient.close()
        for _ in range(50):
            async with staff.get(f"{live.base}/admin/live.json") as answer:
                row = next(v for v in (await answer.json())["visits"] if v["id"] == visit.id)
            if row["live"] != "waiting":
                break
            await asyncio.sleep(0.05)
        assert "waiting_since" not in row
