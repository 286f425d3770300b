"""A participant has one live link whatever order re-issues, revokes and cancels come in:
each stops every live link of its subject (or visit) inside its transaction, not only the
jti it read before (a double submit, an API retry, two workers); a link opens only through
`verify_issued` (signature, scope, the scope's check, then its `links` row); and what a
link's holder does is tied to the jti of the token she opened with, not the one stored.

The races are made deterministic by calling the service with a Visit read before another
change was committed (what the second of two requests holds)."""

from __future__ import annotations

import asyncio

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request

from server.auth import scopes as scopes_module
from server.auth import seat as seat_module
from server.auth.access import RequestBrowser
from server.auth.device import COOKIE as DEVICE_COOKIE
from server.auth.device import device_of
from server.auth.scopes import VISIT, Scope
from server.auth.tokens import LinkClaims, LinkProblem, LinkRefused, verify_issued
from server.keys import DB, KEYRING, VISITS
from server.storage.link_devices import link_device
from server.storage.links import Link, insert_link
from tests.helpers import count_rows, link_of, make_visit, now

pytestmark = pytest.mark.both_engines


async def _live_jtis(client, subject: str) -> list[str]:
    rows = await client.server.app[DB].fetchall(
        "SELECT jti FROM links WHERE subject = ? AND revoked_at IS NULL", (subject,))
    return [row[0] for row in rows]


async def _opens(client, path: str) -> int:
    client.session.cookie_jar.clear()
    return (await client.get(path, allow_redirects=False)).status


async def test_two_reissues_from_one_read_leave_one_live_link_and_only_the_newest_opens(client):
    visits = client.server.app[VISITS]
    read = await make_visit(client)  # both requests hold this read
    patient = read.participant("patient").id
    first = await visits.reissue(read, "patient", actor="test")
    second = await visits.reissue(read, "patient", actor="test")
    b, c = first.participant("patient").jti, second.participant("patient").jti
    assert await _live_jtis(client, patient) == [c]
    assert await _opens(client, await link_of(client, first)) == 403
    assert await _opens(client, await link_of(client, second)) == 303
    assert not await visits.link_current(patient, b) and await visits.link_current(patient, c)
    # A later revoke (read now) reaches the one live link: nothing of hers opens.
    await visits.revoke(await visits.get(read.id), "patient", actor="test")
    assert await _live_jtis(client, patient) == []
    assert await _opens(client, await link_of(client, second)) == 403


async def test_reissues_submitted_together_leave_one_live_link_her_current_one(client):
    visits = client.server.app[VISITS]
    read = await make_visit(client)
    patient = read.participant("patient").id
    await asyncio.gather(*(visits.reissue(read, "patient", actor="test") for _ in range(4)))
    current = (await visits.get(read.id)).participant("patient").jti
    assert await _live_jtis(client, patient) == [current]
    assert await count_rows(client, "links") == 2 + 4  # the visit's two, then four re-issues


async def test_a_revoke_read_before_a_reissue_still_stops_the_new_link(client):
    visits = client.server.app[VISITS]
    read = await make_visit(client)
    patient = read.participant("patient").id
    renewed = await visits.reissue(read, "patient", actor="test")
    await visits.revoke(read, "patient", actor="test")  # it read the replaced link's jti
    assert await _live_jtis(client, patient) == []
    assert await _opens(client, await link_of(client, renewed)) == 403
    assert not await visits.link_current(patient, renewed.participant("patient").jti)
    therapist = read.participant("therapist")
    assert await _live_jtis(client, therapist.id) == [therapist.jti]  # hers is untouched


async def test_a_cancel_read_before_a_reissue_and_a_guest_stops_their_links_too(client):
    visits = client.server.app[VISITS]
    read = await make_visit(client)
    renewed = await visits.reissue(read, "patient", actor="test")
    with_guest = await visits.add_guest(renewed, "Iris Interpreter", actor="test")
    await visits.cancel(read, actor="test")  # its read has neither the new link nor the guest
    for p in with_guest.participants:
        assert await _live_jtis(client, p.id) == [], p.role
        assert not await visits.link_current(p.id, p.jti)


async def test_a_subject_cannot_have_two_live_links_and_nothing_is_stored_half_way(client):
    app = client.server.app
    visit = await make_visit(client)
    patient = visit.participant("patient")
    before = await count_rows(client, "links")
    with pytest.raises(Exception, match="(?i)unique"):
        async with app[DB].transaction() as conn:
            await conn.execute("UPDATE visits SET capacity = 5 WHERE id = ?", (visit.id,))
            await insert_link(conn, Link("j_SecondLive0", VISIT.name, patient.id, visit.id,
                                         patient.kid, now(), patient.expires_at))
    assert await count_rows(client, "links") == before
    assert (await app[VISITS].get(visit.id)).capacity == visit.capacity


async def test_a_live_row_that_is_not_her_current_link_opens_nothing(client):
    """The second guard: the participant's stored jti must be the token's too."""
    app = client.server.app
    visit = await make_visit(client)
    patient = visit.participant("patient")
    key = await app[KEYRING].newest()
    async with app[DB].transaction() as conn:  # a live row made behind the service's back
        await conn.execute("UPDATE links SET revoked_at = ? WHERE jti = ?", (now(), patient.jti))
        await insert_link(conn, Link("j_Stray000000", VISIT.name, patient.id, visit.id, key.kid,
                                     now(), patient.expires_at))
    claims = {"iss": "visitroom", "aud": "visit", "scope": "visit", "sub": patient.id,
              "vid": visit.id, "role": "patient", "nbf": patient.not_before,
              "exp": patient.expires_at, "iat": now(), "jti": "j_Stray000000"}
    token = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})
    response = await client.get(f"/join/{visit.id}?token={token}", allow_redirects=False)
    assert response.status == 403 and "Link no longer valid" in await response.text()


async def test_a_new_scope_verified_through_verify_issued_gets_the_row_check(client,
                                                                             monkeypatch):
    app = client.server.app
    plan = Scope(name="plan", audience="plan", subject="a patient", claims=(),
                 cookie_name="visitroom_plan", cookie_path="/plan/{key}")
    monkeypatch.setitem(scopes_module.SCOPES, "plan", plan)
    key = await app[KEYRING].newest()
    claims = {"iss": "visitroom", "aud": "plan", "scope": "plan", "sub": "u_Patient000",
              "nbf": now() - 60, "exp": now() + 600, "iat": now(), "jti": "j_Plan00000000"}
    token = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})
    checked: list[str] = []

    async def check(signed):
        checked.append(signed["sub"])
        return signed["sub"]

    async def verify():
        return await verify_issued(app[KEYRING], app[DB], token, issuer="visitroom",
                                   scope=plan, check=check)

    with pytest.raises(LinkRefused) as unrecorded:
        await verify()
    assert unrecorded.value.problem is LinkProblem.REVOKED and checked == ["u_Patient000"]
    async with app[DB].transaction() as conn:
        await insert_link(conn, Link("j_Plan00000000", "plan", "u_Patient000", None, key.kid,
                                     now(), now() + 600))
    assert await verify() == "u_Patient000"
    async with app[DB].transaction() as conn:
        await conn.execute("UPDATE links SET revoked_at = ? WHERE jti = ?",
                           (now(), "j_Plan00000000"))
    with pytest.raises(LinkRefused) as revoked:
        await verify()
    assert revoked.value.problem is LinkProblem.REVOKED
    # The same token where a visit link is verified opens nothing, its check never asked.
    with pytest.raises(LinkRefused):
        await verify_issued(app[KEYRING], app[DB], token, issuer="visitroom", scope=VISIT,
                            check=check)
    assert checked == ["u_Patient000"] * 3


async def test_the_seat_and_the_device_binding_name_the_verified_tokens_jti(client, monkeypatch):
    """A participant read before a re-issue still holds the old jti; what the token that
    opened says is what the seat, the device denial and the binding use."""
    app = client.server.app
    visits = app[VISITS]
    read = await make_visit(client)
    stale = read.participant("therapist")
    token_jti = (await visits.reissue(read, "therapist", actor="test")
                 ).participant("therapist").jti
    claims = LinkClaims(stale.id, read.id, "therapist", token_jti, stale.not_before,
                        stale.expires_at)
    request = make_mocked_request(
        "GET", f"/visits/{read.id}/ws", app=app, match_info={"visit_id": read.id},
        headers={"Cookie": f"{DEVICE_COOKIE}={'d' * 32}"})
    device = device_of(request)
    await visits.turn_device_away(read.id, stale.id, token_jti, device)

    async def found(_request, _visit_id):
        return read, stale, claims

    monkeypatch.setattr(seat_module, "participant_from_cookie", found)
    seat = await seat_module.authenticate_seat(request)
    assert seat.link_id == token_jti and seat.device_denied
    assert await RequestBrowser(request, read, stale, token_jti).holds_link()
    assert await link_device(app[DB], token_jti) == device
    assert await link_device(app[DB], stale.jti) is None
