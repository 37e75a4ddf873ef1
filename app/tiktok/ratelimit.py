"""A priority token bucket per app x shop (DESIGN.md section 2, tiktok-shop-api.md 5.2).

TikTok isolates rate limits per app x shop and publishes no number, so the client keeps its own
budget (default 1,000 requests/minute) and spends it in priority order:

- three lanes: HIGH (viral / real-time work), NORMAL (sync), LOW (backfill); a waiting request
  of a higher lane is always served before any lower one, and first come first served within a
  lane;
- a reserve for HIGH: NORMAL and LOW may never draw the bucket below `reserve` tokens (10% of
  the burst, at least one token). While a backfill saturates the budget the bucket therefore
  idles at the reserve, and a HIGH request finds a token waiting instead of queueing behind it.
  The reserve is work-conserving: with no HIGH traffic the backfill still gets the whole rate
  (it just runs `reserve` tokens "behind"), so reserving costs no throughput;
- adaptation: a 429 cuts the rate (multiplicatively, at most once per `cut_cooldown`), empties
  the bucket, and pauses it for the server's `Retry-After`; the rate then climbs back linearly
  to the configured value over `recovery_seconds`;
- cancellation safety: a cancelled waiter leaves its lane at once, and one cancelled in the
  instant after it was granted a token gives the token back.

Pure asyncio, no threads; one limiter per event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from app.tiktok.buckets import TokenBucket

__all__ = ["LimiterConfig", "Priority", "PriorityRateLimiter"]

_EPS = 1e-9


class Priority(enum.IntEnum):
    """Lanes, best first. HIGH: viral/real-time; NORMAL: sync; LOW: backfill."""

    HIGH = 0
    NORMAL = 1
    LOW = 2


@dataclass(frozen=True, slots=True)
class LimiterConfig:
    """Budget per app x shop. `burst` defaults to one second of budget (at least 2 tokens)."""

    requests_per_minute: float = 1000.0
    burst: float | None = None
    high_reserve: float = 0.10
    decrease_factor: float = 0.5
    min_rate_fraction: float = 0.05
    recovery_seconds: float = 30.0
    cut_cooldown: float = 1.0

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.requests_per_minute / 60.0

    @property
    def capacity(self) -> float:
        if self.burst is not None:
            return max(1.0, self.burst)
        return max(2.0, self.rate)

    @property
    def reserve(self) -> float:
        return max(1.0, self.high_reserve * self.capacity) if self.high_reserve > 0 else 0.0


class _Bucket(TokenBucket):
    """One budget's tokens (`TokenBucket`), its three lanes of waiting callers, a pause after
    Retry-After and a rate that, cut after a 429, recovers to the configured one."""

    __slots__ = (
        "config",
        "granted",
        "lanes",
        "last_cut",
        "paused_until",
        "rate_limited",
        "reserve",
        "timer",
    )

    def __init__(self, config: LimiterConfig, now: float) -> None:
        super().__init__(config.rate, max(config.capacity, config.reserve + 1.0), now)
        self.config = config
        self.reserve = config.reserve
        self.paused_until = 0.0
        self.last_cut = -1e18
        self.lanes: tuple[deque[asyncio.Future[None]], ...] = tuple(deque() for _ in Priority)
        self.timer: asyncio.TimerHandle | None = None
        self.granted = 0
        self.rate_limited = 0

    def refill(self, now: float, since: float | None = None) -> float:
        """Nothing accrues while paused; the rate climbs back while tokens accrue."""
        accrued = super().refill(now, self.paused_until if since is None else since)
        full = self.config.rate
        if accrued and self.rate < full:
            step = full * accrued / max(self.config.recovery_seconds, _EPS)
            self.rate = min(full, self.rate + step)
        return accrued

    def need(self, lane: int) -> float:
        return 1.0 if lane == Priority.HIGH else 1.0 + self.reserve


class PriorityRateLimiter:
    """Token buckets keyed by (app_key, shop_id), each with three FIFO priority lanes."""

    def __init__(
        self,
        config: LimiterConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or LimiterConfig()
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}

    # --- public API -----------------------------------------------------------------------

    async def acquire(self, key: Hashable, priority: Priority = Priority.NORMAL) -> float:
        """Wait for a token of `key`'s budget in `priority`'s lane; return the seconds waited."""
        started = self._clock()
        bucket = self._bucket(key)
        lane = int(priority)
        # Fast path: nobody queued at this lane or above, and a token is there.
        if not any(bucket.lanes[i] for i in range(lane + 1)):
            bucket.refill(started)
            if started >= bucket.paused_until and bucket.level >= bucket.need(lane) - _EPS:
                bucket.level -= 1.0
                bucket.granted += 1
                return 0.0
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        bucket.lanes[lane].append(future)
        self._dispatch(bucket)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # Granted, then cancelled before we could use it: the token goes back.
                bucket.level = min(bucket.capacity, bucket.level + 1.0)
                bucket.granted -= 1
            else:
                future.cancel()
                with contextlib.suppress(ValueError):
                    bucket.lanes[lane].remove(future)
            self._dispatch(bucket)
            raise
        return self._clock() - started

    def on_rate_limited(self, key: Hashable, retry_after: float | None = None) -> None:
        """The server said 429: cut this budget's rate, empty it, honour Retry-After."""
        bucket = self._bucket(key)
        now = self._clock()
        bucket.refill(now)
        bucket.rate_limited += 1
        if now - bucket.last_cut >= self.config.cut_cooldown:
            floor = self.config.rate * self.config.min_rate_fraction
            bucket.rate = max(floor, bucket.rate * self.config.decrease_factor)
            bucket.last_cut = now
        bucket.level = min(bucket.level, 0.0)
        if retry_after is not None and 0 < retry_after < math.inf:  # never an endless pause
            bucket.paused_until = max(bucket.paused_until, now + retry_after)
        self._dispatch(bucket)

    def queue_depths(self, key: Hashable | None = None) -> dict[Priority, int]:
        """Requests waiting per lane, for one budget or summed over all of them."""
        buckets = [self._buckets[key]] if key in self._buckets else []
        if key is None:
            buckets = list(self._buckets.values())
        return {p: sum(len(b.lanes[p]) for b in buckets) for p in Priority}

    def current_rate(self, key: Hashable) -> float:
        """The adapted rate of `key`'s budget, in requests per second."""
        bucket = self._bucket(key)
        bucket.refill(self._clock())
        return bucket.rate

    def configured_rate(self) -> float:
        """Requests per second per budget, as configured (before adaptation)."""
        return self.config.rate

    def granted(self, key: Hashable | None = None) -> int:
        """Tokens handed out so far (one budget, or all)."""
        if key is None:
            return sum(b.granted for b in self._buckets.values())
        return self._buckets[key].granted if key in self._buckets else 0

    def keys(self) -> list[Hashable]:
        return list(self._buckets)

    # --- internals ------------------------------------------------------------------------

    def _bucket(self, key: Hashable) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.config, self._clock())
        return bucket

    def _dispatch(self, bucket: _Bucket) -> None:
        if bucket.timer is not None:
            bucket.timer.cancel()
            bucket.timer = None
        now = self._clock()
        bucket.refill(now)
        while True:
            head: asyncio.Future[None] | None = None
            lane = 0
            for lane, queue in enumerate(bucket.lanes):  # noqa: B007 - lane used below
                while queue and queue[0].done():
                    queue.popleft()
                if queue:
                    head = queue[0]
                    break
            if head is None:
                return
            need = bucket.need(lane)
            if now < bucket.paused_until or bucket.level < need - _EPS:
                wait = max(0.0, bucket.paused_until - now) + bucket.shortfall(need)
                loop = asyncio.get_running_loop()
                bucket.timer = loop.call_later(max(wait, 0.0), self._dispatch, bucket)
                return
            bucket.lanes[lane].popleft()
            bucket.level -= 1.0
            bucket.granted += 1
            head.set_result(None)
