"""Per app x shop token buckets in real time, as TikTok isolates its QPS quota."""

from __future__ import annotations

import threading
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """Allows `qps` requests per second per key with a burst of one second's worth."""

    def __init__(self, qps: float) -> None:
        self.qps = qps
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def allow(self, app_key: str, scope: str) -> bool:
        if self.qps <= 0:
            return True
        now = time.monotonic()
        key = (app_key, scope)
        capacity = max(1.0, self.qps)
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * self.qps)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True
