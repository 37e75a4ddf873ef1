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
    scale_hours: float | None = None,
    total_views: float | None = None,
    onset_hours: float | None = None,
) -> ViralCase:
    """One SKU with steady sales for `days_before` days, then a video going viral.

    `onset_hours` (before the inflection) starts the S-curve abruptly as the sandbox does;
    without it the curve runs from the start of the history. Parameters left as None are drawn
    from the seed: baseline 1-3/hour, a surge peaking at
    30-60 extra units/hour over a 1.5-3 hour logistic scale, and 30-70% of the surge's extra
    units (at least 4 days of the baseline) in stock when it starts: days of stock at the baseline,
    hours in the surge.
    """
    rng = np.random.default_rng(seed)
    base = baseline if baseline is not None else float(rng.uniform(1.0, 3.0))
    extra = peak_extra if peak_extra is not None else float(rng.uniform(30.0, 60.0))
    scale = (scale_hours if scale_hours is not None else float(rng.uniform(1.5, 3.0))) * HOUR
    total = total_views if total_views is not None else float(rng.uniform(1e6, 3e6))
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
    per_view = extra / (total / (4 * scale) * HOUR)

    def curve(t: np.ndarray) -> np.ndarray:
        return total / (1.0 + np.exp(-(t - surge_at) / scale))

    def views(t: np.ndarray) -> np.ndarray:
        baseline = 20.0 * (t - start) / HOUR
        if onset_hours is None:
            return curve(t) + baseline
        # The sandbox's shape: nothing viral before the onset, then the S-curve from there.
        onset = surge_at - onset_hours * HOUR
        return np.where(t > onset, curve(t) - curve(np.array(onset)), 0.0) + baseline

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


def large_shop(
    skus: int = 10_000, days: float = 30.0, seed: int = 0, videos: int = 50, viral: int = 5
) -> tuple[ShopHistory, float]:
    """A big shop built straight as columns: (history, now).

    Sales rates are log-normal (median ~0.1/hour, a long tail of best sellers), one SKU in ten
    ran out of stock for a while, and `viral` of the `videos` go viral in the last day, each
    linked to one product (a fifth of its SKU's sales name the video, as affiliate orders do).
    Views are sampled every 10 minutes.
    """
    rng = np.random.default_rng(seed)
    start = EPOCH
    now = start + days * DAY
    rates = rng.lognormal(mean=np.log(0.1), sigma=1.2, size=skus)
    counts = rng.poisson(rates * days * 24)
    sale_sku = np.repeat(np.arange(skus, dtype=np.int64), counts)
    sale_time = rng.uniform(start, now, size=len(sale_sku))
    price = rng.uniform(5, 60, size=skus)
    products = [f"p{i // 3}" for i in range(skus)]
    states = tuple(
        SkuState(
            f"s{i}",
            products[i],
            f"Product {i // 3}",
            available=int(a),
            unit_price=Decimal(f"{price[i]:.2f}"),
        )
        for i, a in enumerate(rng.integers(0, 500, size=skus))
    )
    out = rng.choice(skus, size=skus // 10, replace=False)
    gone = rng.uniform(start, now - DAY, size=len(out))
    back = gone + rng.uniform(HOUR, 3 * DAY, size=len(out))
    stock_sku = np.concatenate([out, out]).astype(np.int64)
    stock_time = np.concatenate([gone, back])
    stock_available = np.concatenate([np.zeros(len(out)), np.full(len(out), 100.0)])
    infos = []
    view_video, view_time, view_count = [], [], []
    samples = np.arange(start, now + 1, 600.0)
    # Affiliate orders name the video that sold the unit: a fifth of a featured SKU's sales.
    sale_video = np.full(len(sale_sku), -1, dtype=np.int64)
    for v in range(videos):
        featured = int(rng.integers(skus))
        linked = frozenset({products[featured]})
        tagged = (sale_sku == featured) & (rng.random(len(sale_sku)) < 0.2)
        sale_video[tagged] = v
        infos.append(VideoInfo(f"v{v}", f"Video {v}", linked))
        base = rng.uniform(10, 200) * (samples - start) / HOUR
        if v < viral:
            middle = now - rng.uniform(0, 12) * HOUR
            base = base + 1e6 / (1 + np.exp(-(samples - middle) / (2 * HOUR)))
        view_video.append(np.full(len(samples), v, dtype=np.int64))
        view_time.append(samples)
        view_count.append(np.floor(base))
    history = ShopHistory(
        skus=states,
        since=start,
        sale_sku=sale_sku,
        sale_time=sale_time,
        sale_units=np.ones(len(sale_sku)),
        sale_revenue=price[sale_sku],
        sale_video=sale_video,
        stock_sku=stock_sku,
        stock_time=stock_time,
        stock_available=stock_available,
        videos=tuple(infos),
        view_video=np.concatenate(view_video),
        view_time=np.concatenate(view_time),
        view_count=np.concatenate(view_count),
    )
    return history, now


def even_sales(
    sku_id: str, per_hour: float, start: float, end: float, *, price: str = "10.00"
) -> list[Sale]:
    """One unit every 1/per_hour hours in (start, end]: a rate known exactly.

    Sales sit in the middle of their slots (the last one half a gap before `end`), so every
    window and the weighted rate see the rate without a phase bias.
    """
    if per_hour <= 0:
        return []
    gap = HOUR / per_hour
    times = np.arange(end - gap / 2, start, -gap)[::-1]
    return [Sale(float(t), sku_id, 1, Decimal(price)) for t in times if start < t <= end]


def one_sku(
    sales: list[Sale],
    *,
    available: int = 100,
    stock: list[StockPoint] | None = None,
    since: float = EPOCH,
    incoming: int = 0,
    price: str = "10.00",
) -> ShopHistory:
    sku = SkuState(
        "sku-1",
        "prod-1",
        "Gadget",
        available=available,
        incoming=incoming,
        unit_price=Decimal(price),
    )
    return ShopHistory.from_records([sku], sales, stock or [], since=since)


def steady_shop(
    skus: int = 200, days: float = 14.0, cover_hours: float = 48.0, seed: int = 7
) -> ShopHistory:
    """Poisson sellers (0.5-20/hour) with stock for `cover_hours` at their true rate: an
    alert that fires well before that is a false alarm."""
    rng = np.random.default_rng(seed)
    states, sales = [], []
    for i in range(skus):
        rate = float(rng.uniform(0.5, 20.0))
        states.append(SkuState(f"s{i}", f"p{i}", available=int(rate * cover_hours)))
        times = np.sort(rng.uniform(EPOCH, EPOCH + days * DAY, rng.poisson(rate * 24 * days)))
        sales += [Sale(float(t), f"s{i}", 1, Decimal(1)) for t in times]
    return ShopHistory.from_records(states, sales, since=EPOCH)
