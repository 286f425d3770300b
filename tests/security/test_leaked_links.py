"""A leaked link does not walk past the waiting room: a second device waits and is marked
new, the therapist can take anyone out of the call, and any link can be re-issued or
revoked, guests' and ended visits' included."""

from __future__ import annotations

import asyncio
import json

import pytest

from server.keys import DB, ROUTER, VISITS
from tests.helpers import link_of, make_visit, post_form
from tests.live import in_call

pytestmark = pytest.mark.both_engines


async def _lobby_of(therapist, count: int) -> list[dict]:
    """The therapist's next lobby that lists `count` people (earlier ones are stale)."""
    while len(waiting := (await therapist.expect("lobby"))["waiting"]) != count:
        pass
    return waiting


async def _patient_row(live, visit):
    return await live.app[DB].fetchone(
        "SELECT admitted_at, admitted_device, denied_at FROM participants WHERE id = ?",
        (visit.participant("patient").id,))


async def test_a_second_device_on_an_admitted_link_waits_marked_new(live):
    visit, therapist, patient = await in_call(live)
    pid = visit.participant("patient").id
    stranger = await live.socket(await live.link(visit, "patient"))  # another browser
    assert (await stranger.expect("welcome"))["status"] == "waiting"
    await stranger.expect("waiting")
    await patient.expect("opened-elsewhere")
    assert [(w["id"], w["new_device"]) for w in await _lobby_of(therapist, 1)] == [(pid, True)]
    assert await patient.alive()  # the device in the call keeps it until the therapist decides

    await therapist.send({"type": "admit", "participant": pid})
    await stranger.expect("admitted")
    assert (await patient.expect("bye"))["reason"] == "replaced"
    assert await patient.closed_with() == 4001
    assert (await therapist.expect("peer-left"))["reason"] == "replaced"
    assert (await therapist.expect("peer-joined"))["peer"]["id"] == pid
    row = await _patient_row(live, visit)
    assert row["admitted_device"] is not None and row["denied_at"] is None


async def test_denying_the_second_device_leaves_the_first_in_the_call(live):
    visit, therapist, patient = await in_call(live)
    pid = visit.participant("patient").id
    before = await _patient_row(live, visit)
    stranger = await live.socket(await live.link(visit, "patient"))
    await stranger.expect("waiting")
    await _lobby_of(therapist, 1)
    await therapist.send({"type": "deny", "participant": pid})
    assert (await stranger.expect("denied"))["reason"] == "denied"
    assert await stranger.closed_with() == 4003
    assert await _lobby_of(therapist, 0) == []
    assert await patient.alive()
    assert dict(await _patient_row(live, visit)) == dict(before)


async def test_the_same_browser_reconnecting_goes_straight_back_in(live):
    visit, therapist, patient = await in_call(live)
    await patient.close()
    again = await live.socket(await live.link(visit, "patient"), session=patient.session)
    assert (await again.expect("welcome"))["status"] == "admitted"


async def test_the_therapist_moves_a_patient_back_to_the_waiting_room(live):
    visit, therapist, patient = await in_call(live)
    pid = visit.participant("patient").id
    await therapist.send({"type": "remove", "participant": pid})
    await patient.expect("removed")
    await patient.expect("waiting")
    assert (await therapist.expect("peer-left"))["reason"] == "removed"
    assert [w["id"] for w in await _lobby_of(therapist, 1)] == [pid]
    assert (await _patient_row(live, visit))["admitted_at"] is None
    await patient.close()
    again = await live.socket(await live.link(visit, "patient"), session=patient.session)
    assert (await again.expect("welcome"))["status"] == "waiting"


async def test_remove_with_revoke_closes_her_link_for_good(live):
    visit, therapist, patient = await in_call(live)
    pid = visit.participant("patient").id
    link = await live.link(visit, "patient")
    await therapist.send({"type": "remove", "participant": pid, "revoke": True})
    assert (await patient.expect("visit-ended"))["reason"] == "link_revoked"
    assert await patient.closed_with() == 4004
    async with patient.session.get(link, allow_redirects=False) as response:
        assert response.status == 403
    assert await therapist.alive()


async def test_only_the_therapist_may_remove_and_only_someone_in_the_call(live):
    visit, therapist, patient = await in_call(live)
    await patient.send({"type": "remove", "participant": visit.participant("therapist").id})
    assert (await patient.expect("error"))["code"] == "forbidden"
    await therapist.send({"type": "remove", "participant": visit.participant("therapist").id})
    assert (await therapist.expect("error"))["code"] == "not_admitted"
    await therapist.send({"type": "remove", "participant": visit.participant("patient").id,
                          "revoke": "yes"})
    assert (await therapist.expect("error"))["code"] == "bad_field"
    assert await patient.alive()


async def test_a_guest_link_can_be_reissued_and_revoked_by_api_and_admin_page(api):
    client, auth = api
    visit = await make_visit(client)
    body = await (await client.post(f"/api/visits/{visit.id}/participants",
                                    json={"name": "Ana Interpreter"}, headers=auth)).json()
    guest = next(p for p in body["participants"] if p["role"] == "guest")
    response = await client.post(f"/api/visits/{visit.id}/participants/{guest['id']}/reissue",
                                 headers=auth)
    assert response.status == 200
    after = next(p for p in (await response.json())["participants"] if p["id"] == guest["id"])
    assert after["url"] != guest["url"]
    old = "/" + guest["url"].split("/", 3)[3]
    assert (await client.get(old, allow_redirects=False)).status == 403
    page = f"/admin/visits/{visit.id}"
    response = await post_form(client, page, f"{page}/participants/{guest['id']}/revoke")
    assert response.status == 303
    new = "/" + after["url"].split("/", 3)[3]
    assert (await client.get(new, allow_redirects=False)).status == 403
    assert "revoked" in await (await client.get(page)).text()
    response = await client.post(f"/api/visits/{visit.id}/participants/p_nobody/reissue",
                                 headers=auth)
    assert response.status == 404


async def test_an_ended_visits_link_can_be_revoked_which_closes_the_program(api):
    client, auth = api
    visit = await make_visit(client)
    link = await link_of(client, visit, "patient")
    await client.server.app[VISITS].mark_ended(visit.id, "ended_by_therapist")
    opened = await client.get(link)
    assert opened.status == 200 and "program" in str(opened.url)
    response = await client.post(f"/api/visits/{visit.id}/participants/patient/revoke", headers=auth)
    assert response.status == 200
    assert (await client.get(f"/visits/{visit.id}/program")).status == 403  # the cookie's link
    assert (await client.get(link, allow_redirects=False)).status == 403
    response = await client.post(f"/api/visits/{visit.id}/participants/patient/reissue", headers=auth)
    assert response.status == 200
    fresh = "/" + (await response.json())["patient_url"].split("/", 3)[3]
    assert (await client.get(fresh)).status == 200


async def test_a_claim_is_void_once_the_seat_waits_so_admit_reaches_the_right_device(live):
    visit, therapist, patient = await in_call(live)
    pid = visit.participant("patient").id
    stranger = await live.socket(await live.link(visit, "patient"))
    await stranger.expect("waiting")
    await _lobby_of(therapist, 1)
    await therapist.send({"type": "remove", "participant": pid})
    await patient.expect("waiting")
    assert (await stranger.expect("bye"))["reason"] == "replaced"
    assert await stranger.closed_with() == 4001
    waiting = await _lobby_of(therapist, 1)
    assert [(w["id"], w["new_device"]) for w in waiting] == [(pid, False)]
    await therapist.send({"type": "admit", "participant": pid})
    assert (await patient.expect("admitted"))["peers"][0]["id"] == visit.participant("therapist").id
    await therapist.send({"type": "offer", "to": pid, "sdp": "v=0"})
    assert (await patient.expect("offer"))["from"] == visit.participant("therapist").id


async def _room_emptied(live, visit) -> None:
    """Wait (bounded) until the server has dropped the visit's room: everyone left."""
    for _ in range(250):
        if live.app[ROUTER].registry.room(visit.id) is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the room was never dropped after every socket closed")


async def _emptied_after_a_call(live):
    """A call that ended with everyone gone: the patient's admission is on her browser."""
    visit, therapist, patient = await in_call(live)
    await patient.close()
    await therapist.close()
    await _room_emptied(live, visit)
    return visit, patient.session, therapist.session


async def test_the_admitted_device_keeps_its_seat_when_a_leaked_one_comes_back_first(live):
    visit, her_browser, host_browser = await _emptied_after_a_call(live)
    pid = visit.participant("patient").id
    stranger = await live.socket(await live.link(visit, "patient"))  # the leaked link, first
    assert (await stranger.expect("welcome"))["status"] == "waiting"
    patient = await live.socket(await live.link(visit, "patient"), session=her_browser)
    welcome = await patient.expect("welcome")
    assert welcome["status"] == "admitted"
    assert await stranger.alive()  # the two do not replace each other
    therapist = await live.socket(await live.link(visit, "therapist"), session=host_browser)
    assert (await therapist.expect("welcome"))["peers"][0]["id"] == pid
    assert [(w["id"], w["new_device"]) for w in await _lobby_of(therapist, 1)] == [(pid, True)]


async def test_the_order_they_come_back_in_changes_nothing(live):
    visit, her_browser, host_browser = await _emptied_after_a_call(live)
    pid = visit.participant("patient").id
    patient = await live.socket(await live.link(visit, "patient"), session=her_browser)
    assert (await patient.expect("welcome"))["status"] == "admitted"
    stranger = await live.socket(await live.link(visit, "patient"))
    assert (await stranger.expect("welcome"))["status"] == "waiting"
    await patient.expect("opened-elsewhere")
    therapist = await live.socket(await live.link(visit, "therapist"), session=host_browser)
    assert [(w["id"], w["new_device"]) for w in await _lobby_of(therapist, 1)] == [(pid, True)]


async def test_a_device_turned_away_is_refused_when_it_comes_back_and_audited(live):
    visit, therapist, patient = await in_call(live)
    pid = visit.participant("patient").id
    link = await live.link(visit, "patient")
    stranger = await live.socket(link)
    await stranger.expect("waiting")
    await _lobby_of(therapist, 1)
    await therapist.send({"type": "deny", "participant": pid})
    await stranger.expect("denied")
    assert await stranger.closed_with() == 4003
    again = await live.socket(link, session=stranger.session)  # knocks again at once
    assert (await again.expect("denied"))["reason"] == "not_admitted"
    assert await again.closed_with() == 4003
    assert await patient.alive()
    rows = await live.app[DB].fetchall(
        "SELECT actor, detail FROM events WHERE visit_id = ? AND action = ?",
        (visit.id, "participant.device_denied"))
    assert len(rows) == 1
    detail = json.loads(rows[0]["detail"])
    assert detail["participant"] == pid and detail["device"] and detail["actor_device"]
    assert detail["device"] != detail["actor_device"]
    assert rows[0]["actor"] == f"participant:{visit.participant('therapist').id}"
    # Her own browser is untouched: it reconnects straight into the call.
    await patient.close()
    back = await live.socket(link, session=patient.session)
    assert (await back.expect("welcome"))["status"] == "admitted"


async def test_a_reissued_link_forgets_the_devices_turned_away(live):
    visit, therapist, patient = await in_call(live)
    pid = visit.participant("patient").id
    stranger = await live.socket(await live.link(visit, "patient"))
    await stranger.expect("waiting")
    await _lobby_of(therapist, 1)
    await therapist.send({"type": "deny", "participant": pid})
    await stranger.closed_with()
    fresh = await live.app[VISITS].reissue(await live.app[VISITS].get(visit.id), "patient",
                                           actor="test")
    again = await live.socket(await live.link(fresh, "patient"), session=stranger.session)
    assert (await again.expect("welcome"))["status"] == "waiting"


async def test_a_waiting_knock_that_moves_browsers_is_shown_as_new(live):
    visit = await live.visit()
    pid = visit.participant("patient").id
    therapist = await live.socket(await live.link(visit, "therapist"))
    await therapist.expect("welcome")
    link = await live.link(visit, "patient")
    first = await live.socket(link)
    await first.expect("waiting")
    assert [(w["id"], w["new_device"]) for w in await _lobby_of(therapist, 1)] == [(pid, False)]
    second = await live.socket(link)  # the same link on another browser
    await second.expect("waiting")
    bye = await first.expect("bye")
    assert bye == {"type": "bye", "reason": "replaced", "other_device": True}
    lobby = await therapist.expect("lobby")
    while lobby["waiting"] and not lobby["waiting"][0]["new_device"]:
        lobby = await therapist.expect("lobby")
    assert [(w["id"], w["new_device"]) for w in lobby["waiting"]] == [(pid, True)]
