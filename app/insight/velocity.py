"""Sales velocity: units per in-stock hour over trailing windows, and a fast weighted rate.

The windowed rates answer "how fast does this usually sell"; the exponentially weighted rate
answers "how fast is it selling right now" and follows a viral spike within minutes, because
each sale's weight decays with a half-hour time constant instead of being averaged over a day.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from app.insight.history import FloatArray, ShopHistory
from app.insight.stockouts import (
    HOUR,
    OutOfStock,
    out_of_stock_decayed,
    out_of_stock_seconds,
)
from app.insight.types import InsightParams, Velocity

WINDOWS_HOURS = (1.0, 6.0, 24.0, 168.0)
DAY = 24 * HOUR

# Below this much in-stock time a window says nothing about demand.
_MIN_IN_STOCK_SECONDS = 60.0


@dataclass(frozen=True, eq=False)
class VelocityColumns:
    """Velocities of every SKU (arrays indexed like `ShopHistory.skus`), units per hour."""

    per_hour_1h: FloatArray
    per_hour_6h: FloatArray
    per_hour_24h: FloatArray
    per_hour_7d: FloatArray
    ewma_per_hour: FloatArray
    in_stock_hours_7d: FloatArray
    units_7d: FloatArray
    revenue_7d: FloatArray
    # The median of the last 7 whole days on which the SKU sold, per hour: a surge of a day or
    # two does not move it, so it is the rate the SKU comes back to. Days without a sale do not
    # count: a SKU launched three days ago, or back after a stock-out, is not "usually" at 0.
    usual_per_hour: FloatArray

    def item(self, i: int) -> Velocity:
        return Velocity(
            per_hour_1h=float(self.per_hour_1h[i]),
            per_hour_6h=float(self.per_hour_6h[i]),
            per_hour_24h=float(self.per_hour_24h[i]),
            per_hour_7d=float(self.per_hour_7d[i]),
            ewma_per_hour=float(self.ewma_per_hour[i]),
            in_stock_hours_7d=float(self.in_stock_hours_7d[i]),
        )


def compute_velocities(
    history: ShopHistory, now: float, oos: OutOfStock, params: InsightParams
) -> VelocityColumns:
    """Velocities at `now` for all SKUs; sales after `now` or before `since` are ignored."""
    n = len(history.skus)
    # Only the longest window's sales matter; cutting them out first makes the rest cheap.
    oldest = max(now - WINDOWS_HOURS[-1] * HOUR, history.since)
    # A sale exactly at `since` belongs to the history.
    window = history.sales_between(max(oldest, np.nextafter(history.since, -np.inf)), now)
    sku, time = history.sale_sku[window], history.sale_time[window]
    units, revenue = history.sale_units[window], history.sale_revenue[window]

    rates: list[FloatArray] = []
    in_stock_7d = np.zeros(n)
    units_7d = np.zeros(n)
    revenue_7d = np.zeros(n)
    # Longest window first, so a window with no in-stock time can fall back to the longer one.
    fallback = np.zeros(n)
    for hours in reversed(WINDOWS_HOURS):
        lo = max(now - hours * HOUR, history.since)
        inside = slice(int(np.searchsorted(time, lo, side="right")), len(time))
        sold = np.bincount(sku[inside], weights=units[inside], minlength=n)
        in_stock = max(now - lo, 0.0) - out_of_stock_seconds(oos, lo, now)
        observed = in_stock >= _MIN_IN_STOCK_SECONDS
        rate = np.where(observed, sold / np.maximum(in_stock, 1.0) * HOUR, fallback)
        if hours == WINDOWS_HOURS[-1]:
            in_stock_7d = np.maximum(in_stock, 0.0) / HOUR
            units_7d = sold
            revenue_7d = np.bincount(sku[inside], weights=revenue[inside], minlength=n)
        rates.append(rate)
        fallback = rate
    per_7d, per_24h, per_6h, per_1h = rates

    tau = params.ewma_tau_hours * HOUR
    # Older than 40 time constants weighs less than 1e-17: leave it out.
    recent = slice(int(np.searchsorted(time, now - 40.0 * tau, side="right")), len(time))
    weights = units[recent] * np.exp(-(now - time[recent]) / tau)
    decayed_sales = np.bincount(sku[recent], weights=weights, minlength=n)
    decayed_time = tau * (1.0 - np.exp(-(now - history.since) / tau))
    decayed_in_stock = decayed_time - out_of_stock_decayed(oos, now, tau)
    enough = decayed_in_stock >= _MIN_IN_STOCK_SECONDS
    ewma = np.where(enough, decayed_sales / np.maximum(decayed_in_stock, 1.0) * HOUR, per_1h)
    days = int(min(WINDOWS_HOURS[-1] * HOUR, now - history.since) // DAY)
    if days >= 1:
        age = ((now - time) // DAY).astype(np.int64)
        inside_days = (age >= 0) & (age < days)
        daily = np.bincount(
            sku[inside_days] * days + age[inside_days],
            weights=units[inside_days],
            minlength=n * days,
        ).reshape(n, days)
        selling = np.where(daily > 0, daily, np.nan)
        with warnings.catch_warnings():  # a SKU without a sale: all-nan, its usual is 0
            warnings.simplefilter("ignore", RuntimeWarning)
            usual = np.nan_to_num(np.nanmedian(selling, axis=1), nan=0.0) / 24.0
    else:
        usual = per_7d
    return VelocityColumns(
        per_hour_1h=per_1h,
        per_hour_6h=per_6h,
        per_hour_24h=per_24h,
        per_hour_7d=per_7d,
        ewma_per_hour=np.maximum(ewma, 0.0),
        in_stock_hours_7d=in_stock_7d,
        units_7d=units_7d,
        revenue_7d=revenue_7d,
        usual_per_hour=usual,
    )
