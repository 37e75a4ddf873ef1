"""Token buckets keyed by a string (source IP for ingest and pairing, shop id for `/v1/sign`)."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Buckets", "Budget", "LocalBudget"]


class Buckets:
    """`rate` tokens per second up to `burst`, per key; a rate of 0 or less never limits.

    Keys idle long enough to be full again are forgotten, so an attacker cycling source
    addresses cannot grow the table without bound beyond one sweep's worth.
    """

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_keys = max_keys
        self._state: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            return False
        if len(self._state) >= self.max_keys and key not in self._state:
            self._sweep(now)
        self._state[key] = (tokens - 1.0, now)
        return True

    def allow_all(self, keys: list[str], now: float | None = None) -> bool:
        """Take one token from each key, or from none when any of them is empty."""
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        if any(self.retry_after(key, now) > 0 for key in keys):
            return False
        return all([self.allow(key, now) for key in keys])

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` has a whole token again (0 when it has one now)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        refill = self.burst / self.rate
        self._state = {k: v for k, v in self._state.items() if now - v[1] < refill}
        if len(self._state) >= self.max_keys:
            self._state.clear()


class Budget(Protocol):
    """A budget several keys draw on together (the `/v1/sign` budget per shop)."""

    async def take(self, keys: list[str]) -> float:
        """Take one from each key and return 0, or take none and return the seconds until
        every key has one again."""
        ...


class LocalBudget:
    """`Budget` in this process's memory: right for one relay process (SQLite)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.buckets = Buckets(rate, burst)

    async def take(self, keys: list[str]) -> float:
        if self.buckets.allow_all(keys):
            return 0.0
        return max(self.buckets.retry_after(key) for key in keys)
