"""Which video is driving a SKU's sales.

Explicit first: affiliate orders carry the `content_id` of the video that sold the unit, so the
video with the most such units in the model window wins, scored by its share of the SKU's units.

Otherwise correlation: the Pearson correlation, over hourly bins of the model window, between a
video's view growth (views gained per hour) and the SKU's sales per in-stock hour. Noise must not
attribute, so a video needs real view growth, the SKU real sales, and the correlation must pass
`min_correlation`; a video that links products is only matched with SKUs of those products.
Out-of-stock hours carry no sales signal and are set to the SKU's mean, so they neither help
nor hurt the match (a video keeps going viral after the SKU sold out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.insight.forecast import BinnedSales, VideoViews
from app.insight.history import BoolArray, FloatArray, IntArray, ShopHistory
from app.insight.types import Attribution, InsightParams


@dataclass(frozen=True, eq=False)
class AttributionColumns:
    """Per SKU: video index (-1 for none), explicit or not, and the score."""

    video: IntArray
    explicit: BoolArray
    score: FloatArray

    def item(self, i: int, history: ShopHistory) -> Attribution | None:
        index = int(self.video[i])
        if index < 0:
            return None
        video = history.videos[index]
        return Attribution(
            video_id=video.video_id,
            method="explicit" if self.explicit[i] else "correlation",
            score=float(self.score[i]),
            title=video.title,
        )


def _explicit(history: ShopHistory, lo: float, now: float) -> tuple[IntArray, FloatArray]:
    n, v = len(history.skus), len(history.videos)
    video = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n)
    window = (history.sale_time > lo) & (history.sale_time <= now)
    window &= history.sale_time >= history.since
    total = np.bincount(history.sale_sku[window], weights=history.sale_units[window], minlength=n)
    tagged = window & (history.sale_video >= 0)
    if not tagged.any() or v == 0:
        return video, score
    key = history.sale_sku[tagged] * v + history.sale_video[tagged]
    keys, inverse = np.unique(key, return_inverse=True)
    units = np.bincount(inverse, weights=history.sale_units[tagged])
    sku, vid = keys // v, keys % v
    # Per SKU, the video with the most units (ties: the lowest index, deterministic).
    order = np.lexsort((-vid, units, sku))
    sku, vid, units = sku[order], vid[order], units[order]
    last = np.ones(len(sku), dtype=bool)
    last[:-1] = sku[1:] != sku[:-1]
    chosen = last & (units > 0)
    video[sku[chosen]] = vid[chosen]
    score[sku[chosen]] = units[chosen] / np.maximum(total[sku[chosen]], 1e-12)
    return video, np.minimum(score, 1.0)


def _hourly(matrix: FloatArray, per_hour: int) -> FloatArray:
    """Sum consecutive columns in groups of `per_hour` (dropping a ragged head)."""
    rows, cols = matrix.shape
    usable = cols - cols % per_hour
    return matrix[:, cols - usable :].reshape(rows, usable // per_hour, per_hour).sum(axis=2)


def _standardized(matrix: FloatArray) -> tuple[FloatArray, FloatArray]:
    centered = matrix - matrix.mean(axis=1, keepdims=True)
    norm = np.sqrt((centered * centered).sum(axis=1))
    safe = np.where(norm > 0, norm, 1.0)
    return centered / safe[:, None], norm


def _links(history: ShopHistory, videos: IntArray) -> BoolArray:
    """Matrix [sku, candidate video]: may this video be matched with this SKU."""
    products = np.array([sku.product_id for sku in history.skus], dtype=object)
    allowed = np.ones((len(history.skus), len(videos)), dtype=bool)
    for column, index in enumerate(videos):
        linked = history.videos[int(index)].product_ids
        if linked:
            allowed[:, column] = np.isin(products, list(linked))
    return allowed


def attribute(
    history: ShopHistory,
    now: float,
    sales: BinnedSales,
    views: VideoViews,
    bin_hours: float,
    params: InsightParams,
) -> AttributionColumns:
    lo = now - params.model_hours * 3600.0
    video, score = _explicit(history, lo, now)
    explicit = video >= 0

    active = np.flatnonzero(views.growth >= max(params.min_view_growth, 1e-9))
    if len(active) == 0:
        return AttributionColumns(video=video, explicit=explicit, score=score)
    per_hour = max(1, round(1.0 / bin_hours))
    units = _hourly(sales.units, per_hour)
    stocked = _hourly(sales.in_stock_hours, per_hour)
    observed = stocked >= 0.5
    rate = np.where(observed, units / np.maximum(stocked, 1e-9), 0.0)
    count = np.maximum(observed.sum(axis=1), 1)
    mean = rate.sum(axis=1) / count
    rate = np.where(observed, rate, mean[:, None])
    growth = _hourly(views.rate[active] * bin_hours, per_hour)

    candidates = ~explicit & (units.sum(axis=1) >= params.min_units_for_correlation)
    rows = np.flatnonzero(candidates)
    if len(rows) == 0:
        return AttributionColumns(video=video, explicit=explicit, score=score)
    z_sales, sales_norm = _standardized(rate[rows])
    z_views, views_norm = _standardized(growth)
    r = z_sales @ z_views.T
    r = np.where((sales_norm[:, None] > 0) & (views_norm[None, :] > 0), r, -1.0)
    links = _links(history, active)[rows]
    declared = np.array([bool(history.videos[int(i)].product_ids) for i in active])
    # A video that lists the SKU's product needs less evidence than any video at all.
    needed = np.where(declared[None, :], params.min_correlation_linked, params.min_correlation)
    r = np.where(links & (r >= needed), r, -1.0)
    best = np.argmax(r, axis=1)
    best_r = r[np.arange(len(rows)), best]
    hit = best_r >= 0
    video[rows[hit]] = active[best[hit]]
    score[rows[hit]] = best_r[hit]
    return AttributionColumns(video=video, explicit=explicit, score=score)
