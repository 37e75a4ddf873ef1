"""In-process fault injection: 5xx answers, added latency, 429 bursts, webhook mishaps.

Faults draw from their own seeded random stream, never from the scenario's, so turning them on
does not change the simulated sales. Plain attributes: set them from a test at any time.
"""

from __future__ import annotations

import random
import threading
from typing import Any

__all__ = ["Faults"]

_RATES = (
    "error_rate",
    "latency",
    "webhook_drop_rate",
    "webhook_duplicate_rate",
    "webhook_reorder_rate",
)


class Faults:
    """`error_rate`: share of Open API calls answered 5xx (code 36009003); `latency`: seconds
    added to every Open API answer; `webhook_*_rate`: share of webhooks dropped, sent twice or
    held back to arrive after the next one; `burst_429(n)`: the next n calls get HTTP 429."""

    def __init__(self, seed: int = 1) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(f"viralstock-sandbox:{seed}:faults")
        self._burst = 0
        self.error_rate = 0.0
        self.latency = 0.0
        self.webhook_drop_rate = 0.0
        self.webhook_duplicate_rate = 0.0
        self.webhook_reorder_rate = 0.0

    def burst_429(self, n: int) -> None:
        with self._lock:
            self._burst += max(0, int(n))

    def take_429(self) -> bool:
        if not self._burst:
            return False
        with self._lock:
            if self._burst > 0:
                self._burst -= 1
                return True
            return False

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def reset(self) -> None:
        with self._lock:
            self._burst = 0
        for name in _RATES:
            setattr(self, name, 0.0)

    def as_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(self, name) for name in _RATES}
        values["pending_429"] = self._burst
        return values

    def update(self, values: dict[str, Any]) -> None:
        """Apply a JSON object of settings (the `POST /_sandbox/faults` body)."""
        for name in _RATES:
            if name in values:
                value = float(values[name])
                if value < 0:
                    raise ValueError(f"{name} must not be negative")
                setattr(self, name, value)
        if "burst_429" in values:
            self.burst_429(int(values["burst_429"]))
