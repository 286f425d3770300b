"""Token buckets: the rate limits of sockets (the flood limit), demos, chat and the waiting
room's questions; and a bounded table of them, one a key."""

from __future__ import annotations

from collections.abc import Hashable


class TokenBucket:
    """Allows `burst` messages at once and `rate` per second after that."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, now

    def take(self, now: float) -> bool:
        """Spend one token at `now` (a monotonic clock); False when the bucket is empty."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class BucketTable:
    """One `TokenBucket` a key (a seat, a visit and participant), at most `max_entries`:
    buckets left alone long enough to be full again are forgotten first (forgetting them
    changes nothing); a table still full then refuses new keys."""

    def __init__(self, rate: float, burst: float, max_entries: int) -> None:
        self.rate, self.burst, self.max_entries = rate, burst, max_entries
        self._buckets: dict[Hashable, TokenBucket] = {}

    def take(self, key: Hashable, now: float) -> bool:
        """Spend one of this key's tokens at `now` (monotonic); False when none is left."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_entries:
                full = self.burst / self.rate
                for old in [k for k, b in self._buckets.items() if now - b.stamp > full]:
                    del self._buckets[old]
                if len(self._buckets) >= self.max_entries:
                    return False
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)

    def clear(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()
