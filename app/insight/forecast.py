"""Hours until stock-out from a level-plus-trend model of recent sales, with a band.

The model is Holt's linear smoothing run on short bins (15 minutes by default) of sales per
in-stock hour over the last day, for all SKUs at once (the loop is over bins, the arrays over
SKUs). Bins that were mostly out of stock are skipped: no demand was observed there.

Demand ahead is the rate `level + trend * h`, with the trend extrapolated only for a limited
horizon (a viral surge does not grow forever) and, when falling, never below the long-run rate
(a surge decays back to the usual sales, not to zero). Hours left is where cumulative demand
reaches the available stock, solved in closed form. A trend is only believed when it stands out
of the noise (soft threshold at a few standard errors), so steady sellers get steady forecasts.

The method, and why (judged by `app.insight.backtest` on demand-curve families it was not tuned
on, `python -m tests.benchmarks forecast`):

- Sales first. The sales-only model is the backbone for every SKU: on log-normal and gamma
  rises, long tails, videos in a row, plateaus and power-law decays it was closer than any
  extrapolation of the views, which assume one shape of surge.
- Day/night. Sales rates are divided by the SKU's time-of-day profile before smoothing and the
  demand ahead is multiplied by it again (`app.insight.seasonal`), so a steady seller's level is
  the day's average and its hours left integrate the cycle; the rate shown is that average, so
  "selling R/hour, H of stock" has R x H = stock at a steady rate.
- Views by their track record. A video driving the SKU (attribution) moves the sales model's
  demand by as much as its view-driven curve (`app.insight.viral`) has predicted this SKU's
  sales over the last hours better than the sales model did (`app.insight.ensemble`): up in
  full, down by half (a fall in the views is measured, but the sales show it soon enough).
- No surge shape assumed until one has earned it. The view-driven curve is itself a mix of the
  S-curve (or bell) and a shape-free projection: the view rate's recent pace, damped over the
  climb's age (`viral.damped_views`). The S-curve's share is its track record against the
  damped one, and none without one: minutes after a take-off an S-curve believed in growth the
  data did not show (0.5 h left where 2.4 h were).
- The band from errors, not parameters: the spread of this SKU's recent forecast errors, less
  Poisson noise, grown with the horizon (`app.insight.band`), so it is wide where forecasts have
  been wrong and narrow where they have been right.
- The alert does not return to OK while the stock at the last hour's rate runs out within the
  critical threshold (`app.insight.shop`), whatever a model believes about the surge ending.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.insight import seasonal
from app.insight.history import BoolArray, FloatArray, IntArray, ShopHistory
from app.insight.stockouts import HOUR, OutOfStock, out_of_stock_before
from app.insight.types import Forecast, InsightParams

# Trend is kept only beyond this many standard errors of its own noise.
_TREND_Z = 2.0


@dataclass(frozen=True, eq=False)
class Bins:
    """The model grid: `edges` (B + 1 epoch seconds, the last one is `now`)."""

    edges: FloatArray
    width_hours: float

    @property
    def count(self) -> int:
        return len(self.edges) - 1


def make_bins(now: float, params: InsightParams) -> Bins:
    count = max(1, round(params.model_hours / params.bin_hours))
    width = params.bin_hours * HOUR
    edges = now - width * np.arange(count, -1, -1, dtype=np.float64)
    return Bins(edges=edges, width_hours=params.bin_hours)


@dataclass(frozen=True, eq=False)
class BinnedSales:
    """Per bin and SKU (bin-major: row = bin, column = SKU, so a bin is contiguous memory for
    the model's loop over bins): units sold, in-stock hours, the rate and whether observed."""

    units: FloatArray
    in_stock_hours: FloatArray
    rate: FloatArray
    valid: BoolArray


def bin_sales(history: ShopHistory, oos: OutOfStock, bins: Bins) -> BinnedSales:
    n, b = len(history.skus), bins.count
    lo, hi = bins.edges[0], bins.edges[-1]
    window = history.sales_between(max(lo, np.nextafter(history.since, -np.inf)), hi)
    times = history.sale_time[window]
    index = np.ceil((times - lo) / (bins.width_hours * HOUR)).astype(np.int64) - 1
    index = np.clip(index, 0, b - 1)
    flat = index * n + history.sale_sku[window]
    units = np.bincount(flat, weights=history.sale_units[window], minlength=n * b).reshape(b, n)
    span = np.diff(np.maximum(bins.edges, history.since)) / HOUR
    in_stock = np.repeat(span[:, None], n, axis=1)
    observed = span >= 0.5 * bins.width_hours  # bins mostly before `since` are not
    valid = np.repeat(observed[:, None], n, axis=1)
    inverse = np.where(observed, 1.0 / np.maximum(span, 1e-9), 0.0)
    rate = units * inverse[:, None]
    touched, before = out_of_stock_before(oos, bins.edges)
    if len(touched):
        # Only SKUs that were out of stock inside the window need their own arithmetic.
        stocked = np.maximum(span[:, None] - np.diff(before, axis=1).T / HOUR, 0.0)
        ok = stocked >= 0.5 * bins.width_hours
        in_stock[:, touched] = stocked
        valid[:, touched] = ok
        rate[:, touched] = np.where(ok, units[:, touched] / np.maximum(stocked, 1e-9), 0.0)
    return BinnedSales(units=units, in_stock_hours=in_stock, rate=rate, valid=valid)


@dataclass(frozen=True, eq=False)
class Holt:
    """Smoothed level (per hour), trend (per hour per hour) and the level's standard error."""

    level: FloatArray
    trend: FloatArray
    level_se: FloatArray
    # (bins before the end, level, shrunk trend per hour per hour) at the requested bins.
    snapshots: tuple[tuple[int, FloatArray, FloatArray], ...] = ()


def holt(
    rate: FloatArray,
    valid: BoolArray,
    initial: FloatArray,
    bin_hours: float,
    params: InsightParams,
    snapshots: tuple[int, ...] = (),
) -> Holt:
    """Holt's linear method down the rows of `rate` (bin-major: rows are bins, columns series),
    skipping invalid cells.

    The trend is soft-thresholded at `_TREND_Z` standard errors of its own noise, estimated
    from the level's step-to-step changes.
    """
    alpha = 1.0 - math.exp(-bin_hours / params.level_tau_hours)
    beta = 1.0 - math.exp(-bin_hours / params.trend_tau_hours)
    level = np.maximum(initial.astype(np.float64), 0.0)
    trend = np.zeros_like(level)
    # One-step residual variance, started at Poisson noise of the initial rate over a bin.
    var = np.maximum(level, 1.0) / bin_hours
    step_var = alpha * alpha * var
    weights = valid.astype(np.float64)
    wanted = {len(rate) - back: back for back in snapshots if 0 < back < len(rate)}
    taken: list[tuple[int, FloatArray, FloatArray]] = []
    for i, (observed, ok) in enumerate(zip(rate, weights, strict=True)):
        if i in wanted:
            taken.append((wanted[i], level.copy(), _shrink(trend, step_var, beta) / bin_hours))
        error = observed - level - trend
        step = ok * (np.maximum(level + trend + alpha * error, 0.0) - level)
        level += step
        trend += ok * beta * (step - trend)
        var += ok * alpha * (error * error - var)
        step_var += ok * beta * (step * step - step_var)
    level_se = np.sqrt(var * alpha / (2.0 - alpha))
    shrunk = _shrink(trend, step_var, beta)
    return Holt(level=level, trend=shrunk / bin_hours, level_se=level_se, snapshots=tuple(taken))


def _shrink(trend: FloatArray, step_var: FloatArray, beta: float) -> FloatArray:
    trend_se = np.sqrt(step_var * beta / (2.0 - beta))
    result: FloatArray = np.sign(trend) * np.maximum(np.abs(trend) - _TREND_Z * trend_se, 0.0)
    return result


@dataclass(frozen=True, eq=False)
class VideoViews:
    """Per video: view rate per bin (views per hour), observed mask, growth over the window."""

    rate: FloatArray
    valid: BoolArray
    growth: FloatArray
    cumulative: FloatArray  # views at each bin edge (V x B+1)


def bin_views(history: ShopHistory, bins: Bins) -> VideoViews:
    """View rates per bin from cumulative samples, interpolated linearly between samples.

    Bins outside a video's first..last sample are unobserved (views after the last sample are
    unknown, not zero).
    """
    v, b = len(history.videos), bins.count
    rate = np.zeros((v, b))
    valid = np.zeros((v, b), dtype=bool)
    growth = np.zeros(v)
    totals = np.zeros((v, b + 1))
    now = bins.edges[-1]
    mask = history.view_time <= now
    video, time, count = history.view_video[mask], history.view_time[mask], history.view_count[mask]
    order = np.lexsort((time, video))
    video, time, count = video[order], time[order], count[order]
    starts = np.searchsorted(video, np.arange(v + 1))
    for i in range(v):
        lo, hi = starts[i], starts[i + 1]
        if hi - lo < 2:
            continue
        t, c = time[lo:hi], np.maximum.accumulate(count[lo:hi])
        cumulative = np.interp(bins.edges, t, c)
        totals[i] = cumulative
        rate[i] = np.diff(cumulative) / bins.width_hours
        valid[i] = (bins.edges[:-1] >= t[0]) & (bins.edges[1:] <= t[-1])
        growth[i] = cumulative[-1] - cumulative[0]
    return VideoViews(rate=rate, valid=valid, growth=growth, cumulative=totals)


@dataclass(frozen=True, eq=False)
class DemandModel:
    """rate(h) = level + trend * min(h, h1), constant after h1; see `demand_model`."""

    level: FloatArray
    trend: FloatArray
    knee: FloatArray  # h1, hours
    after: FloatArray  # the rate after h1

    def cumulative(self, hours: FloatArray | float) -> FloatArray:
        """Units demanded over the next `hours` hours."""
        h = np.asarray(hours, dtype=np.float64)
        first = np.minimum(h, self.knee)
        return (
            self.level * first
            + 0.5 * self.trend * first * first
            + self.after * np.maximum(h - self.knee, 0.0)
        )

    def rate_at(self, rows: IntArray, hours: FloatArray) -> FloatArray:
        """The demand rate of `rows` at each of `hours` ahead (rows x hours)."""
        h = hours[None, :]
        level, trend = self.level[rows, None], self.trend[rows, None]
        result: FloatArray = np.where(
            h <= self.knee[rows, None], level + trend * h, self.after[rows, None]
        )
        return np.maximum(result, 0.0)

    def hours_until(self, units: FloatArray) -> FloatArray:
        """Hours until cumulative demand reaches `units` (inf when it never does)."""
        a = np.maximum(np.asarray(units, dtype=np.float64), 0.0)
        at_knee = self.cumulative(self.knee)
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.sqrt(np.maximum(self.level**2 + 2.0 * self.trend * a, 0.0))
            within = 2.0 * a / (self.level + root)
            beyond = self.knee + (a - at_knee) / self.after
        hours = np.where(a <= at_knee, within, np.where(self.after > 0, beyond, np.inf))
        hours = np.where(a <= 0, 0.0, hours)
        return np.where(np.isnan(hours), np.inf, hours)


def demand_model(
    level: FloatArray, trend: FloatArray, floor: FloatArray, horizon_hours: float
) -> DemandModel:
    """Rising trends run for `horizon_hours`; falling ones until the rate meets `floor`."""
    level = np.maximum(level, 0.0)
    floor = np.minimum(np.maximum(floor, 0.0), level)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_floor = np.where(trend < 0, (level - floor) / -trend, horizon_hours)
    knee = np.clip(np.nan_to_num(to_floor, nan=0.0, posinf=horizon_hours), 0.0, horizon_hours)
    after = np.maximum(level + trend * knee, 0.0)
    return DemandModel(level=level, trend=trend, knee=knee, after=after)


@dataclass(frozen=True, eq=False)
class ForecastColumns:
    """Per SKU: hours left and its band (nan = no forecast, inf = never), the demand rate now
    (per hour) and its trend (per hour per hour)."""

    hours_left: FloatArray
    hours_low: FloatArray
    hours_high: FloatArray
    rate: FloatArray
    trend: FloatArray

    def item(self, i: int, now: float) -> Forecast:
        def opt(value: float) -> float | None:
            return None if not math.isfinite(value) else value

        hours = opt(float(self.hours_left[i]))
        if hours is None:
            return Forecast(None, None, None, None, float(self.rate[i]), 0.0)
        return Forecast(
            hours_left=hours,
            hours_left_low=opt(float(self.hours_low[i])),
            hours_left_high=opt(float(self.hours_high[i])),
            stockout_at=now + hours * HOUR,
            rate_per_hour=float(self.rate[i]),
            trend_per_hour2=float(self.trend[i]),
        )


def band_spread(level: FloatArray, level_se: FloatArray, params: InsightParams) -> FloatArray:
    """Half-width of the demand band, units per hour."""
    return np.maximum(params.band_z * level_se, params.min_band_fraction * level)


def forecast_stockout(
    available: IntArray,
    sold_recently: BoolArray,
    level: FloatArray,
    trend: FloatArray,
    floor: FloatArray,
    level_se: FloatArray,
    params: InsightParams,
    profile: FloatArray | None = None,
    now: float = 0.0,
) -> tuple[ForecastColumns, DemandModel]:
    """Hours left per SKU at its available stock, with the band from the level's uncertainty.

    The band shifts the whole demand curve (level and floor) by `band_z` standard errors of
    the level, at least `min_band_fraction` of it. No forecast (nan) for a SKU that has not sold
    in the 7-day window; 0 hours for one that has and is out of stock.
    """
    horizon = params.trend_horizon_hours
    units = np.maximum(available.astype(np.float64), 0.0)
    model = demand_model(level, trend, floor, horizon)
    spread = band_spread(model.level, level_se, params)
    busy = demand_model(model.level + spread, trend, floor + spread, horizon)
    quiet = demand_model(
        np.maximum(model.level - spread, 0.0), trend, np.maximum(floor - spread, 0.0), horizon
    )
    hours = model.hours_until(units)
    low, high = busy.hours_until(units), quiet.hours_until(units)
    if profile is not None:
        # Within the seasonal grid, integrate the day's cycle (`app.insight.seasonal`).
        near = np.flatnonzero(sold_recently & (low < seasonal.GRID_HOURS))
        if len(near):
            count = round(seasonal.GRID_HOURS / seasonal.STEP_HOURS)
            grid: FloatArray = (np.arange(count, dtype=np.float64) + 0.5) * seasonal.STEP_HOURS
            shape = profile[near]
            for which, m in ((hours, model), (low, busy), (high, quiet)):
                which[near] = seasonal.hours_until(m.rate_at(near, grid), shape, now, units[near])
    none = ~sold_recently
    columns = ForecastColumns(
        hours_left=np.where(none, np.nan, hours),
        hours_low=np.where(none, np.nan, np.minimum(low, hours)),
        hours_high=np.where(none, np.nan, np.maximum(high, hours)),
        # Copies: the viral rows overwrite these, the demand model must keep its own.
        rate=model.level.copy(),
        trend=model.trend.copy(),
    )
    return columns, model
