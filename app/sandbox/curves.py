"""Demand-curve families: how a SKU's sales can move when videos drive them, as plain arrays.

Why a module of its own: the forecast must hold on viral shapes it was not built around, so the
backtest (`tests/benchmarks/bench_forecast.py`, `tests/insight/test_backtest.py`) and the
sandbox's scenarios draw from the same families. Pure numpy, no sandbox state, no insight types:
a case is the truth (intensity, sales, stock path, stock-outs) plus what a seller's store would
see of it (sales with or without the video named, view samples that may be noisy or late, video
links that may be missing).

A case is simulated minute by minute: intensity (units per hour) = the SKU's baseline, times a
day/night and weekday cycle, plus each video's conversion times its view rate; sales are
Poisson from it while in stock; cancelled units come back to the shelf an hour or so later and
are not sales; restocks add units at planned moments.

Families are split: `TUNING_FAMILIES` are the shapes the forecast was tuned on, the rest are
held out; `draw_case(family, seed, split)` also draws the parameters from a narrower inner range
for the "tuning" split than for "report", so the reported cases differ in seeds, in parameter
draws and, for held-out families, in shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HOUR = 3600.0
DAY = 24 * HOUR
# 2026-01-05T00:00:00Z, a Monday: the weekday cycle starts on a known day.
EPOCH = 1_767_571_200.0
# Every case: this much steady history before the judged window opens.
HISTORY_DAYS = 7.0
# The judged window: from the history's end, this long.
WINDOW_HOURS = 60.0

Split = Literal["tuning", "report"]


@dataclass(frozen=True)
class VideoPlan:
    """One video: onset (hours into the window), view-rate shape, views, units per view."""

    shape: str
    onset_hours: float
    total_views: float
    per_view: float
    params: tuple[float, ...]
    linked: bool = True


@dataclass(frozen=True)
class CasePlan:
    family: str
    seed: int
    baseline: float  # units per hour, daily average
    daily_amplitude: float  # day/night: rate x (1 + a sin(...))
    weekend_factor: float
    stock_at_window: float  # units on hand when the window opens
    videos: tuple[VideoPlan, ...] = ()
    explicit_share: float = 0.0  # share of video-driven units whose order names the video
    cancel_share: float = 0.0
    restock_hours: tuple[float, ...] = ()  # hours into the window
    restock_units: int = 0
    view_interval_minutes: float = 10.0
    view_noise: float = 0.0  # multiplicative noise of each view count
    view_lag_minutes: float = 0.0  # counts lag the truth by this much (late samples)


@dataclass(frozen=True)
class Case:
    """A simulated SKU: what the store sees and the truth. Times are epoch seconds."""

    plan: CasePlan
    start: float
    window_start: float
    end: float
    sale_time: FloatArray
    sale_video: IntArray  # index into plan.videos or -1 (the order does not name one)
    stock_time: FloatArray  # every change of available stock
    stock_available: IntArray
    initial_stock: int
    stockouts: FloatArray  # moments the shelf became empty
    restocks: FloatArray
    view_time: list[FloatArray] = field(default_factory=list)  # per video
    view_count: list[FloatArray] = field(default_factory=list)
    minute_time: FloatArray = field(default_factory=lambda: np.zeros(0))
    intensity: FloatArray = field(default_factory=lambda: np.zeros(0))  # per minute, per hour

    @property
    def family(self) -> str:
        return self.plan.family


# --- view-rate shapes: density over hours since onset (integrates to ~1) -----------------------


def _logistic(t: FloatArray, p: tuple[float, ...]) -> FloatArray:
    mid, tau = p
    x = np.clip((t - mid) / tau, -50, 50)
    result: FloatArray = 1.0 / (4 * tau * np.cosh(x / 2) ** 2)
    return result


def _lognormal(t: FloatArray, p: tuple[float, ...]) -> FloatArray:
    mu, sigma = p
    safe = np.maximum(t, 1e-9)
    dens = np.exp(-((np.log(safe) - mu) ** 2) / (2 * sigma * sigma)) / (
        safe * sigma * math.sqrt(2 * math.pi)
    )
    result: FloatArray = np.where(t > 0, dens, 0.0)
    return result


def _gamma(t: FloatArray, p: tuple[float, ...]) -> FloatArray:
    k, theta = p
    safe = np.maximum(t, 1e-9)
    log = (k - 1) * np.log(safe) - safe / theta - math.lgamma(k) - k * math.log(theta)
    result: FloatArray = np.where(t > 0, np.exp(log), 0.0)
    return result


def _plateau(t: FloatArray, p: tuple[float, ...]) -> FloatArray:
    """A live stream: ramps up in minutes, holds for `length` hours, then falls off fast."""
    length, fall = p
    ramp = np.clip(t / 0.15, 0.0, 1.0)
    tail = np.exp(-np.maximum(t - length, 0.0) / fall)
    result: FloatArray = np.where(t > 0, ramp * tail, 0.0) / (length + fall)
    return result


def _powerlaw(t: FloatArray, p: tuple[float, ...]) -> FloatArray:
    """Abrupt start, then a power-law decay (1 + t / t0)^-a."""
    t0, a = p
    result: FloatArray = np.where(t > 0, (a - 1) / t0 * (1 + np.maximum(t, 0) / t0) ** (-a), 0.0)
    return result


def _fizzle(t: FloatArray, p: tuple[float, ...]) -> FloatArray:
    """A fast start that dies: up within `rise` hours, decays with `decay` hours."""
    rise, decay = p
    result: FloatArray = np.where(
        t > 0,
        (1 - np.exp(-np.maximum(t, 0) / rise)) * np.exp(-np.maximum(t, 0) / decay) / (decay + rise),
        0.0,
    )
    return result


SHAPES: dict[str, Callable[[FloatArray, tuple[float, ...]], FloatArray]] = {
    "logistic": _logistic,
    "lognormal": _lognormal,
    "gamma": _gamma,
    "plateau": _plateau,
    "powerlaw": _powerlaw,
    "fizzle": _fizzle,
}


# --- families ------------------------------------------------------------------------------------


class _Draw:
    """Uniform draws from [lo, hi], narrowed to the inner 60% for the tuning split."""

    def __init__(self, rng: np.random.Generator, split: Split) -> None:
        self.rng, self.split = rng, split

    def __call__(self, lo: float, hi: float) -> float:
        if self.split == "tuning":
            lo, hi = lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo)
        return float(self.rng.uniform(lo, hi))

    def log(self, lo: float, hi: float) -> float:
        return math.exp(self(math.log(lo), math.log(hi)))


def _video(d: _Draw, shape: str, onset: float, peak_units: float, linked: bool = True) -> VideoPlan:
    """A video whose surge adds about `peak_units` per hour at its peak."""
    if shape == "logistic":
        tau = d(0.6, 2.5)
        params: tuple[float, ...] = (d(3.0, 6.0) * tau, tau)
    elif shape == "lognormal":
        params = (math.log(d(1.5, 5.0)), d(0.5, 1.1))
    elif shape == "gamma":
        params = (d(2.0, 5.0), d(0.5, 1.8))
    elif shape == "plateau":
        params = (d(1.5, 5.0), d(0.2, 0.6))
    elif shape == "powerlaw":
        params = (d(0.5, 2.0), d(1.4, 2.2))
    else:
        params = (d(0.2, 0.5), d(0.6, 1.8))
    grid = np.arange(0.0, 96.0, 0.02)
    peak_density = float(SHAPES[shape](grid, params).max())
    total_views = d.log(3e5, 5e6)
    per_view = peak_units / (total_views * peak_density)
    return VideoPlan(shape, onset, total_views, per_view, params, linked)


def _surge_units(videos: tuple[VideoPlan, ...]) -> float:
    return sum(v.total_views * v.per_view for v in videos)


def _plan(family: str, seed: int, split: Split) -> CasePlan:
    rng = np.random.default_rng([seed, sum(map(ord, family)), 0 if split == "tuning" else 1])
    d = _Draw(rng, split)
    baseline = d.log(0.5, 5.0)
    amplitude = d(0.0, 0.4)
    weekend = d(1.0, 1.3)
    peak = d(20.0, 150.0)
    onset = d(2.0, 10.0)
    explicit = float(rng.choice([0.0, 0.0, 0.3, 1.0]))
    videos: tuple[VideoPlan, ...]
    extra: dict[str, object] = {}
    if family in ("logistic", "lognormal", "gamma", "plateau", "powerlaw", "fizzle"):
        videos = (_video(d, family, onset, peak),)
    elif family == "lognormal_long_tail":
        v = _video(d, "lognormal", onset, peak)
        videos = (VideoPlan(v.shape, onset, v.total_views, v.per_view, (v.params[0], d(1.1, 1.5))),)
        videos = (_rescale(videos[0], peak),)
    elif family == "two_in_a_row":
        first = _video(d, "lognormal", onset, peak)
        second = _video(d, "gamma", onset + d(6.0, 14.0), peak * d(0.5, 1.5))
        videos = (first, second)
    elif family == "three_overlapping":
        videos = tuple(
            _video(
                d,
                str(rng.choice(["logistic", "lognormal", "gamma"])),
                onset + k * d(1, 4),
                peak * d(0.4, 1.0),
            )
            for k in range(3)
        )
    elif family == "restock_mid_surge":
        videos = (_video(d, "lognormal", onset, peak),)
        extra["restock_hours"] = (onset + d(2.0, 5.0),)
    elif family == "cancellations":
        videos = (_video(d, "gamma", onset, peak),)
        extra["cancel_share"] = d(0.05, 0.25)
    elif family == "noisy_late_views":
        videos = (_video(d, "lognormal", onset, peak),)
        extra["view_noise"] = d(0.01, 0.05)
        extra["view_lag_minutes"] = d(10.0, 40.0)
        extra["view_interval_minutes"] = d(10.0, 30.0)
    elif family == "unlinked_video":
        videos = (_video(d, str(rng.choice(["lognormal", "gamma"])), onset, peak, linked=False),)
    elif family == "steady":
        baseline = d.log(1.0, 20.0)
        amplitude = d(0.3, 0.8)
        videos = ()
    else:
        raise ValueError(f"unknown family {family!r}")
    if videos:
        # Enough stock for part of the surge: out some hours into it, or not at all.
        stock = baseline * d(6.0, 24.0) + _surge_units(videos) * d(0.15, 0.9)
    else:
        stock = baseline * d(12.0, 50.0)
    restock_units = int(_surge_units(videos) * d(0.2, 0.5)) if "restock_hours" in extra else 0
    return CasePlan(
        family=family,
        seed=seed,
        baseline=baseline,
        daily_amplitude=amplitude,
        weekend_factor=weekend,
        stock_at_window=stock,
        videos=videos,
        explicit_share=explicit,
        restock_units=restock_units,
        **extra,  # type: ignore[arg-type]
    )


def _rescale(video: VideoPlan, peak_units: float) -> VideoPlan:
    grid = np.arange(0.0, 96.0, 0.02)
    peak_density = float(SHAPES[video.shape](grid, video.params).max())
    per_view = peak_units / (video.total_views * peak_density)
    return VideoPlan(
        video.shape, video.onset_hours, video.total_views, per_view, video.params, video.linked
    )


FAMILIES = (
    "logistic",
    "lognormal",
    "lognormal_long_tail",
    "gamma",
    "plateau",
    "powerlaw",
    "fizzle",
    "two_in_a_row",
    "three_overlapping",
    "restock_mid_surge",
    "cancellations",
    "noisy_late_views",
    "unlinked_video",
    "steady",
)
# The shapes tuned on; the others are held out (only ever seen in the report split).
TUNING_FAMILIES = ("logistic", "lognormal", "gamma", "two_in_a_row", "restock_mid_surge", "steady")
HELD_OUT_FAMILIES = tuple(f for f in FAMILIES if f not in TUNING_FAMILIES)
# Seeds: tuning below 1000, report from 1000 on.
TUNING_SEEDS = range(0, 1000)
REPORT_SEEDS = range(1000, 2000)


def _demand(plan: CasePlan, minutes: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per minute starting at `minutes`: the base rate (with its day and week), each video's
    views per hour and the units per hour each video adds (videos x minutes)."""
    start, window = EPOCH, EPOCH + HISTORY_DAYS * DAY
    hours_of_day = ((minutes - start) / HOUR) % 24
    day = ((minutes - start) // DAY).astype(np.int64) % 7
    season = 1 + plan.daily_amplitude * np.sin(2 * np.pi * (hours_of_day - 9) / 24)
    season = season * np.where(day >= 5, plan.weekend_factor, 1.0)
    base: FloatArray = plan.baseline * season
    since = (minutes - window) / HOUR
    video_rates = []
    for video in plan.videos:
        t = since + 1 / 120 - video.onset_hours
        video_rates.append(video.total_views * SHAPES[video.shape](t, video.params))
    views: FloatArray = np.array(video_rates) if video_rates else np.zeros((0, len(minutes)))
    extra: FloatArray = np.array([v.per_view for v in plan.videos])[:, None] * views
    return base, views, extra


def expected_units(plan: CasePlan, since: float, hours: float) -> float:
    """Units the plan's demand asks for over `hours` from `since` (the truth a reorder is
    judged on: what would sell if the shelf were never empty), beyond the simulated window
    too."""
    minutes = np.arange(since, since + hours * HOUR, 60.0)
    base, _, extra = _demand(plan, minutes)
    return float((base + extra.sum(axis=0)).sum() / 60.0)


def simulate(plan: CasePlan) -> Case:
    """Minute-by-minute Poisson sales from the plan's intensity; see the module docstring."""
    rng = np.random.default_rng([plan.seed, 7, sum(map(ord, plan.family))])
    start = EPOCH
    window = start + HISTORY_DAYS * DAY
    end = window + WINDOW_HOURS * HOUR
    minutes = np.arange(start, end, 60.0)
    base, views_per_hour, extra = _demand(plan, minutes)
    intensity = base + extra.sum(axis=0)
    # Which source each unit comes from: base or video k.
    parts = np.vstack((base[None, :], extra))
    counts = rng.poisson(parts / 60.0)
    before_window = float(base[minutes < window].sum() / 60.0)
    stock = round(before_window + plan.stock_at_window)
    initial = stock
    restock_at = sorted(window + h * HOUR for h in plan.restock_hours)
    sale_time: list[float] = []
    sale_video: list[int] = []
    stock_time: list[float] = []
    stock_level: list[int] = []
    stockouts: list[float] = []
    cancel_back: list[float] = []
    restocks_done: list[float] = []
    for i, minute in enumerate(minutes.tolist()):
        while restock_at and restock_at[0] <= minute:
            stock += plan.restock_units
            restocks_done.append(restock_at.pop(0))
            stock_time.append(restocks_done[-1])
            stock_level.append(stock)
        if cancel_back and cancel_back[0] <= minute:
            returned = [c for c in cancel_back if c <= minute]
            cancel_back = [c for c in cancel_back if c > minute]
            stock += len(returned)
            stock_time.append(minute)
            stock_level.append(stock)
        total = int(counts[:, i].sum())
        if total == 0 or stock <= 0:
            continue
        sources = np.repeat(np.arange(len(parts)) - 1, counts[:, i])
        rng.shuffle(sources)
        for t, source in zip(
            np.sort(rng.uniform(minute, minute + 60.0, total)), sources, strict=True
        ):
            if stock <= 0:
                break
            stock -= 1
            stock_time.append(float(t))
            stock_level.append(stock)
            if stock == 0:
                stockouts.append(float(t))
            if rng.random() < plan.cancel_share:
                # Cancelled within about an hour: the unit returns, the order is no sale.
                cancel_back.append(float(t) + float(rng.uniform(0.3, 1.5)) * HOUR)
                cancel_back.sort()
                continue
            named = source >= 0 and rng.random() < plan.explicit_share
            sale_time.append(float(t))
            sale_video.append(int(source) if named else -1)
    view_time, view_count = [], []
    for k in range(len(plan.videos)):
        step = plan.view_interval_minutes * 60.0
        samples = np.arange(start + rng.uniform(0, step), end, step)
        cumulative = np.cumsum(views_per_hour[k] / 60.0) + 30.0 * (minutes - start) / HOUR
        lagged = np.interp(samples - plan.view_lag_minutes * 60.0, minutes, cumulative)
        noisy = lagged * np.exp(rng.normal(0.0, plan.view_noise, len(samples)))
        view_time.append(samples)
        view_count.append(np.floor(noisy))
    return Case(
        plan=plan,
        start=start,
        window_start=window,
        end=end,
        sale_time=np.array(sale_time),
        sale_video=np.array(sale_video, dtype=np.int64),
        stock_time=np.array(stock_time),
        stock_available=np.array(stock_level, dtype=np.int64),
        initial_stock=initial,
        stockouts=np.array(stockouts),
        restocks=np.array(restocks_done),
        view_time=view_time,
        view_count=view_count,
        minute_time=minutes,
        intensity=intensity,
    )


def draw_case(family: str, seed: int, split: Split) -> Case:
    """One simulated case of `family`; `split` picks the parameter ranges (see module doc)."""
    if split == "tuning" and family not in TUNING_FAMILIES:
        raise ValueError(f"{family!r} is held out from tuning")
    if split == "tuning" and seed not in TUNING_SEEDS:
        raise ValueError("tuning seeds are below 1000")
    if split == "report" and seed not in REPORT_SEEDS:
        raise ValueError("report seeds are 1000 and up")
    return simulate(_plan(family, seed, split))
