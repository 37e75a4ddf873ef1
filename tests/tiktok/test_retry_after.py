"""`parse_retry_after`: finite, non-negative, capped seconds or nothing."""

from __future__ import annotations

import asyncio
import math
from email.utils import formatdate

import pytest

from app.tiktok.ratelimit import LimiterConfig, Priority, PriorityRateLimiter
from app.tiktok.retry_after import MAX_RETRY_AFTER, parse_retry_after

NOW = 1_790_000_000.0


def clock() -> float:
    return NOW


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("1.5", 1.5),
        (b"2", 2.0),
        (" 3 ", 3.0),
        ("86400", MAX_RETRY_AFTER),
        ("1e9", MAX_RETRY_AFTER),
        ("inf", None),
        ("-inf", None),
        ("Infinity", None),
        ("nan", None),
        ("-1", None),
        ("", None),
        ("soon", None),
        ("1" * 100, None),
        (formatdate(NOW + 30, usegmt=True), 30.0),
        (formatdate(NOW + 30, usegmt=False).replace("+0000", "-0000"), 30.0),
        (formatdate(NOW - 60, usegmt=True), 0.0),  # already past: go now
        (formatdate(NOW + 7 * 86_400, usegmt=True), MAX_RETRY_AFTER),
        ("Mon, 99 Foo 2026 00:00:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | bytes | None, expected: float | None) -> None:
    assert parse_retry_after(value, clock=clock) == expected


def test_cap_is_the_callers() -> None:
    assert parse_retry_after("10", cap=0.5) == 0.5
    assert parse_retry_after("0.2", cap=0.5) == 0.2


async def test_limiter_never_pauses_forever() -> None:
    """Defence in depth: even a caller passing `inf` straight in gets no endless pause."""
    limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=6000, burst=2))
    limiter.on_rate_limited("k", retry_after=math.inf)
    limiter.on_rate_limited("k", retry_after=math.nan)
    await asyncio.wait_for(limiter.acquire("k", Priority.HIGH), 5)
