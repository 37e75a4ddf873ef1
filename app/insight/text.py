"""The words on the alert card: context ("viral video driving orders"), the one-line headline
("viral video 'Dance' driving orders · selling 47/hour, 6 h of stock · reorder 500") and the
reorder explanation. Plain functions of plain values, so the result types can build their text
on demand (most of 10,000 SKUs' sentences are never read)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.insight.types import Attribution


def video_label(attribution: Attribution) -> str:
    return f"'{attribution.title}'" if attribution.title else attribution.video_id


def context(
    *,
    attribution: Attribution | None,
    available: int,
    has_forecast: bool,
    rising: bool,
) -> str:
    if attribution is not None:
        return f"viral video {video_label(attribution)} driving orders"
    if available <= 0:
        return "out of stock"
    if not has_forecast:
        return "no recent sales"
    return "sales accelerating" if rising else "steady sales"


def rate_text(per_hour: float) -> str:
    if per_hour >= 10:
        return f"{per_hour:,.0f}/hour"
    if per_hour >= 1:
        return f"{per_hour:.1f}/hour"
    return f"{per_hour * 24:.1f}/day"


def hours_text(hours: float | None) -> str:
    if hours is None:
        return "N/A"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 72:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


# A band is put in words only when its ends are at most this many times apart: "2-40 h" tells
# the seller nothing the point forecast does not.
NARROW_BAND = 2.5


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 9.95 else f"{value:.1f}".removesuffix(".0")


def band_text(low: float | None, high: float | None) -> str | None:
    """The band as words ("4-7 h", "20-45 min", "3-5 days"), or None when it is too wide to
    mean something (or open-ended)."""
    if low is None or high is None or low <= 0 or high > NARROW_BAND * low:
        return None
    if high < 1:
        return f"{low * 60:.0f}\u2013{high * 60:.0f} min"
    if high < 72:
        return f"{_number(low)}\u2013{_number(high)} h"
    return f"{_number(low / 24)}\u2013{_number(high / 24)} days"


def headline(
    *,
    context_text: str,
    rate: float,
    hours: float | None,
    reorder: int,
    low: float | None = None,
    high: float | None = None,
) -> str:
    """The rate, hours and reorder come from one forecast: at a steady rate, rate x hours is the
    stock on hand (the rate is the day's average when sales follow a daily cycle)."""
    if hours is None:
        stock = "no sales to forecast from"
    else:
        stock = f"selling {rate_text(rate)}, {hours_text(hours)} of stock"
        band = band_text(low, high)
        if band is not None and hours > 0:
            stock += f" ({band})"
    action = f"reorder {reorder:,}" if reorder > 0 else "no reorder needed"
    return f"{context_text} · {stock} · {action}"


def _hours(value: float) -> str:
    if value >= 48 and value % 24 == 0:
        return f"{value / 24:g} d"
    return f"{value:g} h"


def explain_reorder(
    *,
    quantity: int,
    demand_units: float,
    safety_units: float,
    available: int,
    incoming: int,
    pack_size: int,
    lead_time_hours: float,
    days_of_cover: float,
    rate_per_hour: float,
    has_forecast: bool,
) -> str:
    """The sum as a sentence, e.g. for the suggestion card's tooltip."""
    if not has_forecast:
        head = "No sales in the last 7 days, so no demand is forecast"
    else:
        head = (
            f"Forecast demand over the {_hours(lead_time_hours)} lead time plus "
            f"{days_of_cover:g} days of cover is {demand_units:,.0f} units "
            f"(selling {rate_per_hour:,.1f}/hour now), plus {safety_units:,.0f} units of "
            f"safety stock"
        )
    stock = f"{max(available, 0):,} available and {max(incoming, 0):,} incoming"
    if quantity <= 0:
        return f"{head}; {stock} cover it, so no reorder is needed."
    shortfall = math.ceil(
        round(demand_units + safety_units - max(available, 0) - max(incoming, 0), 9)
    )
    packs = f", rounded up to packs of {pack_size:,}" if pack_size > 1 else ""
    return (
        f"{head}; minus {stock} leaves {shortfall:,.0f} units short{packs}: reorder {quantity:,}."
    )
