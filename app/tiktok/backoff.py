"""Exponential backoff, the one rule every retry and reconnect uses.

`delay(n)` is `min(cap, base * 2**n)` for the n-th retry (0 for the first), with full jitter by
default: a uniform delay between 0 and that. Full jitter spreads clients apart after an outage
(a relay restart, TikTok's 429s) instead of having them all knock at the same instant; without
jitter (`jitter=False`) it is the plain doubling a lone scheduler wants. The random source and
the sleep are injected so tests are seeded and need not wait on the wall clock.

It lives with the protocol package because the API client, the token exchange, the sync engine,
the relay consumer and the relay itself (which may import only `app/tiktok`) all use it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

__all__ = ["Backoff"]

Sleep = Callable[[float], Awaitable[None]]


class Backoff:
    """Delays of `uniform(0, min(cap, base * 2**attempt))` (or the ceiling itself without
    jitter), never below `floor`. `next_delay()` counts attempts; `delay(n)` does not."""

    def __init__(
        self,
        base: float = 0.2,
        cap: float = 10.0,
        floor: float = 0.0,
        *,
        jitter: bool = True,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base = base
        self.cap = cap
        self.floor = floor
        self.jitter = jitter
        self.attempt = 0
        self._rng = rng or random.Random()  # jitter only, not security
        self._sleep = sleep

    def delay(self, attempt: int) -> float:
        """The delay before retry number `attempt` (0-based)."""
        ceiling = min(self.cap, self.base * 2 ** min(attempt, 60))
        value = self._rng.uniform(0.0, ceiling) if self.jitter else ceiling
        return max(self.floor, value)

    def next_delay(self) -> float:
        """The delay before the next retry; each call counts one more attempt."""
        value = self.delay(self.attempt)
        self.attempt = min(self.attempt + 1, 60)
        return value

    async def wait(self, attempt: int) -> None:
        """Sleep `delay(attempt)` on the injected sleep."""
        await self._sleep(self.delay(attempt))

    def reset(self) -> None:
        self.attempt = 0
