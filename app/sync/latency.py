"""A bounded recorder of latency samples with percentiles.

Used for "webhook to committed local state": the relay stamps `received_at` (wall clock) when a
webhook arrives, the engine stamps the commit, and the difference is one sample. The recorder
keeps the most recent samples only, so a long-running desktop does not grow without limit.

Why a numpy ring rather than a deque: the engine publishes p50 and p99 every half second on
the event loop, which is the UI thread. Copying and sorting 100,000 samples twice took tens of
milliseconds there, a dropped frame twice a second under a storm; one `np.partition` of the
ring for both ranks takes about a millisecond.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LatencyRecorder", "percentile"]


def _rank(q: float, n: int) -> int:
    """The 0-based index of the `q`-th percentile (0..100) of n sorted values, nearest rank."""
    return min(max(1, math.ceil(q / 100.0 * n)), n) - 1


def percentile(values: list[float], q: float) -> float | None:
    """The `q`-th percentile (0..100) by nearest rank; None for no samples."""
    if not values:
        return None
    return sorted(values)[_rank(q, len(values))]


class LatencyRecorder:
    """Latency samples in milliseconds (the last `capacity` of them)."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("a latency recorder holds at least one sample")
        self._ring = np.zeros(capacity, dtype=np.float64)
        self._next = 0  # where the next sample goes
        self._held = 0
        self.count = 0

    def add(self, milliseconds: float) -> None:
        self._ring[self._next] = max(0.0, milliseconds)
        self._next = (self._next + 1) % len(self._ring)
        self._held = min(self._held + 1, len(self._ring))
        self.count += 1

    def samples(self) -> list[float]:
        """The held samples, oldest first."""
        if self._held < len(self._ring):
            held: list[float] = self._ring[: self._held].tolist()
            return held
        ordered: list[float] = np.concatenate(
            (self._ring[self._next :], self._ring[: self._next])
        ).tolist()
        return ordered

    def percentiles(self, *qs: float) -> tuple[float | None, ...]:
        """The `q`-th percentiles (0..100) of the held samples, nearest rank, in one pass."""
        n = self._held
        if n == 0:
            return tuple(None for _ in qs)
        ranks = [_rank(q, n) for q in qs]
        ordered = np.partition(self._ring[:n], ranks)
        return tuple(float(ordered[rank]) for rank in ranks)

    def p(self, q: float) -> float | None:
        return self.percentiles(q)[0]

    def clear(self) -> None:
        self._next = 0
        self._held = 0
        self.count = 0
