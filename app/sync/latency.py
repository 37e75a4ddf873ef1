"""A bounded recorder of latency samples with percentiles.

Used for "webhook to committed local state": the relay stamps `received_at` (wall clock) when a
webhook arrives, the engine stamps the commit, and the difference is one sample. The recorder
keeps the most recent samples only, so a long-running desktop does not grow without limit.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["LatencyRecorder", "percentile"]


def percentile(values: list[float], q: float) -> float | None:
    """The `q`-th percentile (0..100) by nearest rank; None for no samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class LatencyRecorder:
    """Latency samples in milliseconds (the last `capacity` of them)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._samples: deque[float] = deque(maxlen=capacity)
        self.count = 0

    def add(self, milliseconds: float) -> None:
        self._samples.append(max(0.0, milliseconds))
        self.count += 1

    def samples(self) -> list[float]:
        return list(self._samples)

    def p(self, q: float) -> float | None:
        return percentile(list(self._samples), q)

    def clear(self) -> None:
        self._samples.clear()
        self.count = 0
