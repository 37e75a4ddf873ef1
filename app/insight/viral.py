"""Demand of a SKU that a video is driving: its sales follow the video's view rate.

For a SKU attributed to a video, sales per hour are modelled as `base + per_view * view_rate`
(least squares over the model window's bins), and the view rate is projected forward:
- once the views' S-curve has visibly bent, by the bell-shaped rate of a logistic curve fitted
  to the recent view rates (`_bell`);
- before that, in the exponential phase, by the measured growth pace, for at most the trend
  horizon and at most MAX_GROWTH-fold, because where the curve will bend is not knowable yet;
- without steady growth, by the view rate's Holt trend.
Views are far less noisy than sales and move first, so a surge shows in the forecast as soon as
the views take off, and its end shows when they bend over. Only the few attributed SKUs get
here; they are projected together on a fine time grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.insight.forecast import BinnedSales, VideoViews
from app.insight.history import BoolArray, FloatArray, IntArray

# The forecast grid: steps of 6 minutes for 4 days, then the last rate is held.
GRID_STEP_HOURS = 0.1
GRID_HOURS = 96.0
# The bell curve is fitted on the last hours of views only (older growth says little).
FIT_HOURS = 12.0
# Exponential growth is measured over the last hours, and projected at most this many-fold.
EXP_FIT_HOURS = 3.0
MAX_GROWTH = 10.0
# The bell-curve fit: bins under BELL_FLOOR of the window's peak are ignored, peaks are looked
# for up to BELL_AHEAD_HOURS ahead, and the bell must leave at most BELL_GAIN of the straight
# exponential's squared error.
BELL_FLOOR = 0.05
BELL_AHEAD_HOURS = 24.0
BELL_GAIN = 0.5
# A take-off: the window's peak view rate is at least this many times its median.
TAKE_OFF = 3.0


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

    def cumulative_row(self, row: int, hours: FloatArray, delta: float = 0.0) -> FloatArray:
        """Units demanded by row `row` over each of `hours`, every rate moved by `delta`."""
        rate = np.maximum(self.rate[row : row + 1] + delta, 0.0)
        grid = self._cumulative_grid(rate)[0]
        steps = np.arange(len(grid)) * self.step_hours
        h = np.maximum(np.asarray(hours, dtype=np.float64), 0.0)
        inside = np.interp(h, steps, grid)
        result: FloatArray = np.where(
            h <= self.span, inside, grid[-1] + rate[0, -1] * (h - self.span)
        )
        return result

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


def _bell(
    rate: FloatArray, valid: np.ndarray, bin_hours: float
) -> tuple[float, float, float] | None:
    """(peak rate, peak time in hours from now, tau hours) of the view rate's bell curve.

    A logistic S-curve's rate is peak * sech^2((t - m) / (2 tau)). Fitting the rate rather than
    the cumulative views makes the fit blind to where counting started (a curve that begins
    abruptly, or a video first seen mid-flight). Least squares on log rate over a grid of
    (m, tau), the scale in closed form; bins below 5% of the window's peak (the quiet time
    before take-off) are left out. None unless the bend is clearly there: the bell must fit
    far better than a straight exponential, with its peak not beyond the grid.
    """
    count = max(6, round(FIT_HOURS / bin_hours))
    y, ok = rate[-count:], valid[-count:]
    top = float(y[ok].max()) if ok.any() else 0.0
    if top <= 0:
        return None
    # No take-off in the window (a video ticking along at its usual pace): nothing to fit.
    if top < TAKE_OFF * float(np.median(y[ok])):
        return None
    ok = ok & (y > BELL_FLOOR * top)
    if ok.sum() < 6:
        return None
    t = (np.arange(len(y), dtype=np.float64) - len(y) + 0.5)[ok] * bin_hours
    log = np.log(y[ok])
    centers = np.arange(t[0], BELL_AHEAD_HOURS + 1e-9, max(bin_hours, 0.5))
    taus = np.geomspace(0.25, 12.0, 16)
    shape = -2.0 * np.log(
        np.cosh((t[None, None, :] - centers[None, :, None]) / (2.0 * taus[:, None, None]))
    )
    scale = (log[None, None, :] - shape).mean(axis=2)
    sse = ((log[None, None, :] - shape - scale[:, :, None]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    slope, intercept = np.polyfit(t, log, 1)
    straight = float(((log - slope * t - intercept) ** 2).sum())
    if centers[j] >= centers[-1] - 1e-9 or sse[i, j] > BELL_GAIN * straight:
        return None
    return float(np.exp(scale[i, j])), float(centers[j]), float(taus[i])


def _exponential(
    rate: FloatArray, valid: np.ndarray, bin_hours: float
) -> tuple[float, float] | None:
    """(growth per hour, rate now) of the view rate over the last EXP_FIT_HOURS: the median of
    bin-to-bin log growth since take-off (robust to the jump itself); None unless it grows
    steadily (at least three quarters of the steps up)."""
    count = max(4, round(EXP_FIT_HOURS / bin_hours))
    y, ok = rate[-count:], valid[-count:] & (rate[-count:] > 0)
    y = y[ok]
    # Only the take-off counts: the quiet bins before it would drag the median to zero, and
    # the first bin above them may hold only part of the take-off.
    if len(y):
        flying = y > BELL_FLOOR * y.max()
        first = int(np.argmax(flying))
        y = y[first + 1 :] if first > 0 else y[flying]
    if len(y) < 4:
        return None
    steps = np.diff(np.log(y)) / bin_hours
    pace = float(np.median(steps))
    if pace <= 0 or (steps > 0).mean() < 0.75:
        return None
    return pace, float(y[-1]) * math.exp(pace * bin_hours / 2)


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
    bell = _bell(rates, valid, bin_hours)
    if bell is not None:
        peak, center, tau = bell
        return peak / np.cosh((hours - center) / (2.0 * tau)) ** 2, True
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
