"""Integrator API keys: `vr_` + 32 random bytes, sent as `Authorization: Bearer`."""

from __future__ import annotations

import secrets

from aiohttp import web

from server.auth.secrets_util import sha256_hex
from server.errors import ApiError
from server.storage.api_keys import live_key_id

KEY_PREFIX = "vr_"
MAX_KEY_LENGTH = 100


def new_api_key() -> tuple[str, str, str]:
    """A fresh key as (key shown once, display prefix, hash to store)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:10], sha256_hex(key)


async def require_api_key(request: web.Request) -> int:
    """The id of the API key this request carries; 401 JSON when missing, unknown or revoked."""
    from server.app import DB

    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "Send an API key as 'Authorization: Bearer <key>'.")
    key = key.strip()
    key_id = None
    if key.startswith(KEY_PREFIX) and len(key) <= MAX_KEY_LENGTH:
        key_id = await live_key_id(request.app[DB], sha256_hex(key))
    if key_id is None:
        raise ApiError(401, "unauthorized", "This API key is unknown or was revoked.")
    return key_id
