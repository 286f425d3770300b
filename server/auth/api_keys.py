"""Integrator API keys: `vr_` + 32 random bytes, sent as `Authorization: Bearer`."""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from server.auth.secrets_util import sha256_hex
from server.errors import ApiError
from server.keys import DB
from server.storage.api_keys import live_key, mark_key_used

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
    found = None
    if key.startswith(KEY_PREFIX) and len(key) <= MAX_KEY_LENGTH:
        found = await live_key(request.app[DB], sha256_hex(key))
    if found is None:
        raise ApiError(401, "unauthorized", "This API key is unknown or was revoked.")
    key_id, last_used_at = found
    now = int(time.time())
    # A write per request would serialise every API call on the database's one writer;
    # to the minute is precise enough to tell a live key from a forgotten one.
    if last_used_at is None or now - last_used_at >= LAST_USED_PRECISION:
        async with request.app[DB].transaction() as conn:
            await mark_key_used(conn, key_id, now)
    return key_id
