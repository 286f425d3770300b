"""Login throttling: per client address first, then the whole server, then (last resort) per account.

An attempt is reserved before its password is hashed, and a reservation is taken in one
step on the event loop (or in one SQL statement for accounts), so a burst of concurrent
attempts can never check more passwords than the limit allows.

- Address: an address with `address_failures` failed or pending attempts within the window
  waits until the oldest failure leaves it. Only that address waits; a clinic's staff
  elsewhere still sign in.
- Global: a token bucket of `global_per_minute` attempts bounds the hashing work a flood
  from many addresses can cause.

Accounts, and emails without one, are counted in the shared database
(`server/storage/users.py`, `server/storage/login_unknown.py`), the same way for both.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

MAX_TRACKED = 10_000
"""Addresses remembered at most; the oldest are forgotten first."""


@dataclass
class _Address:
    failures: deque[float] = field(default_factory=deque)
    pending: int = 0
    refused_since: float = 0.0


def _retry(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class LoginThrottle:
    """In-memory login counters of one server process."""

    def __init__(self, *, address_failures: int, window_seconds: int,
                 global_per_minute: int) -> None:
        self.address_failures = address_failures
        self.window = window_seconds
        self.global_per_minute = global_per_minute
        self._addresses: dict[str, _Address] = {}
        self._tokens = float(global_per_minute)
        self._filled_at: float | None = None
        self._global_refused_since = 0.0

    def _address(self, key: str, now: float) -> _Address:
        entry = self._addresses.get(key)
        if entry is None:
            if len(self._addresses) >= MAX_TRACKED:
                self._forget_addresses(now)
            entry = self._addresses[key] = _Address()
        while entry.failures and entry.failures[0] <= now - self.window:
            entry.failures.popleft()
        return entry

    def _forget_addresses(self, now: float) -> None:
        for key in [k for k, e in self._addresses.items()
                    if not e.pending and (not e.failures or e.failures[-1] <= now - self.window)]:
            del self._addresses[key]
        while len(self._addresses) >= MAX_TRACKED:
            del self._addresses[next(iter(self._addresses))]

    def reserve_address(self, key: str, now: float) -> int | None:
        """Reserve an attempt for this address; seconds to wait when it may not try now."""
        entry = self._address(key, now)
        if len(entry.failures) + entry.pending >= self.address_failures:
            oldest = entry.failures[0] if entry.failures else now
            # Only attempts still being checked fill the limit: they end within seconds.
            return _retry(oldest + self.window - now) if entry.failures else 5
        entry.pending += 1
        return None

    def release_address(self, key: str, *, failed: bool, now: float) -> None:
        """End a reserved attempt; a failure counts against the address for the window."""
        entry = self._address(key, now)
        entry.pending = max(0, entry.pending - 1)
        if failed:
            entry.failures.append(now)

    def first_refusal(self, key: str, now: float) -> bool:
        """Whether this refusal is the address's first in the window (audited once, not each time)."""
        entry = self._address(key, now)
        if entry.refused_since > now - self.window:
            return False
        entry.refused_since = now
        return True

    def take_global(self, now: float) -> int | None:
        """Take one attempt from the server-wide bucket; seconds to wait when it is empty."""
        rate = self.global_per_minute / 60.0
        if self._filled_at is not None:
            self._tokens = min(float(self.global_per_minute),
                               self._tokens + (now - self._filled_at) * rate)
        self._filled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return _retry((1.0 - self._tokens) / rate) if rate > 0 else 60

    def first_global_refusal(self, now: float) -> bool:
        """Whether this is the first global refusal this minute (audited once a minute)."""
        if self._global_refused_since > now - 60:
            return False
        self._global_refused_since = now
        return True
