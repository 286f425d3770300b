"""Password hashing with argon2id, in a small thread pool off the event loop.

One argon2id hash costs a few hundred milliseconds of CPU. Run on the event loop, a burst
of logins would stall every call's signaling; argon2 releases the GIL while it hashes, so a
bounded pool of threads keeps the loop free while the CPU works.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import lru_cache
from typing import Any, Callable, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.runtime.helper_threads import helper_executor

_hasher = PasswordHasher()
T = TypeVar("T")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
QUEUE_PER_THREAD = 8
"""Hashes that may wait per pool thread before new ones are refused (PoolBusy)."""


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # A hash of a random password, checked when the account does not exist so that a login
    # for an unknown email costs the same time as one for a known email. Made on first use
    # (in a pool thread), not at import, to keep start-up fast.
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of the password (blocking: use `PasswordPool.hash` in a request)."""
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; False for a missing account, in constant-ish time.

    Blocking: use `PasswordPool.check` in a request.
    """
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PoolBusy(Exception):
    """More hashes are waiting than the pool accepts; the caller answers 'try again'."""


class PasswordPool:
    """A bounded pool of threads that hash and check passwords for the event loop."""

    def __init__(self, threads: int) -> None:
        self._executor = helper_executor(max(1, threads), "argon2")
        self._limit = max(1, threads) * QUEUE_PER_THREAD
        self._pending = 0

    @property
    def pending(self) -> int:
        """Hashes running or waiting now."""
        return self._pending

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        if self._pending >= self._limit:
            raise PoolBusy()
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._pending -= 1

    async def check(self, password_hash: str | None, password: str) -> bool:
        """`check_password` in a pool thread; raises PoolBusy when the queue is full."""
        return await self._run(check_password, password_hash, password)

    async def hash(self, password: str) -> str:
        """`hash_password` in a pool thread; raises PoolBusy when the queue is full."""
        return await self._run(hash_password, password)

    def close(self) -> None:
        """Finish the hashes under way and stop the threads."""
        self._executor.shutdown(wait=True, cancel_futures=True)


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    return None


def generate_password() -> str:
    """A random password for a new account."""
    return secrets.token_urlsafe(15)
