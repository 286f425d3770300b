"""Links: Ed25519-signed JWTs, a key ring for rotation, and their verification.

Claims follow DESIGN.md: iss, aud and scope (the link's scope, `server/auth/scopes.py`),
sub, nbf, exp, iat, jti, and what the scope adds (a visit link: vid, role), with the
signing key's id in the `kid` header. A token without `scope` is a visit link (made before
scopes). Ed25519 signatures are deterministic, so the same claims and key give the same
token: the server keeps the claims, never the token, and mints a link again whenever it
must show it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from server.auth.scopes import DEFAULT_SCOPE, VISIT, Scope, scope_named
from server.storage import Database
from server.storage.links import live_link
from server.storage.signing_keys import all_signing_keys, insert_signing_key
from signaling.ids import ROLES

ALGORITHM = "EdDSA"
AUDIENCE = VISIT.audience
MAX_TOKEN_LENGTH = 2048
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "nbf", "exp", "iat", "jti")
"""Every scope's; a scope requires its own claims on top (`Scope.claims`)."""
_RELOAD_INTERVAL = 5.0
_VERIFIED_MAX = 4096
"""Tokens whose signature a key ring remembers having checked (a few MB at most)."""
Checked = TypeVar("Checked")


class LinkProblem(Enum):
    """Why a visit link was refused; each has its own page."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_VISIT = "wrong_visit"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    ACCOUNT_INACTIVE = "account_inactive"
    STAFF_SIGN_IN = "staff_sign_in"
    """A therapist link of a visit booked with an account, without her staff session."""
    WRONG_ACCOUNT = "wrong_account"
    """A therapist link opened while another staff account is signed in."""
    LINK_IN_USE = "link_in_use"
    """A therapist link without an account, opened on a device other than its first."""


class LinkRefused(Exception):
    """A visit link that must not open the visit."""

    def __init__(self, problem: LinkProblem, opens_at: int | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.opens_at = opens_at
        """For NOT_YET_VALID: unix time at which the link starts to work."""


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link says."""

    participant_id: str
    visit_id: str
    role: str
    jti: str
    not_before: int
    expires_at: int
    expired: bool = False
    """Past `exp` but inside the grace the caller allowed (the home program)."""


@dataclass(frozen=True)
class SigningKey:
    """One key of the ring."""

    kid: str
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    created_at: int


def new_private_pem() -> str:
    """A fresh Ed25519 private key as PKCS#8 PEM."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


async def add_signing_key(db: Database, now: int | None = None, *,
                          only_first: bool = False) -> str | None:
    """Create and store a new signing key; it signs from the next load on. Returns its kid.

    With `only_first`, only while the database has none (asked inside the write
    transaction, so processes starting together make one first key); else None.
    """
    kid = "k" + secrets.token_hex(6)
    async with db.transaction() as conn:
        if only_first:
            async with conn.execute("SELECT COUNT(*) FROM signing_keys") as cur:
                row = await cur.fetchone()
            if row is not None and int(row[0]) > 0:
                return None
        await insert_signing_key(conn, kid=kid, private_pem=new_private_pem(),
                                 now=int(time.time()) if now is None else now)
    return kid


class KeyRing:
    """The signing keys, loaded from the database; the newest signs, every one verifies."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._keys: dict[str, SigningKey] = {}
        self._newest: SigningKey | None = None
        self._loaded_at = 0.0
        self._verified: OrderedDict[tuple[bytes, str, str], tuple[str, str]] = OrderedDict()
        """(token's digest, issuer, scope) → (kid, claims segment) of tokens `_signed_claims`
        accepted: an Ed25519 check and PyJWT's parse cost about 0.1 ms, and a browser
        presents the same token with every request and socket of its visit. Kept compact
        (a 16-byte BLAKE2b digest, the claims as the token carries them: about 0.5 KB an
        entry): with thousands of sockets open it is part of what each costs."""

    async def load(self) -> None:
        """(Re)read the keys; creates the first one on an empty database."""
        rows = await all_signing_keys(self._db)
        if not rows:
            await add_signing_key(self._db, only_first=True)
            rows = await all_signing_keys(self._db)
        keys = {}
        for kid, pem, created in rows:
            private = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
            assert isinstance(private, Ed25519PrivateKey)
            keys[kid] = SigningKey(kid, private, private.public_key(), created)
        if self._keys.keys() - keys.keys():
            self._verified.clear()  # a key went away: what it verified is no longer vouched for
        self._keys = keys
        self._newest = list(keys.values())[-1]
        self._loaded_at = time.monotonic()

    async def _refresh_if_stale(self) -> None:
        # Another process (`run.py rotate-key`) may have added a key since we loaded.
        if time.monotonic() - self._loaded_at >= _RELOAD_INTERVAL:
            await self.load()

    async def newest(self) -> SigningKey:
        """The key new links are signed with."""
        await self._refresh_if_stale()
        assert self._newest is not None, "key ring not loaded"
        return self._newest

    async def get(self, kid: str) -> SigningKey | None:
        """The key with this id, reloading once if it is not known yet."""
        key = self._keys.get(kid)
        if key is None:
            await self._refresh_if_stale()
            key = self._keys.get(kid)
        return key

    @property
    def kids(self) -> list[str]:
        """Ids of the loaded keys, oldest first."""
        return list(self._keys)

    async def verified(self, token: str, issuer: str, scope: str) -> dict[str, Any] | None:
        """The claims (a copy) of a token `_signed_claims` accepted before for this issuer
        and scope, while the key that verified it is still in the ring; None otherwise."""
        memo = (_digest(token), issuer, scope)
        found = self._verified.get(memo)
        if found is None or await self.get(found[0]) is None:
            return None
        self._verified.move_to_end(memo)
        claims: dict[str, Any] = json.loads(_segment_bytes(found[1]))
        return claims

    def remember_verified(self, token: str, issuer: str, scope: str, kid: str) -> None:
        """Keep a token `_signed_claims` accepted (the least recently used go first)."""
        self._verified[(_digest(token), issuer, scope)] = (kid, token.split(".")[1])
        if len(self._verified) > _VERIFIED_MAX:
            self._verified.popitem(last=False)


def _digest(token: str) -> bytes:
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


def _segment_bytes(segment: str) -> bytes:
    """A JWT segment's bytes (base64url without padding)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def sign_token(key: SigningKey, scope: Scope, *, issuer: str, subject: str, jti: str,
               issued_at: int, not_before: int, expires_at: int, **own: str) -> str:
    """The JWT of a link of `scope`: the claims every link has, and `own` (exactly the
    scope's `claims`)."""
    if set(own) != set(scope.claims):
        raise ValueError(f"a {scope.name} link carries {scope.claims}, not {tuple(own)}")
    claims = {
        "iss": issuer, "aud": scope.audience, "scope": scope.name, "sub": subject,
        **own, "nbf": not_before, "exp": expires_at, "iat": issued_at, "jti": jti,
    }
    return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})


def sign_link(key: SigningKey, *, issuer: str, participant_id: str, visit_id: str, role: str,
              jti: str, issued_at: int, not_before: int, expires_at: int) -> str:
    """The JWT for one participant's link (scope `visit`)."""
    return sign_token(key, VISIT, issuer=issuer, subject=participant_id, jti=jti,
                      issued_at=issued_at, not_before=not_before, expires_at=expires_at,
                      vid=visit_id, role=role)


async def verify_issued(ring: KeyRing, db: Database, token: str, *, issuer: str, scope: Scope,
                        check: Callable[[dict[str, Any]], Awaitable[Checked]]) -> Checked:
    """The one way a link of any scope is verified; return what `check` returns, or raise
    LinkRefused.

    First the token (`_signed_claims`: size, algorithm, key, signature, audience, issuer,
    scope and required claims), then the scope's own claims and state (`check`, which
    raises LinkRefused: a visit link's visit, role and time window, the visit cancelled),
    then its row (`live_link`: recorded for this scope, subject and, for a link naming one,
    visit, and not revoked; REVOKED otherwise). A scope's verifier goes through here, so no
    link of any scope opens without its row.
    """
    claims = await _signed_claims(ring, token, issuer=issuer, scope=scope)
    checked = await check(claims)
    visit_id = claims["vid"] if "vid" in scope.claims else None
    if not await live_link(db, scope.name, claims["sub"], claims["jti"], visit_id):
        # No row: a link replaced before links were recorded, or forgotten past its windows.
        raise LinkRefused(LinkProblem.REVOKED)
    return checked


async def _signed_claims(ring: KeyRing, token: str, *, issuer: str,
                         scope: Scope) -> dict[str, Any]:
    """Check size, algorithm, key, signature, audience, issuer and scope, and that the claims
    every link has and `scope`'s own are there; return the claims, or raise LinkRefused.
    Only `verify_issued` calls this: it adds the scope's check and the link's row.

    A token of another scope, or of one this server does not know, is refused as not a link
    of this kind (WRONG_AUDIENCE). The time window is the scope's check.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused(LinkProblem.MALFORMED)
    known = await ring.verified(token, issuer, scope.name)
    if known is not None:
        return known
    try:
        header = _unverified_header(token)
    except (ValueError, TypeError, binascii.Error, RecursionError):  # (nested past the parser's depth)
        raise LinkRefused(LinkProblem.MALFORMED) from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM:
        raise LinkRefused(LinkProblem.BAD_SIGNATURE)
    if not isinstance(kid, str) or not kid or len(kid) > 64:
        raise LinkRefused(LinkProblem.UNKNOWN_KEY)
    key = await ring.get(kid)
    if key is None:
        raise LinkRefused(LinkProblem.UNKNOWN_KEY)
    try:
        # nbf is the caller's, so that an early patient can be told when her visit opens.
        claims: dict[str, Any] = jwt.decode(
            token, key.public, algorithms=[ALGORITHM], audience=scope.audience, issuer=issuer,
            options={"require": [*_REQUIRED_CLAIMS, *scope.claims], "verify_nbf": False,
                     "verify_exp": False},
        )
    except jwt.InvalidAudienceError:
        raise LinkRefused(LinkProblem.WRONG_AUDIENCE) from None
    except jwt.InvalidIssuerError:
        raise LinkRefused(LinkProblem.WRONG_ISSUER) from None
    except jwt.InvalidSignatureError:
        raise LinkRefused(LinkProblem.BAD_SIGNATURE) from None
    except jwt.InvalidTokenError:
        raise LinkRefused(LinkProblem.MALFORMED) from None
    if scope_named(claims.get("scope", DEFAULT_SCOPE.name)) is not scope:
        raise LinkRefused(LinkProblem.WRONG_AUDIENCE)
    # What the link's row is looked up by (`verify_issued`): strings, or a malformed token.
    if not all(isinstance(claims.get(k, ""), str) for k in ("sub", "jti", "vid")):
        raise LinkRefused(LinkProblem.MALFORMED)
    ring.remember_verified(token, issuer, scope.name, kid)
    return claims


def _unverified_header(token: str) -> dict[str, Any]:
    """The JWT's header alone (PyJWT's get_unverified_header decodes and checks all three
    parts, character by character: 18 µs); jwt.decode checks everything after."""
    header = json.loads(_segment_bytes(token.split(".", 1)[0]))
    if not isinstance(header, dict):
        raise TypeError("a JWT header is an object")
    return header


def visit_claims(claims: dict[str, Any], *, visit_id: str, now: int | None = None,
                 expired_grace: int = 0) -> LinkClaims:
    """A signed visit link's own claims (`verify_issued`'s `check` for the `visit` scope):
    their types, role, visit and time window; raise LinkRefused.

    `expired_grace` accepts a link up to that many seconds past `exp` (marked `expired`):
    the home program outlives the call.
    """
    now = int(time.time()) if now is None else now
    fields_ok = (
        all(isinstance(claims.get(k), str) for k in ("sub", "vid", "role", "jti"))
        and all(isinstance(claims.get(k), int) for k in ("nbf", "exp", "iat"))
        and claims["role"] in ROLES
    )
    if not fields_ok:
        raise LinkRefused(LinkProblem.MALFORMED)
    if claims["vid"] != visit_id:
        raise LinkRefused(LinkProblem.WRONG_VISIT)
    expired = now >= claims["exp"]
    if expired and now >= claims["exp"] + expired_grace:
        raise LinkRefused(LinkProblem.EXPIRED)
    if now < claims["nbf"]:
        raise LinkRefused(LinkProblem.NOT_YET_VALID, opens_at=claims["nbf"])
    return LinkClaims(claims["sub"], claims["vid"], claims["role"], claims["jti"],
                      claims["nbf"], claims["exp"], expired)
