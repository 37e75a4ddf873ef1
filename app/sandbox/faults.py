"""In-process fault injection: 5xx answers, added latency, 429 bursts, garbled answers, webhook
mishaps.

Faults draw from their own seeded random stream, never from the scenario's, so turning them on
does not change the simulated sales. Plain attributes: set them from a test at any time.
"""

from __future__ import annotations

import random
import threading
from typing import Any

__all__ = ["JUNK", "Faults"]

_RATES = (
    "error_rate",
    "latency",
    "malformed_rate",
    "truncate_rate",
    "webhook_drop_rate",
    "webhook_duplicate_rate",
    "webhook_reorder_rate",
)
# What a captive portal or a broken middlebox answers instead of TikTok's JSON envelope.
JUNK = b"<html><body>502 Bad Gateway</body></html>"


class Faults:
    """`error_rate`: share of Open API calls answered 5xx (code 36009003); `latency`: seconds
    added to every Open API answer; `malformed_rate` / `truncate_rate`: share of Open API
    answers whose body is replaced with HTML junk / cut in half (status and headers kept);
    `webhook_*_rate`: share of webhooks dropped, sent twice or held back to arrive after the
    next one. Counted bursts hit the next n Open API calls: `burst_429(n)` answers HTTP 429
    (with a `Retry-After: <retry_after>` header when `retry_after` is set: any text, so a
    client can be fed `inf` or garbage), `burst_malformed(n)` / `burst_truncated(n)` garble
    the answer after the call was processed (a write then really happened)."""

    def __init__(self, seed: int = 1) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(f"viralstock-sandbox:{seed}:faults")
        self._burst = 0
        self._malformed = 0
        self._truncated = 0
        self.retry_after: str | None = None
        self.error_rate = 0.0
        self.latency = 0.0
        self.malformed_rate = 0.0
        self.truncate_rate = 0.0
        self.webhook_drop_rate = 0.0
        self.webhook_duplicate_rate = 0.0
        self.webhook_reorder_rate = 0.0

    def burst_429(self, n: int) -> None:
        with self._lock:
            self._burst += max(0, int(n))

    def burst_malformed(self, n: int) -> None:
        with self._lock:
            self._malformed += max(0, int(n))

    def burst_truncated(self, n: int) -> None:
        with self._lock:
            self._truncated += max(0, int(n))

    def take_429(self) -> bool:
        if not self._burst:
            return False
        with self._lock:
            if self._burst > 0:
                self._burst -= 1
                return True
            return False

    def retry_after_header(self) -> list[tuple[bytes, bytes]]:
        """The extra header of an injected 429: `Retry-After` when one is configured."""
        value = self.retry_after
        return [] if value is None else [(b"retry-after", value.encode("latin-1"))]

    def corrupt(self, payload: bytes) -> bytes | None:
        """The garbled body to send instead of `payload`, or None to send it unchanged."""
        if not (self._malformed or self._truncated or self.malformed_rate or self.truncate_rate):
            return None
        with self._lock:
            if self._malformed > 0:
                self._malformed -= 1
                return JUNK
            if self._truncated > 0:
                self._truncated -= 1
                return payload[: len(payload) // 2]
            if self.malformed_rate > 0 and self._rng.random() < self.malformed_rate:
                return JUNK
            if self.truncate_rate > 0 and self._rng.random() < self.truncate_rate:
                return payload[: len(payload) // 2]
        return None

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def reset(self) -> None:
        with self._lock:
            self._burst = self._malformed = self._truncated = 0
        self.retry_after = None
        for name in _RATES:
            setattr(self, name, 0.0)

    def as_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(self, name) for name in _RATES}
        values["pending_429"] = self._burst
        values["pending_malformed"] = self._malformed
        values["pending_truncated"] = self._truncated
        values["retry_after"] = self.retry_after
        return values

    def update(self, values: dict[str, Any]) -> None:
        """Apply a JSON object of settings (the `POST /_sandbox/faults` body)."""
        for name in _RATES:
            if name in values:
                value = float(values[name])
                if value < 0:
                    raise ValueError(f"{name} must not be negative")
                setattr(self, name, value)
        if "retry_after" in values:
            raw = values["retry_after"]
            text = None if raw is None else str(raw)
            if text is not None and (not text.isprintable() or not text.isascii()):
                raise ValueError("retry_after must be printable ASCII (one header value)")
            self.retry_after = text
        if "burst_429" in values:
            self.burst_429(int(values["burst_429"]))
        if "burst_malformed" in values:
            self.burst_malformed(int(values["burst_malformed"]))
        if "burst_truncated" in values:
            self.burst_truncated(int(values["burst_truncated"]))
