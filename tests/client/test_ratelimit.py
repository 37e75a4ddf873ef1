"""The priority token bucket: lanes, FIFO, the HIGH reserve, adaptation, cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.tiktok.ratelimit import LimiterConfig, Priority, PriorityRateLimiter

pytestmark = pytest.mark.timeout(20)

KEY = ("app", "shop")


async def test_burst_then_paced_at_configured_rate() -> None:
    limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=6000, burst=5))  # 100/s
    started = time.monotonic()
    for _ in range(4):  # burst minus the HIGH reserve (1 token) goes at once
        assert await limiter.acquire(KEY) == 0.0
    assert time.monotonic() - started < 0.02
    for _ in range(20):
        await limiter.acquire(KEY)
    elapsed = time.monotonic() - started
    assert 0.17 < elapsed < 2.0, elapsed  # 20 more tokens at 100/s, never faster


async def test_fifo_within_lane_and_priority_across_lanes() -> None:
    limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=3000, burst=2))
    # pause the budget (as a Retry-After would) so that everybody is queued before any grant
    limiter.on_rate_limited(KEY, retry_after=0.3)
    order: list[str] = []

    async def take(name: str, lane: Priority) -> None:
        await limiter.acquire(KEY, lane)
        order.append(name)

    tasks = [asyncio.create_task(take(f"low{i}", Priority.LOW)) for i in range(3)]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(take(f"normal{i}", Priority.NORMAL)) for i in range(2)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("high", Priority.HIGH)))
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["high", "normal0", "normal1", "low0", "low1", "low2"]


async def test_high_finds_reserved_token_while_low_is_saturated() -> None:
    # 600/min = 10/s: a token interval of 100 ms.
    limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=600, burst=3))
    stop = asyncio.Event()

    async def backfill() -> None:
        while not stop.is_set():
            await limiter.acquire(KEY, Priority.LOW)

    workers = [asyncio.create_task(backfill()) for _ in range(4)]
    await asyncio.sleep(0.35)
    try:
        for _ in range(3):
            queued = limiter.queue_depths(KEY)[Priority.LOW]
            assert queued >= 3
            granted = limiter.granted(KEY)
            waited = await limiter.acquire(KEY, Priority.HIGH)
            # Granted at once from the reserve, ahead of every queued LOW: no LOW token was
            # handed out first and none of the queued LOWs moved. (How long HIGH waits under
            # load is a figure: `python -m tests.benchmarks client`, "high wait".)
            assert waited == 0.0
            assert limiter.granted(KEY) == granted + 1
            assert limiter.queue_depths(KEY)[Priority.LOW] == queued
            await asyncio.sleep(0.25)  # the reserve refills (a LOW never takes it)
    finally:
        stop.set()
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def test_rate_limited_cuts_rate_pauses_and_recovers() -> None:
    config = LimiterConfig(requests_per_minute=6000, burst=2, recovery_seconds=0.5)
    limiter = PriorityRateLimiter(config)
    await limiter.acquire(KEY)
    limiter.on_rate_limited(KEY, retry_after=0.2)
    assert limiter.current_rate(KEY) == pytest.approx(50.0, rel=0.05)
    started = time.monotonic()
    await limiter.acquire(KEY, Priority.HIGH)
    assert time.monotonic() - started >= 0.2  # Retry-After honoured
    limiter.on_rate_limited(KEY)  # within the cooldown: no second cut
    assert limiter.current_rate(KEY) > 40.0
    await asyncio.sleep(0.6)
    assert limiter.current_rate(KEY) == pytest.approx(100.0)


async def test_cancelled_waiter_frees_its_place() -> None:
    limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=600, burst=2))
    await limiter.acquire(KEY)  # bucket now at the reserve: NORMAL must wait ~100 ms
    first = asyncio.create_task(limiter.acquire(KEY))
    second = asyncio.create_task(limiter.acquire(KEY))
    await asyncio.sleep(0.01)
    assert limiter.queue_depths(KEY)[Priority.NORMAL] == 2
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert limiter.queue_depths(KEY)[Priority.NORMAL] == 1
    await asyncio.wait_for(second, 2)
    assert limiter.granted(KEY) == 2  # the cancelled one consumed no token


async def test_budgets_are_per_app_and_shop() -> None:
    limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=60, burst=2))
    await limiter.acquire(("app", "a"))
    # shop a is at its reserve, shop b is untouched
    assert await asyncio.wait_for(limiter.acquire(("app", "b")), 0.05) == 0.0
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire(("app", "a")), 0.05)
    assert limiter.queue_depths() == {Priority.HIGH: 0, Priority.NORMAL: 0, Priority.LOW: 0}


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(list(Priority)), min_size=1, max_size=12))
def test_grants_follow_lane_then_arrival_order(lanes: list[Priority]) -> None:
    """Whatever the mix, queued requests are granted best lane first, FIFO within a lane."""

    async def scenario() -> list[int]:
        limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=60_000, burst=2))
        limiter.on_rate_limited(KEY, retry_after=0.15)  # everybody queues before any grant
        granted: list[int] = []

        async def take(index: int, lane: Priority) -> None:
            await limiter.acquire(KEY, lane)
            granted.append(index)

        await asyncio.wait_for(asyncio.gather(*(take(i, lane) for i, lane in enumerate(lanes))), 10)
        return granted

    expected = sorted(range(len(lanes)), key=lambda i: (lanes[i], i))
    assert asyncio.run(scenario()) == expected
