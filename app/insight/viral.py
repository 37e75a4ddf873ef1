"""Demand of a SKU that a video is driving: its sales follow the video's view rate.

For a video whose views took off (a jump to TAKE_OFF times their usual pace, see
`app.insight.scurve`), the views' S-curve is a posterior over logistic curves, and the SKU's
demand is `base + conversion * excess view rate`: the base from its sales before the take-off,
the conversion (units per excess view) a Poisson fit of its sales since, with the uncertainty
of few orders. The stock-out time is solved for every (curve, conversion) pair from the expected
cumulative demand; the forecast is their weighted median and the band their 5-95% quantiles.
Minutes after a take-off both the curve's bend and the conversion are uncertain and the band is
wide; it narrows as orders come in and the views bend.

Videos without a take-off in view (a steady video, or one first seen mid-flight) keep the
simpler projection: a least-squares link of sales to view rate, with the view rate projected by
a bell fitted once the views bend (`_bell`), a capped exponential before (`_exponential`), or
the view rate's Holt trend. Only the few attributed SKUs get here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.insight.forecast import BinnedSales, VideoViews
from app.insight.history import BoolArray, FloatArray, IntArray
from app.insight.scurve import TAKE_OFF, ViewPosterior

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
# The damped projection (`damped_views`): the pace of the last GROWTH_SPAN_BINS against the
# ones before, capped at MAX_LOG_PACE per hour, damped with a time constant of AGE_FACTOR times
# the climb's age (hours since the rate was last at AGE_SHARE of today's), at least
# DAMPING_HOURS and at most MAX_DAMPING_HOURS: a surge that has climbed for hours is given
# longer to keep climbing than one that began minutes ago.
GROWTH_SPAN_BINS = 2
MAX_LOG_PACE = 3.0
DAMPING_HOURS = 1.0
AGE_SHARE = 0.05
AGE_FACTOR = 1.0
MAX_DAMPING_HOURS = 6.0


@dataclass(frozen=True, eq=False)
class ViralCurves:
    """Projected demand rates (per hour) of some SKUs on the grid 0, step, 2 * step, ...

    Row `j` belongs to SKU `rows[j]`; after the grid the last rate is held. `rate` is the
    central curve (the one whose stock-out is the forecast's), `busy` / `quiet` the curves at
    the band's edges. `hours_left` / `hours_low` / `hours_high` are the forecast per row at the
    stock it was computed for (inf: never within the model).
    """

    rows: IntArray
    rate: FloatArray
    step_hours: float
    logistic: BoolArray  # per row: the video's S-curve posterior was used
    busy: FloatArray
    quiet: FloatArray
    hours_left: FloatArray
    hours_low: FloatArray
    hours_high: FloatArray
    # The expected rate over the posterior (not the curve picked at the median stock-out, so
    # it does not depend on the stock): what the track record checks.
    expected: FloatArray | None = None
    # The same rows' demand with the view rate held at its recent pace, growth damped
    # (`damped_views`): the shape-free alternative the track record weighs against this one.
    damped: ViralCurves | None = None

    def select(self, keep: BoolArray) -> ViralCurves:
        return ViralCurves(
            self.rows[keep],
            self.rate[keep],
            self.step_hours,
            self.logistic[keep],
            self.busy[keep],
            self.quiet[keep],
            self.hours_left[keep],
            self.hours_low[keep],
            self.hours_high[keep],
            None if self.expected is None else self.expected[keep],
            None if self.damped is None else self.damped.select(keep),
        )

    @property
    def span(self) -> float:
        return self.step_hours * float(self.rate.shape[1] - 1)

    def _cumulative_grid(self, rate: FloatArray) -> FloatArray:
        areas = 0.5 * (rate[:, 1:] + rate[:, :-1]) * self.step_hours
        return np.concatenate((np.zeros((len(rate), 1)), np.cumsum(areas, axis=1)), axis=1)

    def cumulative(self, hours: FloatArray, rate: FloatArray | None = None) -> FloatArray:
        """Units demanded over the next `hours[j]` hours, per row (central curve, or `rate`)."""
        rate = self.rate if rate is None else rate
        grid = self._cumulative_grid(rate)
        h = np.maximum(np.asarray(hours, dtype=np.float64), 0.0)
        last = grid.shape[1] - 1
        j = np.minimum(np.floor(h / self.step_hours).astype(np.int64), last - 1)
        rows = np.arange(len(grid))
        frac = np.clip(h / self.step_hours - j, 0.0, 1.0)
        inside = grid[rows, j] + frac * (grid[rows, j + 1] - grid[rows, j])
        beyond = grid[:, -1] + rate[:, -1] * (h - self.span)
        return np.where(h <= self.span, inside, beyond)

    def cumulative_row(self, row: int, hours: FloatArray, which: str = "central") -> FloatArray:
        """Units demanded by row `row` over each of `hours` on the central, busy or quiet
        curve."""
        source = {"central": self.rate, "busy": self.busy, "quiet": self.quiet}[which]
        rate = np.maximum(source[row : row + 1], 0.0)
        grid = self._cumulative_grid(rate)[0]
        steps = np.arange(len(grid)) * self.step_hours
        h = np.maximum(np.asarray(hours, dtype=np.float64), 0.0)
        inside = np.interp(h, steps, grid)
        result: FloatArray = np.where(
            h <= self.span, inside, grid[-1] + rate[0, -1] * (h - self.span)
        )
        return result

    def hours_until(self, units: FloatArray, rate: FloatArray | None = None) -> FloatArray:
        """Hours until cumulative demand on `rate` (default: the central curve) reaches
        `units[j]`; inf when it never does."""
        rate = np.maximum(self.rate if rate is None else rate, 0.0)
        return hours_until_grid(rate, self.step_hours, units)


def hours_until_grid(rate: FloatArray, step_hours: float, units: FloatArray) -> FloatArray:
    """Per row of `rate` (per hour on a grid of `step_hours`, last rate held after it): hours
    until cumulative demand reaches `units[j]` (inf when it never does)."""
    areas = 0.5 * (rate[:, 1:] + rate[:, :-1]) * step_hours
    grid = np.concatenate((np.zeros((len(rate), 1)), np.cumsum(areas, axis=1)), axis=1)
    span = step_hours * float(rate.shape[1] - 1)
    a = np.maximum(np.asarray(units, dtype=np.float64), 0.0)
    rows = np.arange(len(grid))
    j = np.clip((grid < a[:, None]).sum(axis=1), 1, grid.shape[1] - 1)
    lo, hi = grid[rows, j - 1], grid[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (j - 1 + np.where(hi > lo, (a - lo) / (hi - lo), 0.0)) * step_hours
        beyond = span + (a - grid[:, -1]) / rate[:, -1]
    result = np.where(a <= grid[:, -1], inside, np.where(rate[:, -1] > 0, beyond, np.inf))
    out: FloatArray = np.where(a <= 0, 0.0, result)
    return out


# Relative spread of a view rate below which it is constant: float rounding, not variation.
# Why: view rates are differences of interpolated cumulative counts (`forecast.bin_views`), so
# a video gaining views at a steady pace has rates equal up to rounding (about 1e-14 of their
# size). A least-squares slope on that wobble is noise divided by almost nothing: a steady
# video once gave a SKU 3e7 units an hour, billions at risk, and cents beyond int64 on screen.
# Any real change of a view rate is many orders of magnitude above this.
ROUNDING = 1e-9


def _conversion(
    sales: FloatArray, views: FloatArray, mask: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Per row (base, per_view) from least squares of sales rate on view rate over `mask`;
    per_view <= 0 means no usable link (as for views that are constant up to ROUNDING)."""
    weight = mask.astype(np.float64)
    count = weight.sum(axis=1)
    enough = count >= 4
    n = np.maximum(count, 1.0)
    mean_v = (weight * views).sum(axis=1) / n
    mean_s = (weight * sales).sum(axis=1) / n
    dv = (views - mean_v[:, None]) * weight
    var = (dv * dv).sum(axis=1)
    cov = (dv * (sales - mean_s[:, None])).sum(axis=1)
    scale = (np.abs(views) * weight).max(axis=1, initial=0.0)
    moving = np.sqrt(var) > ROUNDING * scale * np.sqrt(n)
    per_view = np.where(enough & moving, cov / np.maximum(var, 1e-300), 0.0)
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
    # No take-off in the window (a video ticking along at its usual pace): nothing to fit. The
    # same factor as the take-off rule (`scurve.TAKE_OFF`), here on the window's peak rate.
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


def damped_views(
    views: VideoViews, video: int, bin_hours: float, hours: FloatArray
) -> FloatArray | None:
    """The video's view rate on the grid `hours` ahead with no shape assumed: the rate of the
    last GROWTH_SPAN_BINS observed bins, growing (or falling) at its log pace against the bins
    before, the pace damped with DAMPING_HOURS (Gardner's damped trend on the log rate), so a
    rise levels off at exp(pace * DAMPING_HOURS) of today's rate and a fall does not reach zero.

    Why: the S-curve and the bell assume where a surge bends, and minutes after a take-off the
    data do not say; log-normal rises, gamma surges, plateaus and second videos all bend
    elsewhere. Holding the recent pace, damped, is wrong by less on all of them (measured on
    the tuning families, `tests/benchmarks/bench_forecast.py`), and the track record
    (`app.insight.ensemble`) hands over to the S-curve where it has predicted better.
    """
    rates, valid = views.rate[video], views.valid[video]
    observed = np.flatnonzero(valid)
    if len(observed) == 0:
        return None
    last = observed[-GROWTH_SPAN_BINS:]
    before = observed[-2 * GROWTH_SPAN_BINS : -GROWTH_SPAN_BINS]
    now = float(rates[last].mean())
    previous = float(rates[before].mean()) if len(before) else 0.0
    pace = 0.0
    if now > 0 and previous > 0:
        pace = math.log(now / previous) / (len(last) * bin_hours)
    pace = min(max(pace, -MAX_LOG_PACE), MAX_LOG_PACE)
    # How long the rate has been climbing to where it is: since the last bin at a fifth of it.
    quiet = observed[rates[observed] <= AGE_SHARE * now]
    age = (observed[-1] - (quiet[-1] if len(quiet) else observed[0])) * bin_hours
    tau = min(max(AGE_FACTOR * age, DAMPING_HOURS), MAX_DAMPING_HOURS)
    damped = tau * (1.0 - np.exp(-hours / tau))
    result: FloatArray = now * np.exp(pace * damped)
    return result


# The conversion posterior is summarised by these quantiles (equal weights) and the band is
# the stock-out's BAND_LOW..BAND_HIGH quantile range over curves and conversions.
_CONVERSION_Z = np.array([-1.2816, -0.5244, 0.0, 0.5244, 1.2816])
BAND_LOW = 0.05
BAND_HIGH = 0.95
# Sales before the take-off give the SKU's own rate, over at least this many in-stock hours.
MIN_BASE_HOURS = 6.0
# The posterior is used once the surge explains at least this share of the units sold since the
# take-off.
SURGE_SHARE = 0.5


def gamma_quantiles(shape: float, z: FloatArray) -> FloatArray:
    """Quantiles of Gamma(shape, 1) at standard normal scores `z` (Wilson-Hilferty)."""
    k = max(shape, 1e-3)
    cube = np.maximum(1.0 - 1.0 / (9.0 * k) + z / (3.0 * math.sqrt(k)), 0.0)
    result: FloatArray = k * cube**3
    return result


def _hours_to(cumulative: FloatArray, hours: FloatArray, units: float) -> FloatArray:
    """Per row of `cumulative` (on the grid `hours`), hours until it reaches `units`; after
    the grid the last step's rate is held (inf when it is zero)."""
    if units <= 0:
        return np.zeros(len(cumulative))
    reached = cumulative >= units
    j = np.argmax(reached, axis=1)
    rows = np.arange(len(cumulative))
    lo = cumulative[rows, np.maximum(j - 1, 0)]
    hi = cumulative[rows, j]
    step = hours[1] - hours[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (
            hours[np.maximum(j - 1, 0)] + np.where(hi > lo, (units - lo) / (hi - lo), 0.0) * step
        )
        last_rate = (cumulative[:, -1] - cumulative[:, -2]) / step
        beyond = hours[-1] + (units - cumulative[:, -1]) / last_rate
    beyond = np.where(last_rate > 0, beyond, np.inf)
    result: FloatArray = np.where(reached.any(axis=1), inside, beyond)
    return result


@dataclass(frozen=True, eq=False)
class RowForecast:
    central: FloatArray  # rate on the grid
    busy: FloatArray
    quiet: FloatArray
    hours: tuple[float, float, float]  # left, low, high
    expected: FloatArray | None = None  # the posterior's mean rate


def poisson_link(
    units: FloatArray, stocked: FloatArray, views: FloatArray, base: float, per_view: float
) -> tuple[float, float, float]:
    """(base, per_view, variance of per_view): Poisson maximum likelihood of units per bin
    = (base + per_view * excess views per hour) * in-stock hours, both non-negative, by a few
    Newton steps from the given start; the variance from the Fisher information."""
    b, c = max(base, 1e-6), max(per_view, 1e-12)
    ok = stocked > 0
    y, s, x = units[ok], stocked[ok], views[ok]
    info = np.eye(2)
    for _ in range(25):
        lam = np.maximum((b + c * x) * s, 1e-12)
        ratio = y / lam - 1.0
        grad = np.array([(ratio * s).sum(), (ratio * s * x).sum()])
        weight = s * s / lam
        info = np.array(
            [[weight.sum(), (weight * x).sum()], [(weight * x).sum(), (weight * x * x).sum()]]
        )
        try:
            step = np.linalg.solve(info + 1e-12 * np.eye(2), grad)
        except np.linalg.LinAlgError:
            break
        nb, nc = b + step[0], c + step[1]
        b, c = max(nb, 0.5 * b if nb <= 0 else nb), max(nc, 0.5 * c if nc <= 0 else nc)
        if abs(step[1]) <= 1e-6 * c:
            break
    try:
        variance = float(np.linalg.inv(info + 1e-12 * np.eye(2))[1, 1])
    except np.linalg.LinAlgError:
        variance = c * c
    return float(b), float(c), max(variance, 0.0)


def stockout_posterior(
    posterior: ViewPosterior,
    base: float,
    exposure: float,
    per_view: float,
    variance: float,
    units: float,
    hours: FloatArray,
) -> RowForecast | None:
    """The stock-out time of one SKU over the views' posterior and the conversion's.

    Demand is `base + conversion * excess view rate`; the conversion is Gamma distributed
    from the fit's effective counts (Jeffreys' posterior for Poisson counts over `exposure`
    excess views).
    Each (curve, conversion) pair gives a stock-out time; the forecast is their weighted
    median and the band its BAND_LOW..BAND_HIGH quantiles. The pairs realising them give
    the curves drawn.
    """
    if exposure <= 0:
        return None
    # Gamma(k + 1/2, scale): k = per_view^2 / variance effective counts; for plain Poisson
    # counts (no base rate to separate) this is Gamma(n + 1/2, exposure), Jeffreys' posterior.
    scale = max(variance / per_view, 1.0 / exposure) if per_view > 0 else 1.0 / exposure
    shape = max(per_view, 0.0) / scale + 0.5
    conversion = gamma_quantiles(shape, _CONVERSION_Z) * scale
    gained = posterior.excess_gained(hours)  # (S, H)
    cumulative = base * hours[None, None, :] + conversion[None, :, None] * gained[:, None, :]
    s, q = len(gained), len(conversion)
    flat = cumulative.reshape(s * q, len(hours))
    t = _hours_to(flat, hours, units)
    weight = np.repeat(posterior.weight / q, q)
    order = np.lexsort((-flat[:, -1], t))
    cum = np.cumsum(weight[order])
    at = np.minimum(np.searchsorted(cum, np.array([0.5, BAND_LOW, BAND_HIGH])), len(order) - 1)
    picks = [int(i) for i in order[at].tolist()]
    rate = posterior.excess_rate(hours)
    curves = [base + conversion[i % q] * rate[i // q] for i in picks]
    left, low, high = (float(t[i]) for i in picks)
    mean = base + (posterior.weight[:, None] * rate).sum(axis=0) * float(conversion.mean())
    return RowForecast(
        curves[0], curves[1], curves[2], (left, min(low, left), max(high, left)), mean
    )


def _fallback_rows(
    sales: BinnedSales,
    rows: IntArray,
    videos: IntArray,
    views: VideoViews,
    projected: dict[int, tuple[FloatArray, bool]],
) -> tuple[IntArray, FloatArray, BoolArray]:
    """Rows driven by videos without an S-curve posterior: sales = base + per_view * projected
    view rate (least squares); rows without a positive link are dropped."""
    known = np.array([int(v) in projected for v in videos], dtype=bool)
    rows, videos = rows[known], videos[known]
    mask = sales.valid[:, rows].T & views.valid[videos]
    base, per_view = _conversion(sales.rate[:, rows].T, views.rate[videos], mask)
    linked = per_view > 0
    rows, videos, base, per_view = rows[linked], videos[linked], base[linked], per_view[linked]
    if len(rows) == 0:
        return rows, np.zeros((0, len(next(iter(projected.values()))[0]))), np.zeros(0, bool)
    view_rate = np.stack([projected[int(v)][0] for v in videos])
    logistic = np.array([projected[int(v)][1] for v in videos], dtype=bool)
    return rows, np.maximum(base[:, None] + per_view[:, None] * view_rate, 0.0), logistic


def viral_curves(
    sales: BinnedSales,
    rows: IntArray,
    videos: IntArray,
    views: VideoViews,
    bin_hours: float,
    view_trend: FloatArray,
    horizon_hours: float,
    *,
    posteriors: dict[int, ViewPosterior],
    edges: FloatArray,
    units: FloatArray,
    spread: FloatArray,
    band_fraction: float,
    grid_hours: float = GRID_HOURS,
) -> ViralCurves:
    """Demand curves and stock-out forecasts of SKUs `rows` (at stock `units[j]`), each driven
    by video `videos[j]`.

    A video with an S-curve posterior (`posteriors`, by video index) drives its SKUs through
    `stockout_posterior`; others through the least-squares link to their projected view rate,
    with the band the curve moved by `spread[j]` (at least `band_fraction` of the rate). Rows
    whose sales do not rise with the video's views are dropped.
    """
    hours = np.arange(0.0, grid_hours + GRID_STEP_HOURS / 2, GRID_STEP_HOURS)
    width = bin_hours
    stock_of = dict(zip(rows.tolist(), units.tolist(), strict=True))
    spread_of = dict(zip(rows.tolist(), spread.tolist(), strict=True))
    out_rows: list[int] = []
    central: list[FloatArray] = []
    expected: list[FloatArray] = []
    busy: list[FloatArray] = []
    quiet: list[FloatArray] = []
    found: list[tuple[float, float, float]] = []
    logistic: list[bool] = []
    by_posterior = np.array([int(v) in posteriors for v in videos], dtype=bool)
    for j in np.flatnonzero(by_posterior).tolist():
        row, video = int(rows[j]), int(videos[j])
        posterior = posteriors[video]
        after = edges[1:] > posterior.takeoff
        stocked = sales.in_stock_hours[:, row]
        base = float(sales.units[~after, row].sum()) / max(
            float(stocked[~after].sum()), MIN_BASE_HOURS
        )
        excess = np.maximum(np.diff(views.cumulative[video]) - posterior.baseline * width, 0.0)
        excess = np.where(after, excess, 0.0)
        exposure = float((excess * stocked / width).sum())
        excess_units = float(sales.units[after, row].sum()) - base * float(stocked[after].sum())
        base, per_view, variance = poisson_link(
            sales.units[:, row],
            stocked,
            excess / width,
            base,
            max(excess_units, 0.5) / max(exposure, 1e-9),
        )
        sold_after = float(sales.units[after, row].sum())
        if per_view * exposure < SURGE_SHARE * sold_after:
            # The SKU's own sales still outweigh what the surge added: the conversion cannot be
            # told apart from the base rate yet, so the simpler least-squares link serves.
            by_posterior[j] = False
            continue
        result = stockout_posterior(
            posterior, base, exposure, per_view, variance, stock_of[row], hours
        )
        if result is None:
            continue
        out_rows.append(row)
        central.append(result.central)
        expected.append(result.central if result.expected is None else result.expected)
        busy.append(result.busy)
        quiet.append(result.quiet)
        found.append(result.hours)
        logistic.append(True)
    rest, rest_videos = rows[~by_posterior], videos[~by_posterior]
    projected: dict[int, tuple[FloatArray, bool]] = {}
    for video in np.unique(rest_videos):
        projection = project_views(
            views, int(video), bin_hours, float(view_trend[video]), horizon_hours, hours
        )
        if projection is not None:
            projected[int(video)] = projection
    if projected:
        more, rate, flags = _fallback_rows(sales, rest, rest_videos, views, projected)
        if len(more):
            spread_more = np.array([spread_of[r] for r in more.tolist()])
            stock = np.array([stock_of[r] for r in more.tolist()])
            up, down = _moved_by(rate, spread_more, band_fraction)
            left, low, high = _grid_hours(rate, up, down, stock)
            for j, row in enumerate(more.tolist()):
                out_rows.append(row)
                central.append(rate[j])
                expected.append(rate[j])
                busy.append(up[j])
                quiet.append(down[j])
                found.append((float(left[j]), float(low[j]), float(high[j])))
                logistic.append(bool(flags[j]))
    if not out_rows:
        empty = np.zeros((0, len(hours)))
        none = np.zeros(0)
        return ViralCurves(
            np.zeros(0, dtype=np.int64), empty, GRID_STEP_HOURS, np.zeros(0, dtype=bool),
            empty, empty, none, none, none,
        )  # fmt: skip
    order = np.argsort(np.array(out_rows), kind="stable")
    triple = np.array(found, dtype=np.float64)[order]
    final_rows = np.array(out_rows, dtype=np.int64)[order]
    central_rate = np.maximum(np.stack(central)[order], 0.0)
    expected_rate = np.maximum(np.stack(expected)[order], 0.0)
    busy_rate = np.maximum(np.stack(busy)[order], 0.0)
    quiet_rate = np.maximum(np.stack(quiet)[order], 0.0)
    video_of = dict(zip(rows.tolist(), videos.tolist(), strict=True))
    damped = _damped_curves(
        sales,
        final_rows,
        np.array([video_of[r] for r in final_rows.tolist()], dtype=np.int64),
        views,
        bin_hours,
        hours,
        np.array([stock_of[r] for r in final_rows.tolist()]),
        np.array([spread_of[r] for r in final_rows.tolist()]),
        band_fraction,
        # The posterior's mean, not the curve picked at this stock: the weighing must not
        # depend on the stock (more stock never means fewer hours).
        (expected_rate, busy_rate, quiet_rate),
    )
    return ViralCurves(
        rows=final_rows,
        rate=central_rate,
        step_hours=GRID_STEP_HOURS,
        logistic=np.array(logistic, dtype=bool)[order],
        busy=busy_rate,
        quiet=quiet_rate,
        hours_left=triple[:, 0],
        hours_low=triple[:, 1],
        hours_high=triple[:, 2],
        expected=expected_rate,
        damped=damped,
    )


def _damped_curves(
    sales: BinnedSales,
    rows: IntArray,
    videos: IntArray,
    views: VideoViews,
    bin_hours: float,
    hours: FloatArray,
    stock: FloatArray,
    spread: FloatArray,
    band_fraction: float,
    fallback: tuple[FloatArray, FloatArray, FloatArray],
) -> ViralCurves:
    """The rows' demand on the damped view projection (`damped_views`), linked to sales by
    least squares; a row whose sales show no link keeps its `fallback` curves (central, busy,
    quiet), so weighing the two changes nothing for it."""
    projected: dict[int, tuple[FloatArray, bool]] = {}
    for video in np.unique(videos).tolist():
        rate = damped_views(views, int(video), bin_hours, hours)
        if rate is not None:
            projected[int(video)] = (rate, False)
    central, busy, quiet = (curve.copy() for curve in fallback)
    if projected:
        linked, rate, _ = _fallback_rows(sales, rows, videos, views, projected)
        if len(linked):
            at = np.searchsorted(rows, linked)
            central[at] = rate
            busy[at], quiet[at] = _moved_by(rate, spread[at], band_fraction)
    left, low, high = _grid_hours(central, busy, quiet, stock)
    return ViralCurves(
        rows=rows,
        rate=central,
        step_hours=GRID_STEP_HOURS,
        logistic=np.zeros(len(rows), dtype=bool),
        busy=busy,
        quiet=quiet,
        hours_left=left,
        hours_low=low,
        hours_high=high,
        expected=central,
    )


def _moved_by(
    rate: FloatArray, spread: FloatArray, band_fraction: float
) -> tuple[FloatArray, FloatArray]:
    """(busy, quiet): the curves moved up and down by `spread` per row, at least
    `band_fraction` of the rate now; quiet never below zero."""
    shift = np.maximum(spread, band_fraction * rate[:, 0])[:, None]
    return rate + shift, np.maximum(rate - shift, 0.0)


def _grid_hours(
    central: FloatArray, busy: FloatArray, quiet: FloatArray, stock: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(left, low, high) hours until `stock` on the central curve and the band's ends."""
    left = hours_until_grid(central, GRID_STEP_HOURS, stock)
    low = np.minimum(hours_until_grid(busy, GRID_STEP_HOURS, stock), left)
    high = np.maximum(hours_until_grid(quiet, GRID_STEP_HOURS, stock), left)
    return left, low, high
