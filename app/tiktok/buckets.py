"""Keyed token buckets: the one refill rule for every per-key limit that is a plain count.

Used by the relay (per source address for ingest refusals and pairing, per shop for
`/v1/sign`) and by the sandbox (TikTok's per app x shop QPS). The API client's limiter
(`app.tiktok.ratelimit`) keeps its own bucket: it queues callers in priority lanes, slows down
after a 429 and recovers, which a plain allow / refuse count does not do.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Buckets"]


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
        self._state: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = self._clock() if now is None else now
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
        now = self._clock() if now is None else now
        if any(self.retry_after(key, now) > 0 for key in keys):
            return False
        return all([self.allow(key, now) for key in keys])

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` has a whole token again (0 when it has one now)."""
        if self.rate <= 0:
            return 0.0
        now = self._clock() if now is None else now
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        refill = self.burst / self.rate
        self._state = {k: v for k, v in self._state.items() if now - v[1] < refill}
        if len(self._state) >= self.max_keys:
            self._state.clear()
