"""Random identifiers and hashes of secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of a string (used to store session ids and API keys)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_id(prefix: str = "", nbytes: int = 12) -> str:
    """An unguessable URL-safe identifier."""
    return prefix + secrets.token_urlsafe(nbytes)


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def audit_tag(secret: str, value: str) -> str:
    """A short keyed tag of a value for the audit log: equal values give equal tags, and
    without the server's secret the tag says nothing about the value (not even for a
    guessable one, such as a password typed into the email field)."""
    return hmac.new(secret.encode("ascii"), value.encode("utf-8"), "sha256").hexdigest()[:16]
