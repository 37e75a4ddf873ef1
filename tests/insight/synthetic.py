"""Synthetic shop histories with known answers, shared by the tests and the benchmark.

The viral curve: a video's cumulative views follow a logistic S-curve, and the linked SKU sells
at its baseline rate plus a constant number of units per view gained, until it sells out. Sales
are Poisson, simulated minute by minute from a seeded generator, so every run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from app.insight.history import ShopHistory
from app.insight.types import Sale, SkuState, StockPoint, VideoInfo, ViewPoint

HOUR = 3600.0
DAY = 24 * HOUR
# A fixed, round epoch (2026-01-01T00:00:00Z) so failures are easy to read.
EPOCH = 1_767_225_600.0


@dataclass(frozen=True)
class ViralCase:
    history: ShopHistory
    sku_id: str
    video_id: str
    start: float  # the history starts here
    surge_at: float  # the video's inflection point
    stockout_at: float  # when the last unit sold (inf if never)
    end: float  # the history ends here


def viral_case(
    seed: int,
    *,
    baseline: float | None = None,
    peak_extra: float | None = None,
    stock_at_surge: float | None = None,
    view_interval: float = 600.0,
    explicit_share: float = 0.0,
    days_before: float = 7.0,
) -> ViralCase:
    """One SKU with steady sales for `days_before` days, then a video going viral.

    Parameters left as None are drawn from the seed: baseline 1-3/hour, a surge peaking at
    30-60 extra units/hour over a 1.5-3 hour logistic scale, and 30-70% of the surge's extra
    units (at least 4 days of the baseline) in stock when it starts: days of stock at the baseline,
    hours in the surge.
    """
    rng = np.random.default_rng(seed)
    base = baseline if baseline is not None else float(rng.uniform(1.0, 3.0))
    extra = peak_extra if peak_extra is not None else float(rng.uniform(30.0, 60.0))
    scale = float(rng.uniform(1.5, 3.0)) * HOUR
    total_views = float(rng.uniform(1e6, 3e6))
    surge_units = extra * 4 * scale / HOUR
    left_at_surge = (
        stock_at_surge
        if stock_at_surge is not None
        else max(4 * 24 * base, float(rng.uniform(0.3, 0.7)) * surge_units)
    )
    start = EPOCH
    surge_at = start + days_before * DAY
    end = surge_at + 2 * DAY
    # Units per view so that the peak view rate (K / 4s per second) gives `extra` per hour.
    per_view = extra / (total_views / (4 * scale) * HOUR)

    def views(t: np.ndarray) -> np.ndarray:
        return total_views / (1.0 + np.exp(-(t - surge_at) / scale)) + 20.0 * (t - start) / HOUR

    minutes = np.arange(start, end, 60.0)
    season = 1.0 + 0.3 * np.sin(2 * np.pi * (minutes - start) / DAY)
    rate = base * season + per_view * (views(minutes + 60.0) - views(minutes)) * 60.0
    counts = rng.poisson(rate / 60.0)
    stock = int(base * days_before * 24 + left_at_surge)
    sku = SkuState("sku-1", "prod-1", "Viral gadget", available=stock, unit_price=Decimal("19.90"))
    sales: list[Sale] = []
    points = [StockPoint(start, sku.sku_id, stock)]
    stockout_at = float("inf")
    for minute, count in zip(minutes, counts, strict=True):
        if count == 0 or stock <= 0:
            continue
        for t in np.sort(rng.uniform(minute, minute + 60.0, int(count))):
            if stock <= 0:
                break
            stock -= 1
            tagged = "video-1" if rng.random() < explicit_share else None
            sales.append(Sale(float(t), sku.sku_id, 1, Decimal("19.90"), tagged))
            points.append(StockPoint(float(t), sku.sku_id, stock))
            if stock == 0:
                stockout_at = float(t)
    samples = np.arange(start, end, view_interval)
    view_points = [
        ViewPoint(float(t), "video-1", int(v)) for t, v in zip(samples, views(samples), strict=True)
    ]
    video = VideoInfo("video-1", "Unboxing the gadget", frozenset({"prod-1"}))
    history = ShopHistory.from_records(
        [sku], sales, points, view_points, [video], since=start
    ).with_available([stock])
    return ViralCase(history, sku.sku_id, "video-1", start, surge_at, stockout_at, end)
