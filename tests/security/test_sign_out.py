"""Signing out closes the host's sockets on that browser (docs/security.md T46).

A visit booked with a staff account seats its therapist as host only while her browser is
signed in as that account; the check runs when a socket opens, so her session ending must
close the sockets it opened: on sign-out (or signing in as someone else) those of that
browser, with the revoked close code the call page knows, audited; her other signed-in
browser keeps its call. Deactivating her account closes all of them.
"""

from __future__ import annotations

import hashlib
import json

import aiohttp
import pytest
from yarl import URL

from server.keys import DB, ROUTER, VISITS
from server.storage import DatabaseBusy
from server.storage.events import EventQuery, find_events
from server.visits import service, sign_out
from signaling.closes import CLOSE_REPLACED, CLOSE_REVOKED
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    add_therapist,
    link_of,
    login,
    make_visit,
    open_as_therapist,
    post_form,
)
from tests.live import read_until_closed

pytestmark = pytest.mark.both_engines

ORIGIN = {"Origin": "http://127.0.0.1:8080"}
RAE = "rae@clinic.test"


async def _rae_and_visits(admin, count: int = 1):
    assert (await add_therapist(admin, "Rae Kim", RAE)).status == 201
    user_id = (await admin.server.app[DB].fetchone(
        "SELECT id FROM users WHERE email = ?", (RAE,)))[0]
    return user_id, [await make_visit(admin, therapist_email=RAE) for _ in range(count)]


async def _host(browser, visit) -> aiohttp.ClientWebSocketResponse:
    """Her socket in the visit, seated as host (signed in on `browser` already)."""
    opened = await browser.get(f"/visits/{visit.id}", allow_redirects=False)
    assert opened.status == 200
    ws = await browser.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    welcome = json.loads((await ws.receive(timeout=5)).data)
    assert welcome["type"] == "welcome" and welcome["you"]["role"] == "therapist"
    while json.loads((await ws.receive(timeout=5)).data)["type"] != "lobby":
        pass  # (`took-over` first when her seat moved here from another browser)
    return ws


async def _signed_in_host(aiohttp_client, server, visit) -> tuple[object, object]:
    """A new browser signed in as Rae, her link opened and her socket seated as host."""
    browser = await aiohttp_client(server)
    opened = await open_as_therapist(browser, visit, RAE)
    assert opened.status == 303
    return browser, await _host(browser, visit)


async def _closed_as_revoked(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Told the visit no longer opens for her, then closed with the revoked code (final:
    the call page does not reconnect)."""
    while (ended := json.loads((await ws.receive(timeout=5)).data))["type"] in ("lobby",
                                                                                "presence"):
        pass  # who waits, and her own presence, sent before she signed out
    assert ended == {"type": "visit-ended", "reason": "link_revoked"}
    closing = await ws.receive(timeout=5)  # (its data: the code in the server's frame)
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, CLOSE_REVOKED)


async def _still_open(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_json({"type": "ping", "t": 7})
    while True:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.TEXT, (message.type, ws.close_code)
        if json.loads(message.data)["type"] == "pong":
            return


def _device(browser) -> str:
    value = browser.session.cookie_jar.filter_cookies(URL(str(browser.make_url("/"))))
    return hashlib.sha256(value["visitroom_device"].value.encode()).hexdigest()[:32]


async def test_signing_out_closes_her_host_socket_and_it_cannot_rejoin(admin, aiohttp_client):
    user_id, (visit,) = await _rae_and_visits(admin)
    rae, ws = await _signed_in_host(aiohttp_client, admin.server, visit)
    patient = await aiohttp_client(admin.server)
    assert (await patient.get(await link_of(patient, visit, "patient"))).status == 200
    patient_ws = await patient.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    assert json.loads((await patient_ws.receive(timeout=5)).data)["type"] == "welcome"

    assert (await post_form(rae, "/admin", "/logout")).status == 303

    await _closed_as_revoked(ws)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rae.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    assert refused.value.status == 401  # sign in again first
    page = await rae.get(f"/visits/{visit.id}", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/login?next=")
    await _still_open(patient_ws)  # the patient's own socket stays
    signed_out, _more = await find_events(admin.server.app[DB],
                                          EventQuery(action="login.signed_out"), 10)
    assert [(e.actor, e.detail) for e in signed_out] == [
        (f"user:{user_id}", {"device": _device(rae), "visits": 1})]


async def test_her_other_signed_in_browser_keeps_its_call_when_one_signs_out(admin,
                                                                             aiohttp_client):
    _user_id, (first_visit, second_visit) = await _rae_and_visits(admin, 2)
    laptop, laptop_ws = await _signed_in_host(aiohttp_client, admin.server, first_visit)
    tablet, tablet_ws = await _signed_in_host(aiohttp_client, admin.server, second_visit)

    assert (await post_form(laptop, "/admin", "/logout")).status == 303

    await _closed_as_revoked(laptop_ws)
    await _still_open(tablet_ws)
    assert (await tablet.get(f"/visits/{second_visit.id}", allow_redirects=False)).status == 200


async def test_signing_out_where_her_seat_moved_from_leaves_the_browser_that_holds_it(
        admin, aiohttp_client):
    _user_id, (visit,) = await _rae_and_visits(admin)
    laptop, laptop_ws = await _signed_in_host(aiohttp_client, admin.server, visit)
    tablet, tablet_ws = await _signed_in_host(aiohttp_client, admin.server, visit)
    # told her seat moved to the tablet, then closed
    assert await read_until_closed(laptop_ws) == CLOSE_REPLACED

    assert (await post_form(laptop, "/admin", "/logout")).status == 303

    await _still_open(tablet_ws)
    assert (await tablet.get(f"/visits/{visit.id}", allow_redirects=False)).status == 200


async def test_signing_in_as_another_account_closes_her_host_socket_on_that_browser(
        admin, aiohttp_client):
    _user_id, (visit,) = await _rae_and_visits(admin)
    rae, ws = await _signed_in_host(aiohttp_client, admin.server, visit)

    await login(rae, ADMIN_EMAIL, ADMIN_PASSWORD)

    await _closed_as_revoked(ws)


async def test_deactivating_her_account_closes_her_host_sockets_on_every_browser(
        admin, aiohttp_client):
    user_id, (first_visit, second_visit) = await _rae_and_visits(admin, 2)
    _laptop, laptop_ws = await _signed_in_host(aiohttp_client, admin.server, first_visit)
    _tablet, tablet_ws = await _signed_in_host(aiohttp_client, admin.server, second_visit)

    deactivated = await post_form(admin, "/admin/therapists",
                                  f"/admin/therapists/{user_id}/deactivate")
    assert deactivated.status == 303

    await _closed_as_revoked(laptop_ws)
    await _closed_as_revoked(tablet_ws)


async def test_a_socket_whose_session_ended_before_its_join_reached_the_room_is_not_seated(
        admin, aiohttp_client, monkeypatch):
    """Her socket's sign-in check passed, then she signed out before its join reached the
    room (the sign-out's ejection found nothing to close): the room's own check turns it
    away, as revoked, and never welcomes it as host."""
    _user_id, (visit,) = await _rae_and_visits(admin)
    rae = await aiohttp_client(admin.server)
    assert (await open_as_therapist(rae, visit, RAE)).status == 303
    router = admin.server.app[ROUTER]
    join = router.join

    async def join_after_her_sign_out(seat, conn, extra):
        assert (await post_form(rae, "/admin", "/logout")).status == 303
        await join(seat, conn, extra)

    monkeypatch.setattr(router, "join", join_after_her_sign_out)
    ws = await rae.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    first = json.loads((await ws.receive(timeout=5)).data)
    assert first == {"type": "visit-ended", "reason": "link_revoked"}  # never a welcome
    closing = await ws.receive(timeout=5)  # (its data: the code in the server's frame)
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, CLOSE_REVOKED)


@pytest.mark.parametrize("busy_at", ["the seat query", "the audit"])
async def test_a_sign_out_that_finds_the_database_busy_leaves_her_signed_in_and_a_retry_works(
        admin, aiohttp_client, monkeypatch, busy_at):
    """Nothing is stored half-way: the session is not ended without its audit, nor her
    sockets left open with the session gone (which no retry could find again)."""
    _user_id, (visit,) = await _rae_and_visits(admin)
    rae, ws = await _signed_in_host(aiohttp_client, admin.server, visit)

    async def busy(*args, **kwargs):
        raise DatabaseBusy("locked")

    with monkeypatch.context() as patched:
        if busy_at == "the seat query":
            patched.setattr(service.visit_store, "therapist_seats", busy)
        else:
            patched.setattr(sign_out, "record_event", busy)
        refused = await post_form(rae, "/admin", "/logout")
        assert refused.status == 503
    assert (await rae.get(f"/visits/{visit.id}", allow_redirects=False)).status == 200
    await _still_open(ws)
    signed_out, _more = await find_events(admin.server.app[DB],
                                          EventQuery(action="login.signed_out"), 10)
    assert signed_out == []

    assert (await post_form(rae, "/admin", "/logout")).status == 303  # the retry

    await _closed_as_revoked(ws)
    page = await rae.get(f"/visits/{visit.id}", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/login?next=")


async def test_signing_in_again_as_herself_keeps_her_call_and_signs_nobody_out(admin,
                                                                               aiohttp_client):
    """The same account signing in again on that browser is no sign-out: the session
    rotates and her open socket keeps its call (a room set up again later asks for the new
    session, which a reload brings)."""
    _user_id, (visit,) = await _rae_and_visits(admin)
    rae, ws = await _signed_in_host(aiohttp_client, admin.server, visit)

    await login(rae, RAE, "therapist-pass-1")

    await _still_open(ws)
    signed_out, _more = await find_events(admin.server.app[DB],
                                          EventQuery(action="login.signed_out"), 10)
    assert signed_out == []
    await ws.close()
    await _host(rae, visit)  # the page and a new socket open with the new session


async def test_a_sign_out_finds_her_visit_for_as_long_as_its_link_opens_and_not_outside(admin):
    """Her seats are looked up within a bounded stretch of start times (so the lookup does
    not grow with her history): the longest visit is still found late in its grace time,
    and a visit is found from when its link opens (a minute's slack either side) to when
    it closes, never outside."""
    user_id, _ = await _rae_and_visits(admin, 0)
    visit = await make_visit(admin, therapist_email=RAE, minutes=240)
    visits = admin.server.app[VISITS]
    therapist = visit.participant("therapist")

    async def found(at: int) -> bool:
        leaving = await visits.staff_signing_out(user_id, None, "s", now=at)
        return (visit.id, therapist.id) in leaving.seats

    opens, closes = therapist.not_before, therapist.expires_at
    assert closes - visit.starts_at == (240 + 30) * 60  # the longest visit and its grace
    assert not await found(opens - 61)
    assert await found(opens - 59)
    assert await found(closes - 1)
    assert await found(closes + 59)
    assert not await found(closes + 61)
