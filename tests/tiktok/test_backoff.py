"""The one backoff: seeded, so each figure here is the same on every run."""

from __future__ import annotations

import random

from app.tiktok.backoff import Backoff


def test_full_jitter_grows_is_capped_and_resets() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(20)]
    ceilings = [min(1.0, 0.1 * 2**n) for n in range(20)]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[8:]) > 0.2  # the ceiling grew
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_the_same_seed_gives_the_same_delays_and_a_floor_holds() -> None:
    first = Backoff(base=0.5, cap=30.0, floor=0.05, rng=random.Random(7))
    again = Backoff(base=0.5, cap=30.0, floor=0.05, rng=random.Random(7))
    assert [first.delay(n) for n in range(8)] == [again.delay(n) for n in range(8)]
    assert min(first.delay(0) for _ in range(200)) >= 0.05


def test_without_jitter_it_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=30.0, cap=300.0, jitter=False)
    assert [backoff.delay(n) for n in range(6)] == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    assert backoff.delay(10_000) == 300.0  # no overflow however long the failures go on


async def test_wait_sleeps_on_the_injected_sleep() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    backoff = Backoff(base=1.0, cap=8.0, jitter=False, sleep=sleep)
    for n in range(5):
        await backoff.wait(n)
    assert slept == [1.0, 2.0, 4.0, 8.0, 8.0]
