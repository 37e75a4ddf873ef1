"""The injected clock: where the sync engine reads "now".

A real shop runs on the wall clock; the demo runs on the sandbox's simulated clock, which moves
`speed` times faster than real time and stops at the end of a run. Everything in `app.sync` that
needs the shop's notion of time (sync windows, "last 30 days", insight's `now`) asks a `Clock`,
never `time.time()`, so the same engine is correct in both worlds. Latency figures are the one
exception: they measure real elapsed time and use `time.time()` / `time.perf_counter()` directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FunctionClock", "WallClock"]


@runtime_checkable
class Clock(Protocol):
    """Epoch seconds (UTC) in the shop's time."""

    def now(self) -> float: ...


class WallClock:
    """The real clock, for real shops."""

    def now(self) -> float:
        return time.time()


class FunctionClock:
    """Any `() -> float` as a clock, e.g. the sandbox's `SimClock.now`."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now())
