"""The simulated clock: `speed` simulated seconds per real second, pausable and steppable.

Tests pause it and `advance()` it to jump hours in milliseconds; the demo lets it run. Only the
scenario, token lifetimes and webhook retry delays follow this clock. Request timestamps are
checked against the wall clock, because clients sign with real time.
"""

from __future__ import annotations

import threading
import time

__all__ = ["SimClock"]


class SimClock:
    """Thread-safe simulated time in epoch seconds."""

    def __init__(self, start: float, speed: float) -> None:
        self._lock = threading.Lock()
        self._base_sim = float(start)
        self._base_real = time.monotonic()
        self._speed = float(speed)
        self._paused = False

    def now(self) -> float:
        with self._lock:
            if self._paused:
                return self._base_sim
            return self._base_sim + (time.monotonic() - self._base_real) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Freeze simulated time (it then moves only through `advance`)."""
        with self._lock:
            if not self._paused:
                real = time.monotonic()
                self._base_sim += (real - self._base_real) * self._speed
                self._base_real = real
                self._paused = True

    stop = pause

    def resume(self) -> None:
        with self._lock:
            if self._paused:
                self._base_real = time.monotonic()
                self._paused = False

    def set_speed(self, speed: float) -> None:
        with self._lock:
            real = time.monotonic()
            if not self._paused:
                self._base_sim += (real - self._base_real) * self._speed
            self._base_real = real
            self._speed = float(speed)

    def advance(self, seconds: float) -> float:
        """Jump simulated time forward (paused or not); returns the new simulated time."""
        if seconds < 0:
            raise ValueError("the simulated clock never runs backwards")
        with self._lock:
            self._base_sim += seconds
        return self.now()

    def real_delay(self, simulated_seconds: float) -> float:
        """Real seconds until `simulated_seconds` pass (infinite while paused or at speed 0)."""
        if self._paused or self._speed <= 0:
            return float("inf")
        return simulated_seconds / self._speed
