"""Per app x shop token buckets in real time, as TikTok isolates its QPS quota."""

from __future__ import annotations

import threading

from app.tiktok.buckets import Buckets

__all__ = ["RateLimiter"]


class RateLimiter:
    """Allows `qps` requests per second per key with a burst of one second's worth (the
    relay's refill rule, `app.tiktok.buckets`; the lock because the sandbox serves from
    several threads)."""

    def __init__(self, qps: float) -> None:
        self.qps = qps
        self._lock = threading.Lock()
        self._buckets = Buckets(qps, max(1.0, qps))

    def allow(self, app_key: str, scope: str) -> bool:
        with self._lock:
            return self._buckets.allow(f"{app_key}\x00{scope}")
