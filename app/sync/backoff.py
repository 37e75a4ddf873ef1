"""Exponential backoff with full jitter for reconnects and retries.

Full jitter (a uniform delay between 0 and the capped exponential) spreads reconnecting clients
apart after a relay restart instead of having them all knock at the same instant.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays of `uniform(0, min(cap, base * 2**attempt))`, never below `floor`."""

    def __init__(
        self,
        base: float = 0.2,
        cap: float = 10.0,
        floor: float = 0.05,
        rng: random.Random | None = None,
    ) -> None:
        self.base = base
        self.cap = cap
        self.floor = floor
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return max(self.floor, self._rng.uniform(0.0, ceiling))

    def reset(self) -> None:
        self.attempt = 0
