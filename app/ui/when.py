"""Moments in the seller's local time ("14:05", "05 Jan 14:05"), for the window and its log.

Kept apart from `app.insight.fmt` (amounts, rates, durations), which must stay free of clocks
and time zones so insight can use it."""

from __future__ import annotations

import time

from app.insight.fmt import DASH, ago


def clock(epoch: float | None) -> str:
    """Local time of day, with the date when it is not today."""
    if epoch is None:
        return DASH
    local = time.localtime(epoch)
    today = time.localtime()
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    return time.strftime("%d %b %H:%M", local)


def timestamp(epoch: float) -> str:
    """Local date and time to the second, for logs."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def saved_note(computed_at: float, now: float) -> str:
    """What the window says while it shows the dashboard the last session saved: when those
    figures were computed, and that the live ones are on their way."""
    return f"figures of {clock(computed_at)} ({ago(computed_at, now)}), updating…"
