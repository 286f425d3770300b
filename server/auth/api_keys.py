"""Integrator API keys: `vr_` + 32 random bytes, sent as `Authorization: Bearer`.

A wrong key is audited (`api_key.failed`, by the client address's keyed tag) and counts
against that address: after `login_address_failures` of them within the sign-in window,
every key from it waits (429 with `Retry-After`, `api_key.throttled` audited once a
window), even a right one, so the limit cannot be probed.
"""

from __future__ import annotations

import math
import secrets
import time

from aiohttp import web

from server.auth.client_address import client_ip, throttle_key, trusted_proxy_set
from server.auth.secrets_util import audit_tag, sha256_hex
from server.http.errors import ApiError
from server.auth.policy import KeyActor, parse_scopes
from server.keys import API_KEY_THROTTLE, AUDIT_SECRET, CONFIG, DB
from server.storage.api_keys import live_key, mark_key_used
from server.storage import audit_events as audit
from server.storage.events import record_event

KEY_PREFIX = "vr_"
MAX_KEY_LENGTH = 100
LAST_USED_PRECISION = 60
"""Seconds: `last_used_at` is written at most this often per key."""


def new_api_key() -> tuple[str, str, str]:
    """A fresh key as (key shown once, display prefix, hash to store)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:10], sha256_hex(key)


async def require_api_key(request: web.Request) -> tuple[KeyActor, int | None]:
    """The API key this request carries, with its scopes, and when it was last marked used
    (for `mark_used`, once its scopes allow the request); 401 JSON when missing, unknown or
    revoked."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "Send an API key as 'Authorization: Bearer <key>'.")
    key = key.strip()
    throttle = request.app[API_KEY_THROTTLE]
    address = throttle_key(client_ip(request, trusted_proxy_set(
        request.app[CONFIG].trusted_proxies)))
    address_tag = audit_tag(request.app[AUDIT_SECRET], address)
    wait = throttle.reserve_address(address, time.time())
    if wait is not None:
        if throttle.first_refusal(address, time.time()):
            await _audit(request, audit.ApiKeyThrottled(address_tag=address_tag))
        raise ApiError(429, "too_many_attempts", "Too many requests with a wrong API key came "
                       f"from this address. Try again in {math.ceil(wait / 60)} minute(s).",
                       headers={"Retry-After": str(wait)})
    found, checked = None, False
    try:
        if key.startswith(KEY_PREFIX) and len(key) <= MAX_KEY_LENGTH:
            found = await live_key(request.app[DB], sha256_hex(key))
        checked = True
    finally:
        # A lookup the database could not answer (503) is no failure of the key.
        throttle.release_address(address, failed=checked and found is None, now=time.time())
    if found is None:
        # The key's text is never stored: a near miss of a real key is most of that key.
        await _audit(request, audit.ApiKeyFailed(address_tag=address_tag))
        raise ApiError(401, "unauthorized", "This API key is unknown or was revoked.")
    key_id, last_used_at, scopes = found
    return KeyActor(key_id, parse_scopes(scopes)), last_used_at


async def mark_used(request: web.Request, key_id: int, last_used_at: int | None) -> None:
    """Write the key's `last_used_at` for a request its scopes allowed (a refused one is
    audited instead: `api_key.refused`)."""
    now = int(time.time())
    # A write per request would serialise every API call on the database's one writer;
    # to the minute is precise enough to tell a live key from a forgotten one.
    if last_used_at is None or now - last_used_at >= LAST_USED_PRECISION:
        async with request.app[DB].transaction() as conn:
            await mark_key_used(conn, key_id, now)


async def _audit(request: web.Request, event: audit.AuditEvent) -> None:
    async with request.app[DB].transaction() as conn:
        await record_event(conn, event, actor="anonymous", now=int(time.time()))

