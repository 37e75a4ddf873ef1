"""When each SKU was out of stock, and how much of any time span that covers.

Demand is not observed while the shelf is empty: a SKU that sold 40 units in the hour before it
ran out and then sat empty for five hours sold 40/hour, not 40/6. Every rate in insight divides
by in-stock time, which these helpers measure, all SKUs at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.insight.history import FloatArray, IntArray, ShopHistory

HOUR = 3600.0


@dataclass(frozen=True, eq=False)
class OutOfStock:
    """Out-of-stock intervals [start, end) in epoch seconds, clipped to [since, now]."""

    sku: IntArray
    start: FloatArray
    end: FloatArray
    count: int  # number of SKUs (the length of per-SKU results)


def out_of_stock_intervals(history: ShopHistory, now: float) -> OutOfStock:
    """Intervals where the stock-change step function is <= 0, up to `now`.

    A point's value holds until the SKU's next point (or `now`). Before a SKU's first point it
    is assumed in stock.
    """
    mask = history.stock_time <= now
    sku, time = history.stock_sku[mask], history.stock_time[mask]
    units = history.stock_available[mask]
    order = np.lexsort((time, sku))
    sku, time, units = sku[order], time[order], units[order]
    end = np.full(len(time), now, dtype=np.float64)
    same = sku[1:] == sku[:-1]
    end[:-1] = np.where(same, time[1:], now)
    empty = units <= 0
    start = np.clip(time[empty], history.since, now)
    stop = np.clip(end[empty], history.since, now)
    keep = stop > start
    return OutOfStock(
        sku=sku[empty][keep], start=start[keep], end=stop[keep], count=len(history.skus)
    )


def out_of_stock_seconds(oos: OutOfStock, lo: float, hi: float) -> FloatArray:
    """Per SKU, seconds of [lo, hi] spent out of stock."""
    overlap = np.minimum(oos.end, hi) - np.maximum(oos.start, lo)
    return np.bincount(oos.sku, weights=np.maximum(overlap, 0.0), minlength=oos.count)


def out_of_stock_before(oos: OutOfStock, edges: FloatArray) -> tuple[IntArray, FloatArray]:
    """(skus, matrix [their row, edge]): seconds out of stock before each edge (cumulative),
    for the SKUs out of stock at some point between the first and last edge only (the others
    have no out-of-stock time there, and differences between edges are all that matter)."""
    reach = (oos.end > edges[0]) & (oos.start < edges[-1])
    sku, start, end = oos.sku[reach], oos.start[reach], oos.end[reach]
    if len(sku) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(edges)))
    order = np.argsort(sku, kind="stable")
    sku, start, end = sku[order], start[order], end[order]
    covered = np.clip(edges[None, :] - start[:, None], 0.0, (end - start)[:, None])
    first = np.flatnonzero(np.concatenate(([True], sku[1:] != sku[:-1])))
    return sku[first], np.add.reduceat(covered, first, axis=0)


def out_of_stock_decayed(oos: OutOfStock, now: float, tau_seconds: float) -> FloatArray:
    """Per SKU, the integral of exp(-(now - t) / tau) over out-of-stock time, in seconds."""
    weight = np.exp(-(now - oos.end) / tau_seconds) - np.exp(-(now - oos.start) / tau_seconds)
    return np.bincount(oos.sku, weights=tau_seconds * weight, minlength=oos.count)
