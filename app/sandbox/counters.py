"""Thread-safe counters, served live at `/_sandbox/stats` and written into the truth file."""

from __future__ import annotations

import threading

__all__ = ["COUNTER_NAMES", "Counters"]

COUNTER_NAMES = (
    "requests",
    "rate_limited",
    "bad_signatures",
    "errors_injected",
    "garbled_injected",
    "webhooks_sent",
    "webhooks_delivered",
    "webhooks_retried",
    "webhooks_dropped",
    "webhooks_failed",
)


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(COUNTER_NAMES, 0)

    def inc(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] = self._values.get(name, 0) + amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)
