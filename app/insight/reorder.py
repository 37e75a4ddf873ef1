"""Reorder suggestions: how much to order now, and the plain-language sum behind it.

quantity = forecast demand over (lead time + days of cover) + safety stock - available -
incoming, rounded up to the pack size (never negative). Safety stock is `safety_days` of the
current rate. Every suggestion carries its explanation, because a seller will not order 500
units on a number they cannot check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # text.py (via types) imports SURGE_HOURS from here: no cycle at run time
    from app.insight.history import FloatArray, IntArray

# Demand over the lead time and cover (the reorder, the revenue at risk) of a surging SKU is
# at most SURGE_HOURS at today's rate, then its usual rate (`VelocityColumns.usual_per_hour`),
# and its safety stock is the usual rate's. A SKU surges when it sells at over SURGE_RATIO
# times that rate.
#
# Why: the forecast's curves are made for the hours left, and a surge's curve held for the
# reorder's three weeks said "reorder 640,742" where 859 units would sell (a log-normal surge
# an hour in, app defaults: 7 days' lead time and 14 of cover). A viral video's buyers come
# for a day or two. Ordering a day of today's rate can fall short of a surge still growing,
# and the suggestion grows with it; an order a hundred times too big cannot be undone.
SURGE_HOURS = 24.0
SURGE_RATIO = 2.0


@dataclass(frozen=True, eq=False)
class ReorderColumns:
    quantity: IntArray
    demand_units: FloatArray
    safety_units: FloatArray
    shortfall: IntArray
    # Per SKU, the usual rate the demand returns to after a surge's day (nan: not bounded).
    after_surge_per_hour: FloatArray


def reorder_quantities(
    demand_units: FloatArray,
    safety_units: FloatArray,
    available: IntArray,
    incoming: IntArray,
    pack_size: IntArray,
    after_surge_per_hour: FloatArray | None = None,
) -> ReorderColumns:
    """Vectorized: the smallest multiple of the pack size that covers the shortfall."""
    need = demand_units + safety_units - np.maximum(available, 0) - np.maximum(incoming, 0)
    # Round to 1e-9 first so 12.000000001 units of float noise do not become 13.
    shortfall = np.maximum(np.ceil(np.round(need, 9)), 0).astype(np.int64)
    pack = np.maximum(pack_size, 1)
    quantity = -(-shortfall // pack) * pack
    after = np.full(len(quantity), np.nan) if after_surge_per_hour is None else after_surge_per_hour
    return ReorderColumns(
        quantity=quantity,
        demand_units=demand_units,
        safety_units=safety_units,
        shortfall=shortfall,
        after_surge_per_hour=after,
    )
