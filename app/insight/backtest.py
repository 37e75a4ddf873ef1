"""Backtest: replay a shop's history moment by moment and judge every forecast a seller saw.

Why every moment and not only the first alert: a seller looks at the card again and again while
a SKU is critical, and a forecast that is right at the first alert but wanders off (or falls
back to OK in the middle of a surge) is not one to trust. `replay` recomputes insight every
`step_seconds` from the events up to that moment only (the same `compute_columns` the app
runs), beside a sales-only forecast (the same history without view samples) and the naive
"stock / 24 h average"; `judge` turns the moments into the figures the forecast is held to:

- hours-left error while critical, relative to the hours actually left floored at one hour
  (median over moments from the first critical alert to the stock-out), and at the first alert;
- band coverage: the share of those moments whose actual hours left lies inside the band;
- missed stock-outs: stock-outs with no critical alert since the previous stock-out or restock;
- returns to OK: moments after a critical alert where the level is OK although the stock at the
  last hour's rate runs out within the critical threshold;
- for steady sellers, every moment with a stock-out ahead: ours against naive, side by side.

Truth comes from the caller (simulated cases or the sandbox): per SKU, the moments its shelf
became empty and the restocks (a forecast cannot know of a restock, so moments with one before
the stock-out are not judged).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from app.insight.history import FloatArray, ShopHistory
from app.insight.shop import compute_columns
from app.insight.stockouts import HOUR
from app.insight.types import AlertLevel, InsightParams, SkuSettings

LEVELS = (AlertLevel.OK, AlertLevel.WARNING, AlertLevel.CRITICAL)


@dataclass(frozen=True)
class Truth:
    """What happened to one SKU: when its shelf became empty, when it was restocked."""

    stockouts: Sequence[float]
    restocks: Sequence[float] = ()


@dataclass
class Moments:
    """One row per (step, SKU): arrays shaped (steps, SKUs)."""

    times: FloatArray
    available: FloatArray
    hours: FloatArray
    low: FloatArray
    high: FloatArray
    severity: FloatArray
    rate_1h: FloatArray
    sales_only: FloatArray
    naive: FloatArray
    actual: FloatArray  # nan: no judged stock-out ahead
    critical_hours: FloatArray  # per SKU
    sku_ids: tuple[str, ...] = ()
    stockouts: list[list[float]] = field(default_factory=list)
    restocks: list[list[float]] = field(default_factory=list)


def without_views(history: ShopHistory) -> ShopHistory:
    """The history as a store without view samples would have it: the sales-only forecast."""
    empty = np.zeros(0)
    return replace(history, view_video=empty.astype(np.int64), view_time=empty, view_count=empty)


def _actual_hours(now: float, truth: Truth) -> float:
    ahead = [s for s in truth.stockouts if s > now]
    if not ahead:
        return math.nan
    nxt = min(ahead)
    if any(now < r <= nxt for r in truth.restocks):
        return math.nan
    return (nxt - now) / HOUR


def replay(
    history: ShopHistory,
    truth: Mapping[str, Truth],
    *,
    start: float,
    end: float,
    step_seconds: float = 600.0,
    settings: SkuSettings = SkuSettings(),  # noqa: B008 - frozen
    params: InsightParams = InsightParams(),  # noqa: B008
    sales_only: bool = True,
) -> Moments:
    """Recompute every `step_seconds` in [start, end) with the stock at that moment."""
    times = np.arange(start, end, step_seconds)
    n, s = len(history.skus), len(times)
    shape = (s, n)
    out = {
        name: np.full(shape, np.nan)
        for name in (
            "available", "hours", "low", "high", "severity", "rate_1h", "sales_only", "naive",
            "actual",
        )
    }  # fmt: skip
    bare = without_views(history)
    previous: dict[str, AlertLevel] = {}
    previous_bare: dict[str, AlertLevel] = {}
    videos: dict[str, str] = {}
    videos_bare: dict[str, str] = {}
    ids = history.sku_ids
    critical = np.array([max(settings.lead_time_hours, settings.critical_hours)] * n)
    for k, now in enumerate(times.tolist()):
        stock = history.stock_at(now)
        at = history.with_available(stock)
        columns = compute_columns(
            at, now, default=settings, previous_levels=previous, previous_videos=videos,
            params=params,
        )  # fmt: skip
        previous, videos = columns.levels(at), columns.videos(at)
        out["available"][k] = stock
        out["hours"][k] = columns.forecast.hours_left
        out["low"][k] = columns.forecast.hours_low
        out["high"][k] = columns.forecast.hours_high
        out["severity"][k] = columns.severity
        out["rate_1h"][k] = columns.velocity.per_hour_1h
        per_24h = columns.velocity.per_hour_24h
        with np.errstate(divide="ignore", invalid="ignore"):
            out["naive"][k] = np.where(per_24h > 0, stock / per_24h, np.inf)
        if sales_only:
            plain = bare.with_available(stock)
            other = compute_columns(
                plain, now, default=settings, previous_levels=previous_bare,
                previous_videos=videos_bare, params=params,
            )  # fmt: skip
            previous_bare, videos_bare = other.levels(plain), other.videos(plain)
            out["sales_only"][k] = other.forecast.hours_left
        out["actual"][k] = [_actual_hours(now, truth.get(sku, Truth(()))) for sku in ids]
    out["available"] = np.where(out["available"] <= 0, 0.0, out["available"])
    return Moments(
        times=times,
        critical_hours=critical,
        sku_ids=ids,
        stockouts=[list(truth.get(sku, Truth(())).stockouts) for sku in ids],
        restocks=[list(truth.get(sku, Truth(())).restocks) for sku in ids],
        **out,
    )


@dataclass(frozen=True)
class Verdict:
    """The figures of one group of SKUs (see the module docstring). Errors are medians of
    relative errors; None where there was nothing to judge."""

    skus: int
    critical_moments: int
    error_while_critical: float | None
    sales_only_while_critical: float | None
    naive_while_critical: float | None
    first_critical_errors: tuple[float, ...]
    coverage: float | None
    stockouts: int
    missed: int
    returns_to_ok: int
    all_moments: int
    error_all: float | None
    sales_only_all: float | None
    naive_all: float | None
    band_ratio: float | None  # median high / low while critical

    @property
    def first_critical_error(self) -> float | None:
        values = [e for e in self.first_critical_errors if math.isfinite(e)]
        return statistics.median(values) if values else None


def _rel(predicted: FloatArray, actual: FloatArray) -> FloatArray:
    p = np.where(np.isnan(predicted), np.inf, predicted)
    with np.errstate(invalid="ignore"):
        result: FloatArray = np.abs(p - actual) / np.maximum(actual, 1.0)
    return result


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def judge(moments: Moments, columns: Sequence[int] | None = None) -> Verdict:
    """The figures over SKUs `columns` (all by default)."""
    picked = range(len(moments.sku_ids)) if columns is None else columns
    crit_err: list[float] = []
    crit_sales: list[float] = []
    crit_naive: list[float] = []
    first: list[float] = []
    inside: list[bool] = []
    ratios: list[float] = []
    all_err: list[float] = []
    all_sales: list[float] = []
    all_naive: list[float] = []
    stockouts = missed = returns = 0
    times = moments.times
    for j in picked:
        actual = moments.actual[:, j]
        hours, sev = moments.hours[:, j], moments.severity[:, j]
        known = ~np.isnan(actual)
        all_err += _rel(hours[known], actual[known]).tolist()
        all_sales += _rel(moments.sales_only[known, j], actual[known]).tolist()
        all_naive += _rel(moments.naive[known, j], actual[known]).tolist()
        # One episode per stock-out inside the replay: from the previous stock-out or restock.
        events = sorted(moments.stockouts[j])
        for stockout in events:
            if not times[0] + 3600 < stockout <= times[-1]:
                continue
            lo = max(
                [times[0]]
                + [s for s in events if s < stockout]
                + [r for r in moments.restocks[j] if r < stockout]
            )
            episode = (times > lo) & (times < stockout) & known
            if not episode.any():
                continue
            stockouts += 1
            crit = episode & (sev == 2)
            if not crit.any():
                missed += 1
                continue
            k0 = int(np.argmax(crit))
            first.append(float(_rel(hours[k0 : k0 + 1], actual[k0 : k0 + 1])[0]))
            crit_err += _rel(hours[crit], actual[crit]).tolist()
            crit_sales += _rel(moments.sales_only[crit, j], actual[crit]).tolist()
            crit_naive += _rel(moments.naive[crit, j], actual[crit]).tolist()
            low, high = moments.low[crit, j], moments.high[crit, j]
            low = np.where(np.isnan(low), 0.0, low)
            high = np.where(np.isnan(high), np.inf, high)
            inside += ((low <= actual[crit]) & (actual[crit] <= high)).tolist()
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios += (high / np.maximum(low, 1e-9)).tolist()
            after = episode & (np.arange(len(times)) >= k0)
            rate = moments.rate_1h[:, j]
            with np.errstate(divide="ignore", invalid="ignore"):
                runs_out = np.where(rate > 0, moments.available[:, j] / rate, np.inf)
            returns += int((after & (sev == 0) & (runs_out <= moments.critical_hours[j])).sum())
    return Verdict(
        skus=len(picked),
        critical_moments=len(crit_err),
        error_while_critical=_median(crit_err),
        sales_only_while_critical=_median(crit_sales),
        naive_while_critical=_median(crit_naive),
        first_critical_errors=tuple(first),
        coverage=sum(inside) / len(inside) if inside else None,
        stockouts=stockouts,
        missed=missed,
        returns_to_ok=returns,
        all_moments=len(all_err),
        error_all=_median(all_err),
        sales_only_all=_median(all_sales),
        naive_all=_median(all_naive),
        band_ratio=_median(ratios),
    )
