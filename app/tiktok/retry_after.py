"""Read a server's `Retry-After` header into a bounded number of seconds, or nothing.

The header is the server's word, not ours to obey blindly: `Retry-After: inf` would make
`asyncio.sleep(inf)` hang a task forever, and `86400` would pause a shop's sync for a day. So
only a finite, non-negative number of seconds or an HTTP-date (RFC 9110 10.2.3) counts, and
the wait is capped; anything else (garbage, negative, NaN, infinite) is ignored, leaving the
caller to its own backoff. One helper for the Open API client and the relay signer alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["MAX_RETRY_AFTER", "parse_retry_after"]

MAX_RETRY_AFTER = 300.0  # seconds: longer than any real throttle window, short of a stall


def parse_retry_after(
    value: str | bytes | None,
    *,
    cap: float = MAX_RETRY_AFTER,
    clock: Callable[[], float] = time.time,
) -> float | None:
    """Seconds to wait per `value` (delta-seconds or HTTP-date), at most `cap`; None if unusable.

    A date in the past means "now" (0.0). `cap` itself must be finite and non-negative.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = value.strip()
    if not text or len(text) > 64:
        return None
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _from_http_date(text, clock)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, cap)


def _from_http_date(text: str, clock: Callable[[], float]) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # `-0000` ("zone unknown"): HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - clock())
