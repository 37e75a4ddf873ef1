"""Replaying a history to judge the forecast: how right was it when it first raised the alarm?

At the moment a SKU's alert first turns critical, compare the predicted stock-out time with the
actual one, next to the naive forecast "available / average hourly sales of the last 24 h".
The benchmark runs this on synthetic viral curves; the sync layer runs the same call on the
sandbox's viral scenario (history from the store, actual stock-out from the sandbox's truth):

    check = first_critical_check(history, sku_id, start=t0, end=t1, settings=settings)

Pure like the rest of insight: the replay recomputes insight at each step from the events up to
that moment only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.insight.history import IntArray, ShopHistory
from app.insight.shop import compute_columns
from app.insight.stockouts import HOUR
from app.insight.types import AlertLevel, InsightParams, SkuSettings


@dataclass(frozen=True, slots=True)
class StockoutCheck:
    """The forecast at the first critical alert against what happened (hours, epoch seconds).

    Errors are relative to the actual hours left: |predicted - actual| / actual.
    """

    sku_id: str
    critical_at: float
    available: int
    actual_stockout_at: float
    actual_hours: float
    predicted_hours: float
    predicted_low: float | None
    predicted_high: float | None
    error: float
    naive_hours: float | None
    naive_error: float | None


def first_stockout(history: ShopHistory, sku_id: str, after: float) -> float | None:
    """The first stock change at or after `after` that leaves the SKU with nothing available."""
    index = history.sku_ids.index(sku_id)
    mask = (history.stock_sku == index) & (history.stock_time >= after)
    mask &= history.stock_available <= 0
    return float(history.stock_time[mask].min()) if mask.any() else None


def naive_hours_left(history: ShopHistory, index: int, now: float, available: int) -> float | None:
    """available / (units sold in the last 24 h / 24): what a spreadsheet would say."""
    mask = (history.sale_sku == index) & (history.sale_time > now - 24 * HOUR)
    mask &= history.sale_time <= now
    per_hour = float(history.sale_units[mask].sum()) / 24.0
    return available / per_hour if per_hour > 0 else None


def _stock_timeline(one: ShopHistory) -> Callable[[float], IntArray]:
    """Available stock of a one-SKU history at any moment.

    From its stock changes when it has them; otherwise rebuilt from sales: the current stock
    plus every unit sold after the moment (no restocks assumed), which is what a store that
    keeps orders but not stock snapshots can still answer.
    """
    if len(one.stock_time):
        return one.stock_at
    times, units = one.sale_time, one.sale_units
    current = int(one.available[0])
    sold_after = np.concatenate((np.cumsum(units[::-1])[::-1], [0.0]))

    def at(when: float) -> IntArray:
        index = int(np.searchsorted(times, when, side="right"))
        return np.array([current + int(sold_after[index])], dtype=np.int64)

    return at


def first_critical_check(
    history: ShopHistory,
    sku_id: str,
    *,
    start: float,
    end: float,
    step_seconds: float = 300.0,
    settings: SkuSettings = SkuSettings(),  # noqa: B008 - frozen
    params: InsightParams = InsightParams(),  # noqa: B008
    actual_stockout_at: float | None = None,
) -> StockoutCheck | None:
    """Replay `sku_id` from `start` to `end` every `step_seconds`; None if it never turned
    critical before stocking out (or the stock-out is unknown).

    The available stock at each step comes from the history's stock changes (or, without any,
    from the current stock plus later sales). The actual stock-out defaults to the first stock
    change to zero after the alert; pass `actual_stockout_at` (e.g. the sandbox truth file's
    `stockout_at`) to use another source.
    """
    one = history.only([sku_id])
    stock_at = _stock_timeline(one)
    previous = AlertLevel.OK
    videos: dict[str, str] = {}
    for now in np.arange(start, end, step_seconds):
        t = float(now)
        available = stock_at(t)
        if available[0] <= 0:
            return None
        columns = compute_columns(
            one.with_available(available),
            t,
            settings={sku_id: settings},
            previous_levels={sku_id: previous},
            previous_videos=videos,
            params=params,
        )
        videos = columns.videos(one)
        severity = int(columns.severity[0])
        previous = (AlertLevel.OK, AlertLevel.WARNING, AlertLevel.CRITICAL)[severity]
        if previous is not AlertLevel.CRITICAL:
            continue
        actual_at = actual_stockout_at or first_stockout(one, sku_id, t)
        predicted = float(columns.forecast.hours_left[0])
        if actual_at is None or not math.isfinite(predicted):
            return None
        actual = (actual_at - t) / HOUR
        naive = naive_hours_left(one, 0, t, int(available[0]))

        def finite(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return StockoutCheck(
            sku_id=sku_id,
            critical_at=t,
            available=int(available[0]),
            actual_stockout_at=actual_at,
            actual_hours=actual,
            predicted_hours=predicted,
            predicted_low=finite(float(columns.forecast.hours_low[0])),
            predicted_high=finite(float(columns.forecast.hours_high[0])),
            error=abs(predicted - actual) / actual if actual > 0 else math.inf,
            naive_hours=naive,
            naive_error=None if naive is None or actual <= 0 else abs(naive - actual) / actual,
        )
    return None
