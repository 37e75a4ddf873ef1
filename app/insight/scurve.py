"""A video's view S-curve after take-off, as a posterior over logistic curves.

Why a posterior and not one best fit: minutes after a video takes off its views grow
exponentially, and where the S-curve will bend (how big the video gets) is not in the data yet.
A single best fit then picks an arbitrary bend; the posterior keeps every curve the samples allow
and lets the stock-out forecast take its median and quantiles. As samples come in, the curvature
of the log view rate shows, and the posterior narrows on its own.

Model: after take-off, views gained between two samples are `baseline * dt + K * (L(b) - L(a))`
with L the logistic function of (t - center) / tau. Fitted on log increments (multiplicative
noise, NOISE per 10 minutes plus Poisson), over a grid of tau (log-uniform prior, 0.25 h to a
day) and the curve's position now (center - now) / tau (uniform prior over POSITIONS: from well
past the peak to 8 e-folds before it, i.e. the rate may still grow up to ~750-fold); K is
profiled in closed form. Only the view counts TikTok reports are used.

Take-off: the first interval whose view rate is TAKE_OFF times the median rate before it (the
one rule: `took_off_at` gives it to the screens, the viral forecast starts from it). Only
intervals wholly after it are fitted, so an abrupt start (or a video first seen mid-flight)
does not bias the curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.insight.history import FloatArray

HOUR = 3600.0
TAKE_OFF = 3.0
# Log-scale noise of a 10-minute view increment (view counters update in batches).
NOISE = 0.05
# Samples closer than this to the previous one are skipped (too little change to weigh).
MIN_INTERVAL_SECONDS = 120.0
# A video's first sample is taken to cover at least this many hours of its life.
FIRST_SEEN_HOURS = 1.0
# Samples older than this are not fitted (the take-off must be within it).
WINDOW_HOURS = 24.0
TAUS = np.geomspace(0.25, 24.0, 41)
POSITIONS = np.linspace(-8.0, 8.0, 65)
MAX_SAMPLES = 96
# At most this many intervals are fitted (older ones merged): the fit's cost stays bounded.
MAX_INTERVALS = 40


def _logcosh(z: FloatArray) -> FloatArray:
    a = np.abs(z)
    result: FloatArray = a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)
    return result


def _log_gain(a: FloatArray, b: FloatArray) -> FloatArray:
    """log(L(b) - L(a)) for b > a, stable far out in both tails."""
    half = np.maximum((b - a) / 2.0, 1e-12)
    log_sinh = half + np.log1p(-np.exp(-2.0 * half)) - np.log(2.0)
    result: FloatArray = log_sinh - np.log(2.0) - _logcosh(a / 2.0) - _logcosh(b / 2.0)
    return result


def _logistic(x: FloatArray) -> FloatArray:
    result: FloatArray = 0.5 * (1.0 + np.tanh(x / 2.0))
    return result


@dataclass(frozen=True, eq=False)
class ViewPosterior:
    """Weighted logistic curves (S samples); hours are relative to `now`."""

    weight: FloatArray  # sums to 1
    scale: FloatArray  # K, views
    center: FloatArray  # hours from now to the peak (negative: past it)
    tau: FloatArray  # hours
    baseline: float  # views per hour before the take-off
    takeoff: float  # epoch seconds: start of the interval where the views jumped

    def excess_rate(self, hours: FloatArray) -> FloatArray:
        """Views per hour above the baseline, (S, H)."""
        x = (hours[None, :] - self.center[:, None]) / self.tau[:, None]
        sech = 1.0 / np.cosh(np.clip(x / 2.0, -300.0, 300.0))
        result: FloatArray = (self.scale / (4.0 * self.tau))[:, None] * sech * sech
        return result

    def excess_gained(self, hours: FloatArray) -> FloatArray:
        """Views above the baseline gained from now over each of `hours`, (S, H)."""
        x = (hours[None, :] - self.center[:, None]) / self.tau[:, None]
        x0 = -self.center / self.tau
        result: FloatArray = self.scale[:, None] * (_logistic(x) - _logistic(x0)[:, None])
        return result


def _takeoff(rate: FloatArray) -> int | None:
    """Index of the first interval at TAKE_OFF times the median rate before it (at least one
    view per hour), kept up by at least half the intervals after it."""
    if len(rate) < 2:
        return None
    # The median before k is at least the minimum before k: a cheap first cut.
    floor = np.maximum(np.minimum.accumulate(rate)[:-1], 1.0)
    candidates = np.flatnonzero(rate[1:] > TAKE_OFF * floor) + 1
    for k in candidates.tolist():
        base = max(float(np.median(rate[:k])), 1.0)
        if rate[k] > TAKE_OFF * base:
            after = rate[k:]
            if (after > TAKE_OFF * base).mean() >= 0.5:
                return k
            return None
    return None


def _residuals(
    log_tau: float, position: float, lo: FloatArray, hi: FloatArray, y: FloatArray, w: FloatArray
) -> FloatArray:
    tau = np.exp(log_tau)
    log_g = _log_gain(lo / tau - position, hi / tau - position)
    r = y - log_g
    result: FloatArray = (r - (r * w).sum() / w.sum()) * np.sqrt(w)
    return result


def _refine(
    log_tau: float, position: float, lo: FloatArray, hi: FloatArray, y: FloatArray, w: FloatArray
) -> tuple[float, float]:
    """(d log tau, d position) from the grid's best point to the least-squares optimum, at
    most one grid step each way."""
    step_tau = float(np.log(TAUS[1] / TAUS[0]))
    step_position = float(POSITIONS[1] - POSITIONS[0])
    a, b = log_tau, position
    eps = 1e-4
    for _ in range(6):
        r = _residuals(a, b, lo, hi, y, w)
        jac = np.stack(
            (
                (_residuals(a + eps, b, lo, hi, y, w) - r) / eps,
                (_residuals(a, b + eps, lo, hi, y, w) - r) / eps,
            ),
            axis=1,
        )
        try:
            delta = np.linalg.lstsq(jac, -r, rcond=None)[0]
        except np.linalg.LinAlgError:
            break
        a = float(np.clip(a + delta[0], log_tau - step_tau, log_tau + step_tau))
        b = float(np.clip(b + delta[1], position - step_position, position + step_position))
    before = float((_residuals(log_tau, position, lo, hi, y, w) ** 2).sum())
    after = float((_residuals(a, b, lo, hi, y, w) ** 2).sum())
    return (a - log_tau, b - position) if after < before else (0.0, 0.0)


def _intervals(
    times: FloatArray, counts: FloatArray, now: float, window_hours: float
) -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """(sample times, cumulative counts, views per hour of each interval between them) of the
    samples in the `window_hours` before `now`; None with fewer than four samples."""
    keep = (times <= now) & (times >= now - window_hours * HOUR)
    t, c = times[keep], counts[keep]
    if len(t) < 4:
        return None
    order = np.argsort(t, kind="stable")
    t, c = t[order], np.maximum.accumulate(c[order])
    chosen = [0]
    for i in range(1, len(t)):
        if t[i] - t[chosen[-1]] >= MIN_INTERVAL_SECONDS:
            chosen.append(i)
    t, c = t[chosen], c[chosen]
    if t[0] > now - window_hours * HOUR + FIRST_SEEN_HOURS * HOUR:
        # A video first seen inside the window is taken to have gathered its first count over
        # at least FIRST_SEEN_HOURS: a count that then jumps is a take-off.
        t = np.concatenate(([t[0] - FIRST_SEEN_HOURS * HOUR], t))
        c = np.concatenate(([0.0], c))
    rate: FloatArray = np.diff(c) / (np.diff(t) / HOUR)
    return t, c, rate


def took_off_at(
    times: FloatArray, counts: FloatArray, now: float, window_hours: float = WINDOW_HOURS
) -> float | None:
    """When a video's views took off (epoch seconds: the start of the interval where they
    jumped), judged on its samples of the last `window_hours`; None if they have not."""
    prepared = _intervals(times, counts, now, window_hours)
    if prepared is None:
        return None
    t, _counts, rate = prepared
    k = _takeoff(rate)
    return None if k is None else float(t[k])


def fit_views(times: FloatArray, counts: FloatArray, now: float) -> ViewPosterior | None:
    """The posterior over the video's S-curve from its cumulative view samples up to `now`;
    None without a take-off in the last WINDOW_HOURS or without two intervals after it."""
    prepared = _intervals(times, counts, now, WINDOW_HOURS)
    if prepared is None:
        return None
    t, c, rate = prepared
    k = _takeoff(rate)
    if k is None or len(rate) - (k + 1) < 2:
        return None
    baseline = float(np.median(rate[:k]))
    takeoff = float(t[k])
    t, c = t[k + 1 :], c[k + 1 :]
    if len(t) > MAX_INTERVALS + 1:
        # Keep the recent samples as they are, merge older intervals: recent ones matter most.
        recent = t[-(MAX_INTERVALS // 2) :]
        older = np.unique(
            np.round(np.linspace(0, len(t) - MAX_INTERVALS // 2 - 1, MAX_INTERVALS // 2))
        ).astype(np.int64)
        keep_index = np.concatenate((older, np.arange(len(t) - len(recent), len(t))))
        t, c = t[keep_index], c[keep_index]
    edges = (t - now) / HOUR  # hours, <= 0
    span = np.diff(t) / HOUR
    gained = np.maximum(np.diff(c) - baseline * span, 1.0)
    y = np.log(gained)
    var = NOISE * NOISE * np.maximum(1.0, (1.0 / 6.0) / span) + 1.0 / gained
    w = 1.0 / var
    lo, hi = edges[:-1], edges[1:]
    taus = TAUS[:, None, None]
    centers = POSITIONS[None, :, None] * taus
    log_g = _log_gain((lo[None, None, :] - centers) / taus, (hi[None, None, :] - centers) / taus)
    resid = y[None, None, :] - log_g
    log_k = (resid * w).sum(axis=2) / w.sum()
    sse = (w * (resid - log_k[:, :, None]) ** 2).sum(axis=2)
    # Dispersion: when even the best curve of the grid misses by more than the noise (a curve
    # not quite logistic, or between grid points), the likelihood is flattened to match, so
    # the posterior does not collapse onto one slightly wrong grid point.
    dispersion = max(1.0, float(sse.min()) / max(len(y) - 3, 1))
    log_post = -0.5 * sse / dispersion
    log_post -= log_post.max()
    flat = log_post.ravel()
    top = np.argsort(flat)[::-1][:MAX_SAMPLES]
    weight = np.exp(flat[top])
    weight /= weight.sum()
    ti, pi = np.unravel_index(top, log_post.shape)
    log_tau, position = np.log(TAUS[ti]), POSITIONS[pi]
    # The grid is coarser than what exact counts pin down: move the samples by the step that
    # takes the best one to the continuous optimum (a few Gauss-Newton steps).
    offset = _refine(log_tau[0], position[0], lo, hi, y, w)
    log_tau, position = log_tau + offset[0], position + offset[1]
    tau = np.exp(log_tau)
    center = position * tau
    log_g = _log_gain(
        (lo[None, :] - center[:, None]) / tau[:, None],
        (hi[None, :] - center[:, None]) / tau[:, None],
    )
    log_k = ((y[None, :] - log_g) * w).sum(axis=1) / w.sum()
    return ViewPosterior(
        weight=weight,
        scale=np.exp(log_k),
        center=center,
        tau=tau,
        baseline=baseline,
        takeoff=takeoff,
    )
