"""Demand of a SKU that a video is driving: its sales follow the video's view rate.

For a SKU attributed to a video, sales per hour are modelled as `base + per_view * view_rate`
(least squares over the model window's bins), and the view rate is projected forward with a
logistic S-curve fitted to the video's views (viral views grow like an epidemic: fast, then
saturating). Views are far less noisy than sales and move first, so a surge shows in the
forecast as soon as the views bend upward, and its end shows when they bend over.

When the S-curve cannot be identified yet (no sign of saturation, or too few points) the view
rate's Holt trend is used instead, extrapolated for the trend horizon like sales trends.
Only the few attributed SKUs get here, so this works SKU by SKU on a fine time grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.insight.forecast import BinnedSales, VideoViews
from app.insight.history import FloatArray

# The forecast grid: steps of 6 minutes for 4 days, then the last rate is held.
GRID_STEP_HOURS = 0.1
GRID_HOURS = 96.0
# The S-curve is fitted on the last hours of views only (older growth says little).
FIT_HOURS = 12.0
# Exponential growth is measured over the last hours, and projected at most this many-fold.
EXP_FIT_HOURS = 3.0
MAX_GROWTH = 10.0


@dataclass(frozen=True, eq=False)
class ViralDemand:
    """Projected demand for one SKU: rate per hour on the grid 0, step, 2*step, ..."""

    rate: FloatArray
    step_hours: float
    logistic: bool  # True when the views' S-curve was identified

    @property
    def cumulative_grid(self) -> FloatArray:
        # Trapezoids: cumulative[0] = 0, cumulative[j] = demand over j steps.
        areas = 0.5 * (self.rate[1:] + self.rate[:-1]) * self.step_hours
        return np.concatenate(([0.0], np.cumsum(areas)))

    def shifted(self, delta: float) -> ViralDemand:
        """The same curve moved up or down by `delta` units per hour (never below zero)."""
        return ViralDemand(np.maximum(self.rate + delta, 0.0), self.step_hours, self.logistic)

    def cumulative(self, hours: float) -> float:
        grid = self.cumulative_grid
        span = self.step_hours * (len(self.rate) - 1)
        if hours <= span:
            return float(np.interp(hours, np.arange(len(grid)) * self.step_hours, grid))
        return float(grid[-1] + self.rate[-1] * (hours - span))

    def hours_until(self, units: float) -> float:
        if units <= 0:
            return 0.0
        grid = self.cumulative_grid
        span = self.step_hours * (len(self.rate) - 1)
        if units <= grid[-1]:
            j = int(np.searchsorted(grid, units))
            lo, hi = float(grid[j - 1]), float(grid[j])
            part = (units - lo) / (hi - lo) if hi > lo else 0.0
            return (j - 1 + part) * self.step_hours
        last_rate = float(self.rate[-1])
        if last_rate <= 0:
            return math.inf
        return span + (units - float(grid[-1])) / last_rate


def _conversion(sales: FloatArray, views: FloatArray) -> tuple[float, float] | None:
    """(base, per_view) from least squares of sales rate on view rate; None without signal."""
    if len(sales) < 4:
        return None
    mean_v, mean_s = views.mean(), sales.mean()
    var = float(((views - mean_v) ** 2).sum())
    if var <= 0:
        return None
    per_view = float(((views - mean_v) * (sales - mean_s)).sum()) / var
    if per_view <= 0:
        return None
    return max(mean_s - per_view * mean_v, 0.0), per_view


def _logistic(
    cumulative: FloatArray, rate: FloatArray, valid: np.ndarray, bin_hours: float
) -> tuple[float, float, float] | None:
    """(r per hour, K, W now) of the excess views W over the window's first sample.

    Per-capita growth of a logistic is linear in its size: rate / W = r - (r / K) * W. Fitted
    by least squares weighted by the rate (the surge's bins carry the information).
    """
    count = max(2, round(FIT_HOURS / bin_hours))
    base = cumulative[0]
    middle = 0.5 * (cumulative[1:] + cumulative[:-1]) - base
    ok = valid & (middle > 0) & (rate > 0)
    ok[: max(0, len(ok) - count)] = False
    if ok.sum() < 6:
        return None
    w, y, weight = middle[ok], rate[ok] / middle[ok], rate[ok]
    mean_w = float(np.average(w, weights=weight))
    mean_y = float(np.average(y, weights=weight))
    var = float(np.average((w - mean_w) ** 2, weights=weight))
    if var <= 0:
        return None
    slope = float(np.average((w - mean_w) * (y - mean_y), weights=weight)) / var
    r = mean_y - slope * mean_w
    now = float(cumulative[-1] - base)
    if r <= 0 or slope >= 0 or now <= 0:
        return None
    k = -r / slope
    # Saturation must be ahead of us, and not absurdly far (then it is not identified yet).
    if not now < k < 50.0 * now:
        return None
    return r, k, now


def _exponential(
    rate: FloatArray, valid: np.ndarray, bin_hours: float
) -> tuple[float, float] | None:
    """(growth per hour, fitted rate now) of the view rate over the last EXP_FIT_HOURS, from a
    log-linear fit; None unless the rate is clearly growing exponentially (R^2 >= 0.8)."""
    count = max(4, round(EXP_FIT_HOURS / bin_hours))
    y, ok = rate[-count:], valid[-count:] & (rate[-count:] > 0)
    if ok.sum() < 4:
        return None
    t = np.arange(len(y), dtype=np.float64)[ok] * bin_hours
    log = np.log(y[ok])
    t_mean, log_mean = t.mean(), log.mean()
    var_t = float(((t - t_mean) ** 2).sum())
    var_log = float(((log - log_mean) ** 2).sum())
    if var_t <= 0 or var_log <= 0:
        return None
    slope = float(((t - t_mean) * (log - log_mean)).sum()) / var_t
    r2 = slope * slope * var_t / var_log
    if slope <= 0 or r2 < 0.8:
        return None
    last = (len(y) - 0.5) * bin_hours
    return slope, float(np.exp(log_mean + slope * (last - t_mean)))


def viral_demand(
    sales: BinnedSales,
    row: int,
    views: VideoViews,
    video: int,
    bin_hours: float,
    view_trend: float,
    horizon_hours: float,
) -> ViralDemand | None:
    """The projected demand of SKU `row` driven by video `video`, or None without a link."""
    both = sales.valid[row] & views.valid[video]
    conversion = _conversion(sales.rate[row][both], views.rate[video][both])
    if conversion is None:
        return None
    base, per_view = conversion
    rates = views.rate[video]
    recent = max(1, round(1.0 / bin_hours))
    usable = rates[views.valid[video]]
    if len(usable) == 0:
        return None
    rate_now = float(usable[-recent:].mean())
    hours = np.arange(0.0, GRID_HOURS + GRID_STEP_HOURS / 2, GRID_STEP_HOURS)
    fit = _logistic(views.cumulative[video], rates, views.valid[video].copy(), bin_hours)
    growth = None if fit is not None else _exponential(rates, views.valid[video], bin_hours)
    if fit is not None:
        r, k, w_now = fit
        w = k / (1.0 + (k - w_now) / w_now * np.exp(-r * hours))
        view_rate = r * w * (1.0 - w / k)
    elif growth is not None:
        # Still in the exponential phase: grow at the measured pace, for at most the trend
        # horizon and at most MAX_GROWTH-fold (where the curve will bend is not known yet).
        pace, fitted_now = growth
        factor = np.minimum(np.exp(pace * np.minimum(hours, horizon_hours)), MAX_GROWTH)
        view_rate = fitted_now * factor
    else:
        view_rate = np.maximum(rate_now + view_trend * np.minimum(hours, horizon_hours), 0.0)
    return ViralDemand(
        rate=np.maximum(base + per_view * view_rate, 0.0),
        step_hours=GRID_STEP_HOURS,
        logistic=fit is not None,
    )
