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

from dataclasses import dataclass

import numpy as np

from app.insight.forecast import BinnedSales, VideoViews
from app.insight.history import BoolArray, FloatArray, IntArray

# The forecast grid: steps of 6 minutes for 4 days, then the last rate is held.
GRID_STEP_HOURS = 0.1
GRID_HOURS = 96.0
# The S-curve is fitted on the last hours of views only (older growth says little).
FIT_HOURS = 12.0
# Exponential growth is measured over the last hours, and projected at most this many-fold.
EXP_FIT_HOURS = 3.0
MAX_GROWTH = 10.0


@dataclass(frozen=True, eq=False)
class ViralCurves:
    """Projected demand rates (per hour) of some SKUs on the grid 0, step, 2 * step, ...

    Row `j` belongs to SKU `rows[j]`; after the grid the last rate is held.
    """

    rows: IntArray
    rate: FloatArray
    step_hours: float
    logistic: BoolArray  # per row: the video's S-curve was identified

    @property
    def span(self) -> float:
        return self.step_hours * float(self.rate.shape[1] - 1)

    def _cumulative_grid(self, rate: FloatArray) -> FloatArray:
        areas = 0.5 * (rate[:, 1:] + rate[:, :-1]) * self.step_hours
        return np.concatenate((np.zeros((len(rate), 1)), np.cumsum(areas, axis=1)), axis=1)

    def cumulative(self, hours: FloatArray) -> FloatArray:
        """Units demanded over the next `hours[j]` hours, per row."""
        grid = self._cumulative_grid(self.rate)
        h = np.maximum(np.asarray(hours, dtype=np.float64), 0.0)
        last = grid.shape[1] - 1
        j = np.minimum(np.floor(h / self.step_hours).astype(np.int64), last - 1)
        rows = np.arange(len(grid))
        frac = np.clip(h / self.step_hours - j, 0.0, 1.0)
        inside = grid[rows, j] + frac * (grid[rows, j + 1] - grid[rows, j])
        beyond = grid[:, -1] + self.rate[:, -1] * (h - self.span)
        return np.where(h <= self.span, inside, beyond)

    def hours_until(self, units: FloatArray, delta: FloatArray | float = 0.0) -> FloatArray:
        """Hours until cumulative demand reaches `units[j]`, with every rate moved by `delta`
        (never below zero); inf when it never does."""
        rate = np.maximum(self.rate + np.asarray(delta, dtype=np.float64).reshape(-1, 1), 0.0)
        grid = self._cumulative_grid(rate)
        a = np.maximum(np.asarray(units, dtype=np.float64), 0.0)
        rows = np.arange(len(grid))
        j = np.clip((grid < a[:, None]).sum(axis=1), 1, grid.shape[1] - 1)
        lo, hi = grid[rows, j - 1], grid[rows, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = (j - 1 + np.where(hi > lo, (a - lo) / (hi - lo), 0.0)) * self.step_hours
            beyond = self.span + (a - grid[:, -1]) / rate[:, -1]
        result = np.where(a <= grid[:, -1], inside, np.where(rate[:, -1] > 0, beyond, np.inf))
        return np.where(a <= 0, 0.0, result)


def _conversion(
    sales: FloatArray, views: FloatArray, mask: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Per row (base, per_view) from least squares of sales rate on view rate over `mask`;
    per_view <= 0 means no usable link."""
    weight = mask.astype(np.float64)
    count = weight.sum(axis=1)
    enough = count >= 4
    n = np.maximum(count, 1.0)
    mean_v = (weight * views).sum(axis=1) / n
    mean_s = (weight * sales).sum(axis=1) / n
    dv = (views - mean_v[:, None]) * weight
    var = (dv * dv).sum(axis=1)
    cov = (dv * (sales - mean_s[:, None])).sum(axis=1)
    per_view = np.where(enough & (var > 0), cov / np.maximum(var, 1e-300), 0.0)
    base = np.maximum(mean_s - per_view * mean_v, 0.0)
    return base, per_view


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


def project_views(
    views: VideoViews,
    video: int,
    bin_hours: float,
    view_trend: float,
    horizon_hours: float,
    hours: FloatArray,
) -> tuple[FloatArray, bool] | None:
    """The video's view rate (per hour) on the grid `hours` ahead, and whether it is an
    identified S-curve; None without views to go on."""
    rates, valid = views.rate[video], views.valid[video]
    usable = rates[valid]
    if len(usable) == 0:
        return None
    fit = _logistic(views.cumulative[video], rates, valid.copy(), bin_hours)
    if fit is not None:
        r, k, w_now = fit
        w = k / (1.0 + (k - w_now) / w_now * np.exp(-r * hours))
        return r * w * (1.0 - w / k), True
    growth = _exponential(rates, valid, bin_hours)
    if growth is not None:
        # Still in the exponential phase: grow at the measured pace, for at most the trend
        # horizon and at most MAX_GROWTH-fold (where the curve will bend is not known yet).
        pace, fitted_now = growth
        factor = np.minimum(np.exp(pace * np.minimum(hours, horizon_hours)), MAX_GROWTH)
        return fitted_now * factor, False
    recent = max(1, round(1.0 / bin_hours))
    rate_now = float(usable[-recent:].mean())
    return np.maximum(rate_now + view_trend * np.minimum(hours, horizon_hours), 0.0), False


def viral_curves(
    sales: BinnedSales,
    rows: IntArray,
    videos: IntArray,
    views: VideoViews,
    bin_hours: float,
    view_trend: FloatArray,
    horizon_hours: float,
) -> ViralCurves:
    """Demand curves of SKUs `rows`, each driven by video `videos[j]`.

    Rows whose sales do not rise with the video's views (no positive conversion) are dropped.
    """
    hours = np.arange(0.0, GRID_HOURS + GRID_STEP_HOURS / 2, GRID_STEP_HOURS)
    projected: dict[int, tuple[FloatArray, bool]] = {}
    for video in np.unique(videos):
        result = project_views(
            views, int(video), bin_hours, float(view_trend[video]), horizon_hours, hours
        )
        if result is not None:
            projected[int(video)] = result
    known = np.array([int(v) in projected for v in videos], dtype=bool)
    rows, videos = rows[known], videos[known]
    mask = sales.valid[:, rows].T & views.valid[videos]
    base, per_view = _conversion(sales.rate[:, rows].T, views.rate[videos], mask)
    linked = per_view > 0
    rows, videos, base, per_view = rows[linked], videos[linked], base[linked], per_view[linked]
    if len(rows) == 0:
        return ViralCurves(
            rows=rows,
            rate=np.zeros((0, len(hours))),
            step_hours=GRID_STEP_HOURS,
            logistic=np.zeros(0, dtype=bool),
        )
    view_rate = np.stack([projected[int(v)][0] for v in videos])
    logistic = np.array([projected[int(v)][1] for v in videos], dtype=bool)
    return ViralCurves(
        rows=rows,
        rate=np.maximum(base[:, None] + per_view[:, None] * view_rate, 0.0),
        step_hours=GRID_STEP_HOURS,
        logistic=logistic,
    )
