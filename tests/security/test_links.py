"""Visit links: opening a valid one, and every kind of bad one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from server.auth.tokens import add_signing_key, sign_link
from server.keys import DB, KEYRING, VISITS
from tests.helpers import count_rows, hours, link_of, make_visit, now

pytestmark = pytest.mark.both_engines


def _token(path: str) -> str:
    return path.split("token=", 1)[1]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _forged(client, visit, *, kid: str | None = None, private=None, **claims) -> str:
    """A token for the visit's patient with some claims, key id or key changed."""
    participant = visit.participant("patient")
    key = await client.server.app[KEYRING].newest()
    payload = {"iss": "visitroom", "aud": "visit", "sub": participant.id, "vid": visit.id,
               "role": "patient", "nbf": participant.not_before, "exp": participant.expires_at,
               "iat": now(), "jti": participant.jti, **claims}
    return jwt.encode(payload, private or key.private, algorithm="EdDSA",
                      headers={"kid": kid or key.kid})


async def _refused(client, path: str, status: int, phrase: str) -> None:
    """Open a bad link: the status and page are as expected, no cookie, nothing stored."""
    events_before = await count_rows(client, "events")
    response = await client.get(path, allow_redirects=False)
    body = await response.text()
    assert response.status == status, body
    assert phrase in body
    assert "Traceback" not in body
    assert "Set-Cookie" not in response.headers or "visitroom_visit" not in response.headers.get("Set-Cookie", "")
    assert await count_rows(client, "events") == events_before
    health = await client.get("/healthz")
    assert health.status == 200


async def test_valid_link_redirects_without_token_and_sets_strict_httponly_cookie(client):
    visit = await make_visit(client)
    response = await client.get(await link_of(client, visit), allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/visits/{visit.id}"
    cookie = response.cookies["visitroom_visit"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == f"/visits/{visit.id}"
    assert not cookie["secure"]


async def test_secure_cookie_when_public_url_is_https(aiohttp_client, config):
    from server.app import create_app

    client = await aiohttp_client(create_app(config.with_overrides(public_url="https://visits.clinic.test")))
    visit = await make_visit(client)
    response = await client.get(await link_of(client, visit), allow_redirects=False)
    assert response.status == 303
    assert response.cookies["visitroom_visit"]["secure"] is True
    assert "Strict-Transport-Security" in response.headers


async def test_visit_page_opens_with_cookie_for_each_role(client):
    visit = await make_visit(client, therapist_name="Dr. Jo Park")
    for role in ("patient", "therapist"):
        client.session.cookie_jar.clear()
        response = await client.get(await link_of(client, visit, role))
        assert response.status == 200
        body = await response.text()
        assert f'data-role="{role}"' in body
        assert str(response.url).endswith(f"/visits/{visit.id}")
    assert "Maya Lopez" in body  # the therapist's page names her patient


async def test_visit_page_without_cookie_is_401(client):
    visit = await make_visit(client)
    response = await client.get(f"/visits/{visit.id}")
    assert response.status == 401
    assert "link from your invitation" in await response.text()


async def test_visit_cookie_of_another_visit_is_refused(client):
    first = await make_visit(client)
    second = await make_visit(client)
    await client.get(await link_of(client, first), allow_redirects=False)
    token = client.session.cookie_jar.filter_cookies(client.make_url(f"/visits/{first.id}"))["visitroom_visit"].value
    client.session.cookie_jar.clear()
    response = await client.get(f"/visits/{second.id}", cookies={"visitroom_visit": token})
    assert response.status == 403
    assert "belongs to a different visit" in await response.text()


async def test_tampered_token_is_refused(client):
    visit = await make_visit(client)
    path = await link_of(client, visit)
    header, payload, signature = _token(path).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "therapist"
    forged = ".".join([header, _b64(claims), signature])
    await _refused(client, f"/join/{visit.id}?token={forged}", 401, "altered")


async def test_alg_none_token_is_refused(client):
    visit = await make_visit(client)
    claims = json.loads(base64.urlsafe_b64decode(_token(await link_of(client, visit)).split(".")[1] + "=="))
    kid = client.server.app[KEYRING].kids[-1]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}."
    await _refused(client, f"/join/{visit.id}?token={unsigned}", 401, "Link not valid")


async def test_wrong_audience_is_refused(client):
    visit = await make_visit(client)
    token = await _forged(client, visit, aud="admin")
    await _refused(client, f"/join/{visit.id}?token={token}", 401, "not a visit link")


async def test_token_of_one_visit_on_another_visits_url_is_refused(client):
    first = await make_visit(client)
    second = await make_visit(client)
    await _refused(client, f"/join/{second.id}?token={_token(await link_of(client, first))}", 403,
                   "belongs to a different visit")


async def test_a_link_past_its_home_program_window_is_refused(client):
    long_ago = now() - hours(24 * 91)  # the home program stays open 90 days after the visit
    visit = await make_visit(client, now=long_ago)
    await _refused(client, await link_of(client, visit), 401, "link no longer works")


async def test_a_link_past_its_call_window_opens_only_the_home_program(client):
    visit = await make_visit(client, now=now() - hours(48))
    response = await client.get(await link_of(client, visit), allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/visits/{visit.id}/program"
    page = await client.get(f"/visits/{visit.id}", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].endswith("/program")
    program = await client.get(f"/visits/{visit.id}/program")
    assert program.status == 200 and "Your home program" in await program.text()


async def test_link_before_its_window_says_when_the_visit_opens(client):
    visit = await make_visit(client, starts_at="2099-03-02T09:30:00+00:00", minutes="30")
    response = await client.get(await link_of(client, visit), allow_redirects=False)
    body = await response.text()
    assert response.status == 403
    assert "Your visit opens at 09:15" in body  # 15-minute early-join window
    assert "Monday 02 March 2099" in body
    assert "Set-Cookie" not in response.headers


async def test_reissued_link_revokes_the_old_one_at_once(client):
    visit = await make_visit(client)
    old = await link_of(client, visit)
    updated = await client.server.app[VISITS].reissue(visit, "patient", actor="test")
    await _refused(client, old, 403, "replaced by a newer one or withdrawn")
    response = await client.get(await link_of(client, updated), allow_redirects=False)
    assert response.status == 303


async def test_cookie_stops_working_once_its_link_is_revoked(client):
    visit = await make_visit(client)
    assert (await client.get(await link_of(client, visit))).status == 200
    await client.server.app[VISITS].reissue(visit, "patient", actor="test")
    response = await client.get(f"/visits/{visit.id}")
    assert response.status == 403


async def test_cancelled_visit_revokes_every_link(client):
    visit = await make_visit(client)
    links = [await link_of(client, visit, role) for role in ("patient", "therapist")]
    await client.server.app[VISITS].cancel(visit, actor="test")
    for link in links:
        await _refused(client, link, 403, "This visit was cancelled")


async def test_unknown_kid_is_refused(client):
    visit = await make_visit(client)
    token = await _forged(client, visit, kid="k-not-ours")
    await _refused(client, f"/join/{visit.id}?token={token}", 401, "not issued by this clinic")


@pytest.mark.parametrize("token, status, phrase", [
    ("", 400, "link is incomplete"),
    ("abc", 401, "damaged or incomplete"),
    ("a.b.c", 401, "damaged or incomplete"),
    ("x" * 5000, 401, "damaged or incomplete"),  # oversized: refused before any parsing
])
async def test_garbage_tokens_are_refused(client, token, status, phrase):
    visit = await make_visit(client)
    await _refused(client, f"/join/{visit.id}?{urlencode({'token': token})}", status, phrase)


async def test_an_oversized_signed_token_is_refused_unread(client):
    visit = await make_visit(client)
    token = await _forged(client, visit, padding="p" * 4000)
    await _refused(client, f"/join/{visit.id}?token={token}", 401, "damaged or incomplete")


async def test_hs256_signed_with_the_public_key_is_refused(client):
    """Algorithm confusion: an HMAC keyed with the (public) verification key."""
    visit = await make_visit(client)
    key = await client.server.app[KEYRING].newest()
    public = key.public.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = json.loads(base64.urlsafe_b64decode(_token(await link_of(client, visit)).split(".")[1] + "=="))
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_b64(claims)}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    await _refused(client, f"/join/{visit.id}?token={forged}", 401, "altered")


@pytest.mark.parametrize("kid", ["' OR '1'='1", "../../../etc/passwd", "k1\u0000", "k" * 65,
                                 "http://attacker.example/jwks.json"])
async def test_injected_kid_is_refused(client, kid):
    visit = await make_visit(client)
    token = await _forged(client, visit, kid=kid)
    await _refused(client, f"/join/{visit.id}?{urlencode({'token': token})}", 401,
                   "not issued by this clinic")


async def test_links_signed_with_an_older_key_keep_working_after_rotation(client):
    app = client.server.app
    old_visit = await make_visit(client)
    old_kid = old_visit.participant("patient").kid
    new_kid = await add_signing_key(app[DB])
    await app[KEYRING].load()
    new_visit = await make_visit(client)
    assert new_visit.participant("patient").kid == new_kid != old_kid
    for visit in (old_visit, new_visit):
        response = await client.get(await link_of(client, visit), allow_redirects=False)
        assert response.status == 303


async def test_link_signed_by_a_foreign_key_with_a_known_kid_is_refused(client):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    visit = await make_visit(client)
    token = await _forged(client, visit, private=Ed25519PrivateKey.generate())
    await _refused(client, f"/join/{visit.id}?token={token}", 401, "altered")


def test_same_claims_and_key_mint_the_same_token():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from server.auth.tokens import SigningKey

    private = Ed25519PrivateKey.generate()
    key = SigningKey("k1", private, private.public_key(), 0)
    args = dict(issuer="visitroom", participant_id="p", visit_id="v", role="patient", jti="j",
                issued_at=1, not_before=2, expires_at=3)
    assert sign_link(key, **args) == sign_link(key, **args)


async def test_wrong_issuer_is_refused(client):
    visit = await make_visit(client)
    token = await _forged(client, visit, iss="another-clinic")
    await _refused(client, f"/join/{visit.id}?token={token}", 401, "another server")


async def test_a_link_verified_once_is_not_checked_with_its_key_again_but_its_window_and_row_are(
        client, monkeypatch):
    """The key ring remembers the tokens it verified: the same link opens without a second
    signature check, and still stops when revoked or cancelled."""
    visit = await make_visit(client)
    path = await link_of(client, visit)
    assert (await client.get(path, allow_redirects=False)).status == 303
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    assert (await client.get(path, allow_redirects=False)).status == 303
    assert decoded == []
    await client.server.app[VISITS].cancel(visit, actor="test")
    await _refused(client, path, 403, "This visit was cancelled")


async def test_a_remembered_link_counts_only_while_its_key_is_in_the_ring(client):
    ring = client.server.app[KEYRING]
    visit = await make_visit(client)
    path = await link_of(client, visit)
    assert (await client.get(path, allow_redirects=False)).status == 303
    token = _token(path)
    assert (await ring.verified(token, "visitroom", "visit"))["vid"] == visit.id
    assert await ring.verified(token, "visitroom", "program") is None  # another scope: checked anew
    ring.remember_verified("a.b.c", "visitroom", "visit", "k-not-in-the-ring")
    assert await ring.verified("a.b.c", "visitroom", "visit") is None


async def test_a_header_nested_past_the_parser_s_depth_is_malformed_not_an_error(client):
    visit = await make_visit(client)
    header = base64.urlsafe_b64encode(b"[" * 1400).rstrip(b"=").decode()
    await _refused(client, f"/join/{visit.id}?token={header}.e30.sig", 401, "damaged or incomplete")
