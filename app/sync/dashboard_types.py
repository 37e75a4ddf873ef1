"""The plain types of what the dashboard reads beyond the sync snapshot (#15).

They live apart from `dashboard_data` (which reads them from the store) so that the window
can be built, shown and painted before SQLAlchemy, the store and the sync engine are imported:
the UI's view model needs these types, not the queries. `dashboard_data` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

__all__ = ["OrderHours", "SkuSalesWindow", "StockSeries", "VideoSummary"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StockSeries:
    """Available stock of one SKU over time (a step function), as float64 arrays."""

    sku_id: str
    times: FloatArray
    stock: FloatArray

    @staticmethod
    def from_points(sku_id: str, points: list[tuple[float, float]]) -> StockSeries:
        """Build from (time, available) pairs."""
        arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return StockSeries(sku_id, arr[:, 0].copy(), arr[:, 1].copy())


@dataclass(frozen=True, slots=True, eq=False)
class OrderHours:
    """Orders and revenue per hour over the last year (hours without sales left out), from
    the store's hourly totals: the orders chart's 7 / 30 / 365-day ranges."""

    hour_starts: FloatArray
    orders: FloatArray
    revenue: FloatArray


@dataclass(frozen=True, slots=True)
class VideoSummary:
    """One video with its sales and the SKUs it sells."""

    video_id: str
    title: str
    views: int
    orders: int
    revenue: Decimal
    linked_skus: tuple[str, ...] = ()
    took_off_at: float | None = None  # when its view growth turned viral; None if it has not


@dataclass(frozen=True, slots=True)
class SkuSalesWindow:
    """Units and revenue of one SKU over Seller Center's 7 / 14 / 30-day windows."""

    sku_id: str
    name: str
    units_7d: int
    units_14d: int
    units_30d: int
    revenue_30d: Decimal = Decimal(0)
