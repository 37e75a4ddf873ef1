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
    window = history.sales_between(max(lo, np.nextafter(history.since, -np.inf)), now)
    sale_sku, sale_units = history.sale_sku[window], history.sale_units[window]
    sale_video = history.sale_video[window]
    total = np.bincount(sale_sku, weights=sale_units, minlength=n)
    tagged = sale_video >= 0
    if not tagged.any() or v == 0:
        return video, score
    key = sale_sku[tagged] * v + sale_video[tagged]
    keys, inverse = np.unique(key, return_inverse=True)
    units = np.bincount(inverse, weights=sale_units[tagged])
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
    """Bin-major [bin, column] to [column, hour]: sum groups of `per_hour` bins (dropping a
    ragged head)."""
    bins, cols = matrix.shape
    usable = bins - bins % per_hour
    grouped = matrix[bins - usable :].reshape(usable // per_hour, per_hour, cols).sum(axis=1)
    return np.ascontiguousarray(grouped.T)


def _standardized(matrix: FloatArray) -> tuple[FloatArray, FloatArray]:
    centered = matrix - matrix.mean(axis=1, keepdims=True)
    norm = np.sqrt((centered * centered).sum(axis=1))
    safe = np.where(norm > 0, norm, 1.0)
    return centered / safe[:, None], norm


def _links(history: ShopHistory, rows: IntArray, videos: IntArray) -> BoolArray:
    """Matrix [candidate SKU, candidate video]: may this video be matched with this SKU."""
    allowed = np.ones((len(rows), len(videos)), dtype=bool)
    by_product = history.skus_by_product
    for column, index in enumerate(videos):
        linked = history.videos[int(index)].product_ids
        if linked:
            mine = np.zeros(len(history.skus), dtype=bool)
            for product in linked:
                mine[by_product.get(product, [])] = True
            allowed[:, column] = mine[rows]
    return allowed


def attribute(
    history: ShopHistory,
    now: float,
    sales: BinnedSales,
    views: VideoViews,
    bin_hours: float,
    params: InsightParams,
    previous: IntArray | None = None,
) -> AttributionColumns:
    """Attribution per SKU. `previous` (video index per SKU, -1 for none) makes a link sticky:
    a SKU keeps last time's video at `sticky_fraction` of the correlation threshold, so the
    "viral video" context does not blink on and off while the evidence hovers at the bar."""
    lo = now - params.model_hours * 3600.0
    video, score = _explicit(history, lo, now)
    explicit = video >= 0

    active = np.flatnonzero(views.growth >= max(params.min_view_growth, 1e-9))
    if len(active) == 0:
        return AttributionColumns(video=video, explicit=explicit, score=score)
    total = sales.units.sum(axis=0)
    rows = np.flatnonzero(~explicit & (total >= params.min_units_for_correlation))
    if len(rows) == 0:
        return AttributionColumns(video=video, explicit=explicit, score=score)
    per_hour = max(1, round(1.0 / bin_hours))
    units = _hourly(sales.units[:, rows], per_hour)
    stocked = _hourly(sales.in_stock_hours[:, rows], per_hour)
    observed = stocked >= 0.5
    rate = np.where(observed, units / np.maximum(stocked, 1e-9), 0.0)
    mean = rate.sum(axis=1) / np.maximum(observed.sum(axis=1), 1)
    rate = np.where(observed, rate, mean[:, None])
    growth = _hourly((views.rate[active] * bin_hours).T, per_hour)

    z_sales, sales_norm = _standardized(rate)
    z_views, views_norm = _standardized(growth)
    r = z_sales @ z_views.T
    r = np.where((sales_norm[:, None] > 0) & (views_norm[None, :] > 0), r, -1.0)
    links = _links(history, rows, active)
    declared = np.array([bool(history.videos[int(i)].product_ids) for i in active])
    # A video that lists the SKU's product needs less evidence than any video at all.
    needed = np.where(declared[None, :], params.min_correlation_linked, params.min_correlation)
    if previous is not None:
        kept = previous[rows][:, None] == active[None, :]
        needed = np.where(kept, needed * params.sticky_fraction, needed)
    r = np.where(links & (r >= needed), r, -1.0)
    best = np.argmax(r, axis=1)
    best_r = r[np.arange(len(rows)), best]
    hit = best_r >= 0
    video[rows[hit]] = active[best[hit]]
    score[rows[hit]] = best_r[hit]
    return AttributionColumns(video=video, explicit=explicit, score=score)
