"""Links as a concept of their own: each has a scope and a row in `links`, revocation is
by jti, and the visit scope's cookie is the one browsers already hold."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from server.auth.scopes import SCOPES, VISIT
from server.keys import DB, KEYRING, VISITS
from server.storage.links import get_link
from server.visits import service as service_module
from tests.helpers import count_rows, link_of, make_visit, now

pytestmark = pytest.mark.both_engines


async def _token(client, visit, role: str = "patient", *, drop: tuple[str, ...] = (),
                 **claims: Any) -> str:
    """A participant's token signed with the server's key, some claims changed or dropped."""
    participant = visit.participant(role)
    key = await client.server.app[KEYRING].newest()
    payload = {"iss": "visitroom", "aud": "visit", "scope": "visit", "sub": participant.id,
               "vid": visit.id, "role": role, "nbf": participant.not_before,
               "exp": participant.expires_at, "iat": now(), "jti": participant.jti, **claims}
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, key.private, algorithm="EdDSA", headers={"kid": key.kid})


async def _answers(client, visit, token: str) -> list[tuple[int, str]]:
    """What the link page, the visit page (by cookie) and its JSON twin answer to a token."""
    cookie = {"Cookie": f"{VISIT.cookie_name}={token}"}
    found = []
    for path, headers in ((f"/join/{visit.id}?token={token}", {}),
                          (f"/visits/{visit.id}", cookie),
                          (f"/visits/{visit.id}/assignments",
                           {**cookie, "Accept": "application/json"})):
        client.session.cookie_jar.clear()
        response = await client.get(path, headers=headers, allow_redirects=False)
        body = await response.text()
        assert "Traceback" not in body
        assert VISIT.cookie_name not in response.cookies
        found.append((response.status, body))
    return found


async def test_a_token_of_another_or_an_unknown_scope_gets_the_answer_of_a_bad_link(client):
    visit = await make_visit(client)
    bad_link = await _answers(client, visit, await _token(client, visit, aud="plan"))
    assert [status for status, _ in bad_link] == [401, 401, 403]
    assert "Link not valid" in bad_link[0][1] and "Link not valid" in bad_link[1][1]
    assert '"code": "wrong_audience"' in bad_link[2][1].replace('":"', '": "')
    events = await count_rows(client, "events")
    # Declared scopes other than `visit` (a plan link is no visit link) and undeclared ones.
    for scope in ("plan", "unsubscribe", "VISIT", "", 7, None, ["visit"]):
        assert scope in ("plan", "unsubscribe") or not (isinstance(scope, str)
                                                         and scope in SCOPES)
        assert await _answers(client, visit, await _token(client, visit, scope=scope)) \
            == bad_link, scope
    assert await count_rows(client, "events") == events  # nothing stored
    assert (await client.get("/healthz")).status == 200


async def test_a_token_without_a_scope_claim_is_a_visit_link(client):
    visit = await make_visit(client)
    token = await _token(client, visit, drop=("scope",))
    response = await client.get(f"/join/{visit.id}?token={token}", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/visits/{visit.id}"


async def test_every_issued_link_has_a_row_with_its_scope_and_subject(client):
    visits = client.server.app[VISITS]
    visit = await visits.add_guest(await make_visit(client), "Iris Interpreter", actor="test")
    kid = (await client.server.app[KEYRING].newest()).kid
    for p in visit.participants:
        link = await get_link(client.server.app[DB], p.jti)
        assert link is not None
        assert (link.scope, link.subject, link.visit_id, link.kid, link.issued_at,
                link.expires_at, link.revoked_at) == (
            "visit", p.id, visit.id, kid, p.issued_at, p.expires_at, None)
    assert await count_rows(client, "links") == 3
    token = (await link_of(client, visit)).split("token=", 1)[1]
    assert jwt.decode(token, options={"verify_signature": False})["scope"] == "visit"


async def test_revoking_one_link_by_jti_leaves_the_visits_other_links_working(client):
    visits = client.server.app[VISITS]
    visit = await visits.add_guest(await make_visit(client), "Iris Interpreter", actor="test")
    guest = visit.participants[-1]
    paths = {role: await link_of(client, visit, role) for role in ("patient", "therapist")}
    paths["guest"] = await link_of(client, visit, "guest")
    await visits.revoke(visit, "patient", actor="test")
    db = client.server.app[DB]
    revoked = {p.id: (await get_link(db, p.jti)).revoked_at is not None
               for p in visit.participants}
    assert revoked == {visit.participant("patient").id: True,
                       visit.participant("therapist").id: False, guest.id: False}
    for role, path in paths.items():
        client.session.cookie_jar.clear()
        response = await client.get(path, allow_redirects=False)
        assert response.status == (403 if role == "patient" else 303), role
    client.session.cookie_jar.clear()
    refused = await client.get(paths["patient"])
    assert "Link no longer valid" in await refused.text()


async def test_a_reissued_link_revokes_the_old_jti_only(client):
    visits = client.server.app[VISITS]
    visit = await make_visit(client)
    old = visit.participant("patient")
    old_path = await link_of(client, visit)
    updated = await visits.reissue(visit, "patient", actor="test")
    new = updated.participant("patient")
    db = client.server.app[DB]
    old_row, new_row = await get_link(db, old.jti), await get_link(db, new.jti)
    assert new.jti != old.jti and old_row.revoked_at is not None
    assert (new_row.subject, new_row.revoked_at, new_row.expires_at) == (old.id, None,
                                                                         old.expires_at)
    therapist = await get_link(db, visit.participant("therapist").jti)
    assert therapist.revoked_at is None
    assert (await client.get(old_path, allow_redirects=False)).status == 403
    for path in (await link_of(client, updated), await link_of(client, updated, "therapist")):
        client.session.cookie_jar.clear()
        assert (await client.get(path, allow_redirects=False)).status == 303
    # The new link revoked in turn leaves the old row as it was.
    await visits.revoke(updated, "patient", actor="test")
    assert (await get_link(db, old.jti)).revoked_at == old_row.revoked_at


async def test_the_visit_cookie_keeps_its_name_and_path_and_a_held_cookie_still_opens(client):
    assert (VISIT.cookie_name, VISIT.path_for("v_x")) == ("visitroom_visit", "/visits/v_x")
    visit = await make_visit(client)
    response = await client.get(await link_of(client, visit), allow_redirects=False)
    cookie = response.cookies["visitroom_visit"]
    assert cookie["path"] == f"/visits/{visit.id}"
    # A browser holding the cookie its link set before scopes (a token without `scope`).
    held = await _token(client, visit, drop=("scope",))
    client.session.cookie_jar.clear()
    page = await client.get(f"/visits/{visit.id}", headers={"Cookie": f"visitroom_visit={held}"},
                            allow_redirects=False)
    assert page.status == 200 and 'data-role="patient"' in await page.text()


@pytest.mark.parametrize("failing", ["therapist_link", "audit_event"])
async def test_a_visit_whose_creation_fails_stores_neither_it_nor_its_links(
        client, monkeypatch, failing):
    before = {t: await count_rows(client, t) for t in ("visits", "participants", "links")}
    real_insert, real_record = service_module.insert_link, service_module.record_event
    calls: list[str] = []

    async def insert_link(conn, link):
        calls.append(link.subject)
        if failing == "therapist_link" and len(calls) == 2:
            raise RuntimeError("disk full")
        await real_insert(conn, link)

    async def record_event(*args, **kwargs):
        if failing == "audit_event":
            raise RuntimeError("disk full")
        await real_record(*args, **kwargs)

    monkeypatch.setattr(service_module, "insert_link", insert_link)
    monkeypatch.setattr(service_module, "record_event", record_event)
    with pytest.raises(RuntimeError, match="disk full"):
        await make_visit(client)
    assert len(calls) == 2  # the patient's link was written before the failure
    assert {t: await count_rows(client, t) for t in before} == before
