"""Client health figures the UI shows (DESIGN.md section 4, "Sync performance").

Everything is computed over a sliding window (default 60 s) so the numbers describe *now*, not
the whole session: a burst of errors an hour ago should not still colour the dashboard.

Two rates are deliberately different:
- `error_rate` is per HTTP attempt: how often TikTok (or the network) failed us, retries included;
- `success_rate` is per call: how often a caller finally got its answer, after retries.
A healthy client under a flaky network shows a non-zero error rate and a success rate of 1.0.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from app.tiktok.ratelimit import Priority, PriorityRateLimiter

__all__ = ["ClientMetrics", "MetricsSnapshot"]


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    window_seconds: float
    attempts: int
    calls: int
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    error_rate: float
    success_rate: float
    rate_limited: int
    budget_utilisation: float
    queue_depth: dict[str, int] = field(default_factory=dict)


class ClientMetrics:
    """Sliding-window counters fed by the client; `snapshot()` is cheap enough to poll at 1 Hz."""

    def __init__(
        self,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_samples: int = 100_000,
    ) -> None:
        self.window = window_seconds
        self._clock = clock
        self._started = clock()
        # (time, latency seconds, ok, was_429) per attempt; (time, ok) per call.
        self._attempts: deque[tuple[float, float, bool, bool]] = deque(maxlen=max_samples)
        self._calls: deque[tuple[float, bool]] = deque(maxlen=max_samples)

    def record_attempt(self, latency: float, *, ok: bool, rate_limited: bool = False) -> None:
        self._attempts.append((self._clock(), latency, ok, rate_limited))

    def record_call(self, *, ok: bool) -> None:
        self._calls.append((self._clock(), ok))

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        while self._attempts and self._attempts[0][0] < horizon:
            self._attempts.popleft()
        while self._calls and self._calls[0][0] < horizon:
            self._calls.popleft()

    def snapshot(self, limiter: PriorityRateLimiter | None = None) -> MetricsSnapshot:
        """The figures over the last `window_seconds` (or since start, if shorter)."""
        now = self._clock()
        self._trim(now)
        latencies = sorted(sample[1] for sample in self._attempts)
        attempts = len(self._attempts)
        errors = sum(1 for sample in self._attempts if not sample[2])
        limited = sum(1 for sample in self._attempts if sample[3])
        calls = len(self._calls)
        successes = sum(1 for sample in self._calls if sample[1])
        avg = p95 = None
        if latencies:
            avg = 1000.0 * sum(latencies) / len(latencies)
            p95 = 1000.0 * latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)]
        utilisation = 0.0
        depth: dict[str, int] = {p.name.lower(): 0 for p in Priority}
        if limiter is not None:
            span = max(min(self.window, now - self._started), 1e-6)
            budgets = max(1, len(limiter.keys()))
            utilisation = attempts / (limiter.configured_rate() * span * budgets)
            depth = {p.name.lower(): n for p, n in limiter.queue_depths().items()}
        return MetricsSnapshot(
            window_seconds=self.window,
            attempts=attempts,
            calls=calls,
            avg_latency_ms=avg,
            p95_latency_ms=p95,
            error_rate=errors / attempts if attempts else 0.0,
            success_rate=successes / calls if calls else 1.0,
            rate_limited=limited,
            budget_utilisation=utilisation,
            queue_depth=depth,
        )
