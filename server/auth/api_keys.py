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
from server.keys import API_KEY_THROTTLE, AUDIT_SECRET, CONFIG, DB
from server.storage.api_keys import live_key, mark_key_used
from server.storage.events import record_event

KEY_PREFIX = "vr_"
MAX_KEY_LENGTH = 100
LAST_USED_PRECISION = 60
"""Seconds: `last_used_at` is written at most this often per key."""


def new_api_key() -> tuple[str, str, str]:
    """A fresh key as (key shown once, display prefix, hash to store)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:10], sha256_hex(key)


async def require_api_key(request: web.Request) -> int:
    """The id of the API key this request carries; 401 JSON when missing, unknown or revoked."""
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
            await _audit(request, "api_key.throttled", address_tag)
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
        await _audit(request, "api_key.failed", address_tag)
        raise ApiError(401, "unauthorized", "This API key is unknown or was revoked.")
    key_id, last_used_at = found
    now = int(time.time())
    # A write per request would serialise every API call on the database's one writer;
    # to the minute is precise enough to tell a live key from a forgotten one.
    if last_used_at is None or now - last_used_at >= LAST_USED_PRECISION:
        async with request.app[DB].transaction() as conn:
            await mark_key_used(conn, key_id, now)
    return key_id


async def _audit(request: web.Request, action: str, address_tag: str) -> None:
    async with request.app[DB].transaction() as conn:
        await record_event(conn, actor="anonymous", action=action, now=int(time.time()),
                           detail={"address_tag": address_tag})
