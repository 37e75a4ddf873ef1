"""The words on the alert card: context ("viral video driving orders"), the one-line headline
("viral video 'Dance' driving orders · selling 47/hour, 6 h of stock · reorder 500") and the
reorder explanation. Plain functions of plain values, so the result types can build their text
on demand (most of 10,000 SKUs' sentences are never read)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from app.insight import fmt
from app.insight.reorder import SURGE_HOURS

if TYPE_CHECKING:
    from app.insight.types import Attribution


OUT_OF_STOCK = "out of stock"


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
        return OUT_OF_STOCK
    if not has_forecast:
        return "no recent sales"
    return "sales accelerating" if rising else "steady sales"


def selling(*, available: int, rate: float, hours: float | None) -> str:
    """'selling 37/hour': today's rate. When the forecast expects the pace to change before
    the shelf is empty (a surge still rising), 'expecting ~31/hour': the average pace it expects
    until then. Either way the rate shown times the hours shown is the stock on hand, which
    "75 in stock · selling 12/hour · 45 min left" was not."""
    if hours is not None and hours > 0 and available > 0 and rate > 0:
        pace = available / hours
        if abs(pace - rate) > 0.25 * rate:
            return f"expecting ~{fmt.rate(pace)}"
    return f"selling {fmt.rate(rate)}"


def headline(
    *,
    context_text: str,
    rate: float,
    hours: float | None,
    reorder: int,
    available: int = 0,
    band: tuple[float, float] | None = None,
) -> str:
    """One line; the rate and the hours are the forecast's own, in `fmt`'s words. At a steady
    rate, rate x hours is the stock (the rate is the day's average when sales follow a daily
    cycle), and while a surge rises it is the pace expected until stock-out (`selling`).
    `band` (low, high hours) is added in words ("4-7 h") when given: pass it only when
    it is narrow enough to mean something (`Forecast.band_is_narrow`)."""
    if hours is None:
        stock = "no sales to forecast from"
    elif hours <= 0:
        # Say what the empty shelf costs; "out of stock" twice when the context already says it.
        was = f"was selling {fmt.rate(rate)}" if rate > 0 else "no recent sales"
        stock = was if context_text == OUT_OF_STOCK else f"{OUT_OF_STOCK}, {was}"
    else:
        pace = selling(available=available, rate=rate, hours=hours)
        stock = f"{pace}, {fmt.hours(hours)} of stock"
        if band is not None:
            stock += f" ({fmt.band(*band)})"
    action = f"reorder {fmt.units(reorder)}" if reorder > 0 else "no reorder needed"
    return f"{context_text} · {stock} · {action}"


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
    after_surge_per_hour: float | None = None,
) -> str:
    """The sum as a sentence, e.g. for the suggestion card's tooltip."""
    if not has_forecast:
        head = "No sales in the last 7 days, so no demand is forecast"
    else:
        how = (
            f"selling {fmt.rate(rate_per_hour)} now"
            if after_surge_per_hour is None
            else f"{fmt.duration(SURGE_HOURS)} at today's {fmt.rate(rate_per_hour)}, then the "
            f"usual {fmt.rate(after_surge_per_hour)}: a surge's buyers do not stay for weeks"
        )
        head = (
            f"Forecast demand over the {fmt.duration(lead_time_hours)} lead time plus "
            f"{fmt.duration(days_of_cover * 24)} of cover is {fmt.count(demand_units, 'unit')} "
            f"({how}), plus {fmt.count(safety_units, 'unit')} of safety stock"
        )
    stock = f"{fmt.units(max(available, 0))} available and {fmt.units(max(incoming, 0))} incoming"
    if quantity <= 0:
        return f"{head}; {stock} cover it, so no reorder is needed."
    shortfall = math.ceil(
        round(demand_units + safety_units - max(available, 0) - max(incoming, 0), 9)
    )
    packs = f", rounded up to packs of {fmt.units(pack_size)}" if pack_size > 1 else ""
    return (
        f"{head}; minus {stock} leaves {fmt.count(shortfall, 'unit')} short{packs}: "
        f"reorder {fmt.units(quantity)}."
    )
