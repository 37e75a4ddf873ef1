"""Every number a seller reads, in one set of words: the window, the tray, the exported CSV's
explanation column and the headless report all format through here, so "6 h" on a card and
"6 h" in a notification can never be two rules (they were: the headline had its own).

Pure (no Qt), so insight's own sentences use it too and it is trivial to test."""

from __future__ import annotations

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


def _one_decimal(value: float) -> str:
    """3.5, 3 (never 3.0): a trailing zero reads as false precision."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def hours(value: float | None) -> str:
    """Hours of stock in words a seller reads at a glance: 45 min, 6 h, 3.5 days, 2+ months."""
    if value is None:
        return "N/A"
    if value <= 0:
        return "out of stock"
    return duration(value)


def duration(value: float) -> str:
    """A positive span of hours in words: 45 min, 1.5 h, 18 h, 1 day, 3.5 days, 2+ months."""
    if value < 1:
        return f"{max(1, round(value * 60))} min"
    if value < 48:
        return f"{value:.0f} h" if value >= 10 else f"{_one_decimal(value)} h"
    days = value / 24
    if days >= 60:
        return "2+ months"
    shown = f"{days:.0f}" if days >= 10 else _one_decimal(days)
    return f"{shown} day" if shown == "1" else f"{shown} days"


def band(low: float, high: float) -> str:
    """A span of hours with the unit said once where both ends share it: 4.2-7 h, 20-45 min,
    3-5 days; otherwise each end in its own words (45 min-2 h)."""
    a, b = duration(low), duration(high)
    unit_a, unit_b = a.rsplit(" ", 1)[-1], b.rsplit(" ", 1)[-1]
    if unit_a == unit_b or (unit_a, unit_b) == ("day", "days"):
        return f"{a.rsplit(' ', 1)[0]}\u2013{b}"
    return f"{a}\u2013{b}"


def rate(per_hour: float) -> str:
    """47/hour, 3.2/hour, 5/day for slow movers."""
    if per_hour <= 0:
        return "no recent sales"
    if per_hour >= 10:
        return f"{per_hour:,.0f}/hour"
    if per_hour >= 1:
        return f"{_one_decimal(per_hour)}/hour"
    per_day = per_hour * 24
    return f"{_one_decimal(per_day)}/day" if per_day < 10 else f"{per_day:.0f}/day"


def ago(then: float | None, now: float) -> str:
    """'just now', '5 min ago', '3 h ago', 'never'."""
    if then is None:
        return "never"
    delta = now - then
    if delta < 45:
        return "just now"
    if delta < 3600:
        return f"{round(delta / 60)} min ago"
    if delta < 48 * 3600:
        return f"{round(delta / 3600)} h ago"
    return f"{round(delta / 86400)} days ago"


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
    """Whole units with thousands separators (a bare number, for a column or a tile)."""
    return f"{round(value):,}"


def count(value: float, noun: str, plural: str | None = None) -> str:
    """'1 unit', '2 units', '1,250 units': the number rounded as shown decides the plural."""
    shown = round(value)
    word = noun if shown == 1 else (plural or f"{noun}s")
    return f"{shown:,} {word}"
