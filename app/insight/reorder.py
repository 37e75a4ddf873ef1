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
