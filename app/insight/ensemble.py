"""Combining the sales-only and the view-driven forecast by how well each predicted this SKU.

Why: the view-driven curve (`app.insight.viral`) is built around one shape of surge (a logistic
S-curve, or a bell). On other shapes (log-normal rises with long tails, two videos in a row,
live-stream plateaus, power-law decays) it can believe a surge is ending while sales keep
coming, and override a sales-only forecast that was right. Neither model is right everywhere,
so neither is trusted by default: each is judged on this SKU's own recent sales.

How: for the few SKUs a video drives, the whole computation is rerun as it would have been
`ORIGIN_HOURS` ago (events up to then only, the stock then = now + units sold since), and each
model's predicted units over the hours since (the view model's posterior mean, which does not
depend on the stock) are compared with the units actually sold. The view-driven curve's weight
goes as 1 / squared log error ** SHARPNESS against the sales model's (with a prior of
`PRIOR_ERROR` each, so a few lucky units do not decide it); a curve that has no track record
yet (it did not exist an origin ago) gets `NEW_WEIGHT` = 1: a new surge in the views counts in
full until the sales say otherwise.

Views raise the sales model's demand in full and lower it by half: rate(h) = sales(h) +
w * gap, gap = viral(h) - sales(h), halved (LOWER_SHARE) where negative. The views' value is
seeing a surge before the sales do (the rise); a fall in the views is real information too (on
the tuning set, forecasts after a peak held the peak's rate and said 2.4 h where 11 h were
left), but the sales show a decline soon enough and the curve's decline is the least
identified part of it, so it counts for half. What failed in the field (a fitted S-curve that
believed a surge was ending turned the alert to OK three hours before the shelf was empty)
stays covered by the alert's own floor (`app.insight.shop`: never OK while the last hour's rate
runs out within the critical threshold).

The view-driven curve is itself two: the S-curve (or bell) and the damped projection
(`viral.damped_views`), mixed by the same track record (`curve_weights`); without one the damped
projection counts alone (CURVE_NEW_WEIGHT).

Cost: one extra computation per origin for the attributed SKUs only (a handful in a shop of
10,000), so the recompute stays vectorised for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.insight.band import squared_error
from app.insight.forecast import DemandModel
from app.insight.history import FloatArray, IntArray, ShopHistory
from app.insight.seasonal import hour_of_day
from app.insight.stockouts import HOUR
from app.insight.viral import ViralCurves

# How far back the forecasts are remade and checked against the sales since.
ORIGIN_HOURS = (1.0, 2.5)
# Squared log error each model is given before any evidence (shrinks the weights to 1/2).
PRIOR_ERROR = 0.01
# Weights go as 1 / error^SHARPNESS: above 1 the better model takes more than its share.
SHARPNESS = 2.0
# Weight of a view-driven curve without a track record.
NEW_WEIGHT = 1.0
# Share of a view-driven curve's fall below the sales model that lowers the demand.
LOWER_SHARE = 0.5
# Share of the S-curve (against the damped projection) in the view-driven curve without a
# track record: none. Minutes after a take-off the S-curve's bend is a guess.
CURVE_NEW_WEIGHT = 0.0


@dataclass(frozen=True, eq=False)
class Origin:
    """Units each model predicted for `rows` over the `hours` up to now, and the units sold."""

    hours: float
    viral: FloatArray  # nan where the view-driven model had no forecast then
    sales: FloatArray
    actual: FloatArray
    damped: FloatArray | None = None  # the damped projection's units, nan likewise


def recent(history: ShopHistory, since: float) -> ShopHistory:
    """The history from `since` on (sales are in time order, so this is a slice)."""
    if since <= history.since:
        return history
    window = history.sales_between(np.nextafter(since, -np.inf), np.inf)
    return replace(
        history,
        since=since,
        sale_sku=history.sale_sku[window],
        sale_time=history.sale_time[window],
        sale_units=history.sale_units[window],
        sale_revenue=history.sale_revenue[window],
        sale_video=history.sale_video[window],
    )


def with_videos(history: ShopHistory, keep: IntArray) -> ShopHistory:
    """The history with only the videos `keep` (indices), their samples and sales' links: the
    recomputation at an origin need not bin every video of the shop again."""
    remap = np.full(len(history.videos) + 1, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    samples = remap[history.view_video] >= 0
    return replace(
        history,
        videos=tuple(history.videos[int(i)] for i in keep),
        view_video=remap[history.view_video[samples]],
        view_time=history.view_time[samples],
        view_count=history.view_count[samples],
        sale_video=remap[history.sale_video],
    )


def origin_stock(history: ShopHistory, rows: IntArray, origin: float, now: float) -> IntArray:
    """Stock of SKUs `rows` at `origin`: today's plus the units sold since (no restocks)."""
    window = history.sales_between(origin, now)
    sold = np.bincount(
        history.sale_sku[window], weights=history.sale_units[window], minlength=len(history.skus)
    )
    return (np.maximum(history.available[rows], 0) + sold[rows]).astype(np.int64)


def sold_between(history: ShopHistory, rows: IntArray, lo: float, hi: float) -> FloatArray:
    window = history.sales_between(lo, hi)
    sold = np.bincount(
        history.sale_sku[window], weights=history.sale_units[window], minlength=len(history.skus)
    )
    result: FloatArray = sold[rows]
    return result


def viral_weights(origins: list[Origin]) -> FloatArray:
    """Weight of the view-driven curve per row, from its errors against the sales model's."""
    if not origins:
        return np.zeros(0)
    return _track_weight(origins, "viral", "sales", NEW_WEIGHT)


def _track_weight(origins: list[Origin], first: str, second: str, new: float) -> FloatArray:
    """Per row, the weight of model `first` against `second` (Origin fields), each going as
    1 / (squared log error + PRIOR_ERROR) ** SHARPNESS over the origins where both had a
    forecast; `new` where neither had one."""
    n = len(origins[0].actual)
    err_a, err_b, seen = np.zeros(n), np.zeros(n), np.zeros(n)
    for origin in origins:
        a, b = getattr(origin, first), getattr(origin, second)
        if a is None or b is None:
            continue
        known = ~np.isnan(a) & ~np.isnan(b)
        actual = np.log1p(origin.actual)
        err_a += np.where(known, (actual - np.log1p(np.where(known, a, 0.0))) ** 2, 0.0)
        err_b += np.where(known, (actual - np.log1p(np.where(known, b, 0.0))) ** 2, 0.0)
        seen += known
    pa = (err_a + PRIOR_ERROR) ** SHARPNESS
    pb = (err_b + PRIOR_ERROR) ** SHARPNESS
    result: FloatArray = np.where(seen > 0, pb / (pa + pb), new)
    return result


def curve_weights(origins: list[Origin]) -> FloatArray:
    """Weight of the S-curve (or bell) projection against the damped one, per row."""
    if not origins:
        return np.zeros(0)
    return _track_weight(origins, "viral", "damped", CURVE_NEW_WEIGHT)


def mixed_units(origin: Origin, weight: FloatArray) -> Origin:
    """The origin with the view-driven prediction replaced by the mix of the two curves."""
    if origin.damped is None:
        return origin
    damped = np.where(np.isnan(origin.damped), origin.viral, origin.damped)
    viral = np.where(np.isnan(origin.viral), damped, origin.viral)
    return replace(origin, viral=weight * viral + (1 - weight) * damped, damped=None)


def mix_curves(viral: ViralCurves, weight: FloatArray) -> ViralCurves:
    """The view-driven curves as `weight` of the S-curve's and the rest of the damped ones."""
    other = viral.damped
    if other is None:
        return viral
    w = weight[:, None]

    def mix(a: FloatArray, b: FloatArray) -> FloatArray:
        result: FloatArray = w * a + (1 - w) * b
        return result

    central = viral.rate if viral.expected is None else viral.expected
    return ViralCurves(
        viral.rows,
        mix(viral.rate, other.rate),
        viral.step_hours,
        viral.logistic,
        mix(viral.busy, other.busy),
        mix(viral.quiet, other.quiet),
        viral.hours_left,
        viral.hours_low,
        viral.hours_high,
        mix(central, other.rate),
    )


def blended_errors(origins: list[Origin], weight: FloatArray) -> FloatArray:
    """(sum of squared log errors less Poisson's part, count) of the blended forecast at the
    origins, as `band.sales_errors` gives them for the sales model."""
    total = np.zeros(len(weight))
    count = np.zeros(len(weight))
    for origin in origins:
        viral = np.where(np.isnan(origin.viral), origin.sales, origin.viral)
        predicted = weight * viral + (1 - weight) * origin.sales
        total += squared_error(origin.actual, predicted)
        count += 1
    return np.stack((total, count))


def sales_rate_grid(
    model: DemandModel, rows: IntArray, hours: FloatArray, profile: FloatArray, now: float
) -> FloatArray:
    """The sales model's demand rate of `rows` on the grid `hours`, with the day's cycle."""
    cycle = profile[rows][:, hour_of_day(now + hours * HOUR)]
    result: FloatArray = model.rate_at(rows, hours) * cycle
    return result


def blend(viral: ViralCurves, sales: FloatArray, weight: FloatArray) -> ViralCurves:
    """The sales model's rates raised by `weight` of what the view-driven curve adds on top
    (same grid): rate = sales + w * max(viral - sales, 0); busy / quiet likewise."""
    w = weight[:, None]
    sales = np.nan_to_num(sales, nan=0.0, posinf=0.0)

    def lift(curve: FloatArray) -> FloatArray:
        gap = curve - sales
        result: FloatArray = sales + w * np.where(gap > 0, gap, LOWER_SHARE * gap)
        return result

    # The posterior's mean rate, not the curve picked at the median stock-out: the blend must
    # not depend on the stock (more stock never means fewer hours).
    central = viral.rate if viral.expected is None else viral.expected
    return ViralCurves(
        viral.rows,
        lift(central),
        viral.step_hours,
        viral.logistic,
        lift(viral.busy),
        lift(viral.quiet),
        viral.hours_left,
        viral.hours_low,
        viral.hours_high,
        viral.expected,
    )


def origin_times(now: float) -> list[tuple[float, float]]:
    """(hours back, epoch second) of each origin."""
    return [(hours, now - hours * HOUR) for hours in ORIGIN_HOURS]
