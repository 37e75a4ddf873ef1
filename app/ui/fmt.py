"""Plain-words formatting shared by every card (Qt-free, so it is easy to test)."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal

DASH = "—"


def money(value: Decimal | float | None, symbol: str = "$") -> str:
    """$1,234 for large sums, $12.50 for small ones."""
    if value is None:
        return DASH
    amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if abs(amount) >= 1000:
        return f"{symbol}{amount.quantize(Decimal(1), ROUND_HALF_UP):,}"
    return f"{symbol}{amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def hours(value: float | None) -> str:
    """Hours of stock in words a seller reads at a glance: 45 min, 6 h, 3.5 days, 2+ months."""
    if value is None:
        return "N/A"
    if value <= 0:
        return "out of stock"
    if value < 1:
        return f"{max(1, round(value * 60))} min"
    if value < 48:
        return f"{value:.0f} h" if value >= 10 else f"{value:.1f} h".replace(".0 h", " h")
    days = value / 24
    if days < 60:
        return f"{days:.0f} days" if days >= 10 else f"{days:.1f} days"
    return "2+ months"


def rate(per_hour: float) -> str:
    """47/hour, 3.2/hour, 5/day for slow movers."""
    if per_hour <= 0:
        return "no recent sales"
    if per_hour >= 10:
        return f"{per_hour:.0f}/hour"
    if per_hour >= 1:
        return f"{per_hour:.1f}/hour"
    per_day = per_hour * 24
    return f"{per_day:.1f}/day" if per_day < 10 else f"{per_day:.0f}/day"


def ago(then: float | None, now: float | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', 'never'."""
    if then is None:
        return "never"
    delta = (time.time() if now is None else now) - then
    if delta < 45:
        return "just now"
    if delta < 3600:
        return f"{round(delta / 60)} min ago"
    if delta < 48 * 3600:
        return f"{round(delta / 3600)} h ago"
    return f"{round(delta / 86400)} days ago"


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


def percent(value: float | None, digits: int = 0) -> str:
    """0.873 -> '87%'."""
    if value is None:
        return DASH
    return f"{value * 100:.{digits}f}%"


def millis(value: float | None) -> str:
    """Latency: '180 ms', '1.4 s'."""
    if value is None:
        return DASH
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms"


def units(value: float) -> str:
    """Whole units with thousands separators."""
    return f"{round(value):,}"
