"""Reorder suggestions: how much to order now, and the plain-language sum behind it.

quantity = forecast demand over (lead time + days of cover) + safety stock - available -
incoming, rounded up to the pack size (never negative). Safety stock is `safety_days` of the
current rate. Every suggestion carries its explanation, because a seller will not order 500
units on a number they cannot check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.insight.history import FloatArray, IntArray
from app.insight.types import ReorderSuggestion


@dataclass(frozen=True, eq=False)
class ReorderColumns:
    quantity: IntArray
    demand_units: FloatArray
    safety_units: FloatArray
    shortfall: IntArray


def reorder_quantities(
    demand_units: FloatArray,
    safety_units: FloatArray,
    available: IntArray,
    incoming: IntArray,
    pack_size: IntArray,
) -> ReorderColumns:
    """Vectorized: the smallest multiple of the pack size that covers the shortfall."""
    need = demand_units + safety_units - np.maximum(available, 0) - np.maximum(incoming, 0)
    # Round to 1e-9 first so 12.000000001 units of float noise do not become 13.
    shortfall = np.maximum(np.ceil(np.round(need, 9)), 0).astype(np.int64)
    pack = np.maximum(pack_size, 1)
    quantity = -(-shortfall // pack) * pack
    return ReorderColumns(
        quantity=quantity, demand_units=demand_units, safety_units=safety_units, shortfall=shortfall
    )


def _hours(value: float) -> str:
    if value >= 48 and value % 24 == 0:
        return f"{value / 24:g} d"
    return f"{value:g} h"


def explain(
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
    shortfall = demand_units + safety_units - max(available, 0) - max(incoming, 0)
    packs = f", rounded up to packs of {pack_size:,}" if pack_size > 1 else ""
    return (
        f"{head}; minus {stock} leaves {shortfall:,.0f} units short{packs}: reorder {quantity:,}."
    )


def suggestion(
    columns: ReorderColumns,
    i: int,
    *,
    available: int,
    incoming: int,
    pack_size: int,
    lead_time_hours: float,
    days_of_cover: float,
    rate_per_hour: float,
    has_forecast: bool,
) -> ReorderSuggestion:
    quantity = int(columns.quantity[i])
    demand = float(columns.demand_units[i])
    safety = float(columns.safety_units[i])
    return ReorderSuggestion(
        quantity=quantity,
        demand_units=demand,
        safety_units=safety,
        available=available,
        incoming=incoming,
        pack_size=pack_size,
        lead_time_hours=lead_time_hours,
        days_of_cover=days_of_cover,
        explanation=explain(
            quantity=quantity,
            demand_units=demand,
            safety_units=safety,
            available=available,
            incoming=incoming,
            pack_size=pack_size,
            lead_time_hours=lead_time_hours,
            days_of_cover=days_of_cover,
            rate_per_hour=rate_per_hour,
            has_forecast=has_forecast,
        ),
    )
