"""Token buckets: the one refill rule for every rate limit in the project.

`TokenBucket` is one budget (level, rate, capacity, last refill). `Buckets` keeps one per key
for plain allow / refuse counts: the relay (per source address for ingest refusals and pairing,
per shop for `/v1/sign`) and the sandbox (TikTok's per app x shop QPS). The API client's
limiter (`app.tiktok.ratelimit`) builds its priority lanes, 429 slow-down and recovery on
`TokenBucket` too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Buckets", "TokenBucket"]


class TokenBucket:
    """`rate` tokens per second up to `capacity`; starts full."""

    __slots__ = ("capacity", "last", "level", "rate")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.last = now

    def refill(self, now: float, since: float | None = None) -> float:
        """Add what accrued from the last refill (or `since`, when later: a pause accrues
        nothing) to `now`; return the seconds that accrued."""
        start = self.last if since is None else max(self.last, since)
        accrued = max(now - start, 0.0)
        if accrued:
            self.level = min(self.capacity, self.level + self.rate * accrued)
        self.last = max(self.last, now)
        return accrued

    def shortfall(self, need: float = 1.0) -> float:
        """Seconds until the level reaches `need` at the current rate (0 when it has)."""
        return max(0.0, need - self.level) / self.rate if self.rate > 0 else 0.0


class Buckets:
    """`rate` tokens per second up to `burst`, per key; a rate of 0 or less never limits.

    Keys idle long enough to be full again are forgotten, so an attacker cycling source
    addresses cannot grow the table without bound beyond one sweep's worth.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        max_keys: int = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_keys = max_keys
        self._clock = clock
        self._state: dict[str, TokenBucket] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = self._clock() if now is None else now
        bucket = self._state.get(key)
        if bucket is None:
            if len(self._state) >= self.max_keys:
                self._sweep(now)
            bucket = self._state[key] = TokenBucket(self.rate, self.burst, now)
        bucket.refill(now)
        if bucket.level < 1.0:
            return False
        bucket.level -= 1.0
        return True

    def allow_all(self, keys: list[str], now: float | None = None) -> bool:
        """Take one token from each key, or from none when any of them is empty."""
        if self.rate <= 0:
            return True
        now = self._clock() if now is None else now
        if any(self.retry_after(key, now) > 0 for key in keys):
            return False
        return all([self.allow(key, now) for key in keys])

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` has a whole token again (0 when it has one now)."""
        if self.rate <= 0:
            return 0.0
        bucket = self._state.get(key)
        if bucket is None:
            return 0.0
        bucket.refill(self._clock() if now is None else now)
        return bucket.shortfall(1.0)

    def _sweep(self, now: float) -> None:
        refill = self.burst / self.rate
        self._state = {k: v for k, v in self._state.items() if now - v.last < refill}
        if len(self._state) >= self.max_keys:
            self._state.clear()
