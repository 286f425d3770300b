"""A therapist's link is not a bearer token for the host's powers (issue 20, point 2).

Booked with her staff account, the link needs her sign-in for the host's seat, the call
page and the home program; booked without an account, it binds to the first browser that
opens it; every move of the host's seat to another browser is told to both and audited.
"""

from __future__ import annotations

import hashlib
import json

import aiohttp
import pytest
from yarl import URL

from server.keys import DB, VISITS
from server.storage.events import EventQuery, find_events
from signaling.bot.client import VisitClient, VisitClientError
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    add_therapist,
    count_rows,
    csrf_from,
    link_of,
    login,
    make_visit,
)

pytestmark = pytest.mark.both_engines

ORIGIN = {"Origin": "http://127.0.0.1:8080"}
RAE, LU, PASSWORD = "rae@clinic.test", "lu@clinic.test", "therapist-pass-1"


async def _booked_with_rae(admin):
    assert (await add_therapist(admin, "Rae Kim", RAE)).status == 201
    return await make_visit(admin, therapist_email=RAE)


def _device(cookies: aiohttp.abc.AbstractCookieJar, base: str) -> str:
    """The device id the server keeps for a browser: the hash of its device cookie."""
    value = cookies.filter_cookies(URL(base))["visitroom_device"].value
    return hashlib.sha256(value.encode()).hexdigest()[:32]


async def _events(client, action: str):
    found, _more = await find_events(client.server.app[DB], EventQuery(action=action), 100)
    return found


async def _socket_status(client, visit) -> int:
    """What the visit WebSocket answers this browser: 101 or the refusal's status."""
    try:
        ws = await client.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    except aiohttp.WSServerHandshakeError as refused:
        return refused.status
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
    await ws.close()
    return 101


async def test_her_link_without_her_sign_in_goes_to_sign_in_and_opens_nothing(admin, aiohttp_client):
    visit = await _booked_with_rae(admin)
    stranger = await aiohttp_client(admin.server)
    opened = await stranger.get(await link_of(stranger, visit, "therapist"), allow_redirects=False)
    assert opened.status == 303
    # To the sign-in page, coming back to the visit; the token never rides in that address.
    assert opened.headers["Location"] == f"/login?next=%2Fvisits%2F{visit.id}"
    page = await stranger.get(f"/visits/{visit.id}", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/login?next=")
    assert await _socket_status(stranger, visit) == 401
    assert (await stranger.get(f"/visits/{visit.id}/assignments")).status == 401
    response = await stranger.post(f"/visits/{visit.id}/assignments",
                                   json={"exercise": "glute-bridge"}, headers=ORIGIN)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "staff_sign_in"
    assert await count_rows(admin, "assignments") == 0
    program = await stranger.get(f"/visits/{visit.id}/program", allow_redirects=False)
    assert program.status == 303 and program.headers["Location"].startswith("/login?next=")


async def test_signed_in_as_her_the_link_comes_back_to_the_call_with_the_hosts_powers(admin, aiohttp_client):
    visit = await _booked_with_rae(admin)
    therapist = await aiohttp_client(admin.server)
    opened = await therapist.get(await link_of(therapist, visit, "therapist"))
    assert opened.url.path == "/login"  # the link brought her to sign in
    assert "to open the visit your link is for" in await opened.text()
    signed_in = await therapist.post("/login", allow_redirects=False, data={
        "email": RAE, "password": PASSWORD, "next": opened.url.query["next"],
        "csrf_token": csrf_from(await opened.text())})
    assert signed_in.status == 303 and signed_in.headers["Location"] == f"/visits/{visit.id}"
    page = await therapist.get(f"/visits/{visit.id}", allow_redirects=False)
    assert page.status == 200 and 'data-role="therapist"' in await page.text()
    ws = await therapist.ws_connect(f"/visits/{visit.id}/ws", headers=ORIGIN)
    welcome = json.loads((await ws.receive(timeout=5)).data)
    assert welcome["type"] == "welcome" and welcome["status"] == "admitted"
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "lobby"
    await ws.close()
    assigned = await therapist.post(f"/visits/{visit.id}/assignments",
                                    json={"exercise": "glute-bridge"}, headers=ORIGIN)
    assert assigned.status == 201


async def test_signed_in_as_another_therapist_or_the_admin_her_link_opens_nothing(admin, aiohttp_client):
    visit = await _booked_with_rae(admin)
    assert (await add_therapist(admin, "Lu Ortiz", LU)).status == 201
    link = await link_of(admin, visit, "therapist")
    for email, password in ((LU, PASSWORD), (ADMIN_EMAIL, ADMIN_PASSWORD)):
        other = await aiohttp_client(admin.server)
        await login(other, email, password)
        refused = await other.get(link, allow_redirects=False)
        body = await refused.text()
        assert refused.status == 403, body
        assert "another staff account" in body and "Traceback" not in body
        assert "visitroom_visit" not in refused.headers.get("Set-Cookie", "")
    # Lu opened the link signed out first (so her browser holds the visit cookie), then
    # signed in as herself: still nothing of Rae's visit.
    lu = await aiohttp_client(admin.server)
    assert (await lu.get(link, allow_redirects=False)).status == 303
    await login(lu, LU, PASSWORD)
    assert (await lu.get(f"/visits/{visit.id}", allow_redirects=False)).status == 403
    assert await _socket_status(lu, visit) == 403
    response = await lu.post(f"/visits/{visit.id}/assignments", json={"exercise": "clamshell"},
                             headers=ORIGIN)
    assert response.status == 403 and (await response.json())["error"]["code"] == "wrong_account"
    assert await count_rows(admin, "assignments") == 0
    refusals = await _events(admin, "link.refused")
    assert refusals and all(e.detail["problem"] == "wrong_account" for e in refusals)


async def test_without_an_account_the_link_binds_to_the_first_browser(client, aiohttp_client):
    visit = await make_visit(client, therapist_name="Sam Lee")
    link = await link_of(client, visit, "therapist")
    first = await aiohttp_client(client.server)
    assert (await first.get(link, allow_redirects=False)).status == 303
    first_device = _device(first.session.cookie_jar, str(first.make_url("/")))

    second = await aiohttp_client(client.server)
    before = await count_rows(client, "assignments")
    refused = await second.get(link, allow_redirects=False)
    body = await refused.text()
    assert refused.status == 403, body
    assert "Ask the clinic for a new link" in body and "Traceback" not in body
    assert "visitroom_visit" not in refused.headers.get("Set-Cookie", "")
    second_device = _device(second.session.cookie_jar, str(second.make_url("/")))
    # Even with the first browser's visit cookie copied over, the second opens nothing.
    token = first.session.cookie_jar.filter_cookies(first.make_url(f"/visits/{visit.id}"))
    second.session.cookie_jar.update_cookies({"visitroom_visit": token["visitroom_visit"].value},
                                             first.make_url(f"/visits/{visit.id}"))
    assert (await second.get(f"/visits/{visit.id}")).status == 403
    assert await _socket_status(second, visit) == 403
    response = await second.post(f"/visits/{visit.id}/assignments",
                                 json={"exercise": "clamshell"}, headers=ORIGIN)
    assert response.status == 403 and (await response.json())["error"]["code"] == "link_in_use"
    assert await count_rows(client, "assignments") == before

    # The first browser keeps its powers: the page, the seat, the program.
    assert (await first.get(f"/visits/{visit.id}")).status == 200
    assert await _socket_status(first, visit) == 101
    assert (await first.post(f"/visits/{visit.id}/assignments", json={"exercise": "clamshell"},
                             headers=ORIGIN)).status == 201
    [bound] = await _events(client, "link.bound")
    assert bound.detail["device"] == first_device
    [refusal] = await _events(client, "link.refused")
    assert refusal.detail == {"participant": visit.participant("therapist").id,
                              "problem": "link_in_use", "device": second_device}

    # A new link from the clinic starts unbound: the second browser may take it.
    updated = await client.server.app[VISITS].reissue(visit, "therapist", actor="test")
    new_link = await link_of(client, updated, "therapist")
    assert (await second.get(new_link, allow_redirects=False)).status == 303
    assert (await first.get(f"/visits/{visit.id}")).status == 403  # the old link is revoked


async def test_two_browsers_opening_an_unbound_link_at_once_bind_it_once(client, aiohttp_client):
    import asyncio

    visit = await make_visit(client, therapist_name="Sam Lee")
    link = await link_of(client, visit, "therapist")
    browsers = [await aiohttp_client(client.server) for _ in range(4)]
    answers = await asyncio.gather(*(b.get(link, allow_redirects=False) for b in browsers))
    assert sorted(a.status for a in answers) == [303, 403, 403, 403]
    assert len(await _events(client, "link.bound")) == 1


async def test_a_program_change_looks_up_the_links_device_once(client, aiohttp_client,
                                                               monkeypatch):
    # The policy asks about the device for opening the visit and again for changing the
    # program; the request answers both from one lookup.
    from server.auth import access

    visit = await make_visit(client, therapist_name="Sam Lee")
    browser = await aiohttp_client(client.server)
    assert (await browser.get(await link_of(client, visit, "therapist"),
                              allow_redirects=False)).status == 303
    lookups: list[str] = []

    async def counted(db, jti):
        lookups.append(jti)
        return await real(db, jti)

    real = access.link_device
    monkeypatch.setattr(access, "link_device", counted)
    response = await browser.post(f"/visits/{visit.id}/assignments",
                                  json={"exercise": "clamshell"}, headers=ORIGIN)
    assert response.status == 201, await response.text()
    assert lookups == [visit.participant("therapist").jti]


# -- the host's seat, through the real server and WebSockets ------------------------------


async def test_her_second_signed_in_device_takes_the_seat_told_to_both_and_audited(live):
    await live.therapist_account(RAE)
    visit = await live.visit(therapist_name=None, therapist_email=RAE)
    link = await live.link(visit, "therapist")
    first = await live.socket(link)  # signs in as Rae first (tests/live.py)
    await first.expect("welcome")
    patient = await live.socket(await live.link(visit, "patient"))
    await patient.expect("waiting")
    await first.send({"type": "admit", "participant": visit.participant("patient").id})
    await patient.expect("admitted")

    second = await live.socket(link)  # a new browser, signed in as Rae too
    welcome = await second.expect("welcome")
    assert welcome["status"] == "admitted"
    assert (await second.expect("took-over")) == {"type": "took-over", "was_connected": True}
    bye = await first.expect("bye")
    assert bye == {"type": "bye", "reason": "replaced", "other_device": True}
    assert await first.closed_with() == 4001
    await patient.expect("peer-joined")  # the call goes on with the new device
    assert await patient.alive()

    events, _more = await find_events(live.app[DB], EventQuery(action="host.replaced"), 100)
    assert [e.detail for e in events] == [{
        "participant": visit.participant("therapist").id,
        "device": _device(second.session.cookie_jar, live.base),
        "previous_device": _device(first.session.cookie_jar, live.base),
        "was_connected": True}]


async def test_a_browser_without_her_sign_in_cannot_take_the_seat_from_her(live):
    await live.therapist_account(RAE)
    visit = await live.visit(therapist_name=None, therapist_email=RAE)
    link = await live.link(visit, "therapist")
    therapist = await live.socket(link)
    await therapist.expect("welcome")
    stranger = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    live.sessions.append(stranger)
    async with stranger.get(link) as opened:
        assert opened.status == 200 and opened.url.path == "/login"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await stranger.ws_connect(f"{live.base}/visits/{visit.id}/ws", origin=live.base)
    assert refused.value.status == 401
    assert await therapist.alive()  # she keeps her seat, and nobody took it
    assert not any(m["type"] == "bye" for m in therapist.seen)
    # The Python participant says why instead of joining.
    bot = VisitClient(link, admit=True)
    with pytest.raises(VisitClientError, match="sign-in"):
        await bot.connect()
    await bot.close()


async def test_without_an_account_a_second_browser_cannot_take_the_seat(live):
    visit = await live.visit()
    link = await live.link(visit, "therapist")
    therapist = await live.socket(link)
    await therapist.expect("welcome")
    stranger = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    live.sessions.append(stranger)
    async with stranger.get(link) as opened:
        assert opened.status == 403
        assert "Ask the clinic for a new link" in await opened.text()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await stranger.ws_connect(f"{live.base}/visits/{visit.id}/ws", origin=live.base)
    assert refused.value.status == 401  # it never got the visit cookie
    assert await therapist.alive()
    assert not any(m["type"] == "bye" for m in therapist.seen)
