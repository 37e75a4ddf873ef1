"""Forecast backtest on the demand-curve families (`app.sandbox.curves`), judged at every moment.

What is reported is the REPORT set: seeds 1000 and up, parameters drawn from the families' full
ranges, and every family, including those HELD OUT from tuning entirely (`HELD_OUT_FAMILIES`).
The forecast's constants were tuned on the TUNING set only (`TUNING_FAMILIES`, seeds below
1000, parameters from the inner 60% of each range); the tuning figures are printed only with
`--tuning`, and are not evidence.

Every SKU is replayed every REPLAY_MINUTES over the 60-hour window (all SKUs in one shop, one
`compute_columns` per moment, as the app runs it), beside the sales-only forecast (the same
history without view samples) and the naive "stock / 24 h average". Per family: stock-outs,
missed ones (no critical alert before), moments the alert was OK although the last hour's rate
ran out within the threshold, the median hours-left error while critical (relative to the hours
actually left, floored at 1 h) for ours / sales-only / naive, at the first critical alert, the
band's coverage and its median high/low ratio, and over every moment with a stock-out ahead.

Beside them, two forecasts no seller can make, judged at the same moments: the simulation's
true demand rate now, held, and its true mean rate over the next hour, held. They are the
ceiling a forecast from the rate alone can reach: at the first critical alert, minutes into a
surge, even the true rate now is far off the hours left, because what decides them is how big
the surge gets, which nothing in the data says yet.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from app.insight.backtest import Moments, Verdict, judge, replay
from app.insight.history import FloatArray
from app.insight.shop import compute_columns
from app.insight.stockouts import HOUR
from app.insight.types import SkuSettings
from app.sandbox.curves import (
    FAMILIES,
    HELD_OUT_FAMILIES,
    REPORT_SEEDS,
    TUNING_FAMILIES,
    Case,
    expected_units,
)
from tests.insight.families import cases, shop

SETTINGS = SkuSettings(lead_time_hours=24, safety_days=1, critical_hours=24)
SEEDS_PER_FAMILY = 5
REPLAY_MINUTES = 20
TARGETS = (
    "targets: error while critical <= 20%, at first critical <= 15%, coverage 70-95%, "
    "missed <= 1 in 10, returns to OK 0, steady: ours < naive"
)


def _pct(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.0%}"


def _row(label: str, v: Verdict) -> str:
    ratio = "   -" if v.band_ratio is None else f"{v.band_ratio:4.1f}"
    return (
        f"{label:20s} {v.skus:3d} {v.stockouts:4d} {v.missed:4d} {v.returns_to_ok:4d} "
        f"{v.critical_moments:5d} {_pct(v.error_while_critical)} "
        f"{_pct(v.sales_only_while_critical)} {_pct(v.naive_while_critical)} "
        f"{_pct(v.first_critical_error)} {_pct(v.coverage)} {ratio} | {_pct(v.error_all)} "
        f"{_pct(v.sales_only_all)} {_pct(v.naive_all)}"
    )


def true_rate_hours(moments: Moments, items: list[Case], ahead_hours: float) -> FloatArray:
    """Per moment and SKU, the stock on hand over the simulation's true demand rate: the rate
    now (`ahead_hours` 0) or its mean over the next `ahead_hours`, held."""
    hours = np.full(moments.hours.shape, np.inf)
    for j, case in enumerate(items):
        cumulative = np.concatenate(([0.0], np.cumsum(case.intensity) / 60.0))
        edges = np.concatenate((case.minute_time, [case.minute_time[-1] + 60.0]))
        if ahead_hours > 0:
            ahead = np.interp(moments.times + ahead_hours * HOUR, edges, cumulative)
            rate = (ahead - np.interp(moments.times, edges, cumulative)) / ahead_hours
        else:
            rate = np.interp(moments.times, case.minute_time, case.intensity)
        with np.errstate(divide="ignore"):
            hours[:, j] = np.maximum(moments.available[:, j], 0.0) / rate
    return hours


def _ceilings(moments: Moments, items: list[Case]) -> None:
    for label, ahead in (("true rate now, held", 0.0), ("true next hour, held", 1.0)):
        v = judge(replace(moments, hours=true_rate_hours(moments, items, ahead)))
        print(
            f"ceiling: {label:21s} while critical {_pct(v.error_while_critical)}, "
            f"at first critical {_pct(v.first_critical_error)} (same moments as ours)"
        )


def run(split: str) -> Moments:
    families: tuple[str, ...]
    if split == "report":
        families, seeds = FAMILIES, REPORT_SEEDS[:SEEDS_PER_FAMILY]
    else:
        families, seeds = TUNING_FAMILIES, range(SEEDS_PER_FAMILY)
    started = time.perf_counter()
    items = cases(families, seeds, "report" if split == "report" else "tuning")
    history, truth = shop(items)
    moments = replay(
        history,
        truth,
        start=items[0].window_start,
        end=items[0].end,
        step_seconds=REPLAY_MINUTES * 60,
        settings=SETTINGS,
    )
    print(
        f"{split.upper()} set: {len(families)} families x seeds {seeds.start}-{seeds.stop - 1}, "
        f"{len(items)} SKUs replayed every {REPLAY_MINUTES} min over 60 h "
        f"({time.perf_counter() - started:.0f} s); critical within "
        f"{SETTINGS.critical_hours:g} h"
    )
    print(
        "family               SKU  out miss  ret  crit  ours sales naive first cover band "
        "|   all sales naive"
    )
    by_family: dict[str, list[int]] = {}
    for j, sku in enumerate(moments.sku_ids):
        by_family.setdefault(sku.rsplit("-", 1)[0], []).append(j)
    for family in families:
        marker = " *" if family in HELD_OUT_FAMILIES else ""
        print(_row(family + marker, judge(moments, by_family[family])))
    held = [j for f in HELD_OUT_FAMILIES if f in by_family for j in by_family[f]]
    tuned = [j for f in TUNING_FAMILIES if f in by_family for j in by_family[f]]
    if split == "report":
        print(_row("held-out families *", judge(moments, held)))
        print(_row("tuned families", judge(moments, tuned)))
    print(_row("ALL", judge(moments)))
    _ceilings(moments, items)
    print(
        "(* held out from tuning; ours / sales = sales-only / naive = stock / 24 h average; "
        "errors are medians relative to the actual hours left floored at 1 h)"
    )
    print(TARGETS)
    return moments


# Moments after a video's onset at which the reorder is judged, with the app's own settings.
REORDER_AFTER_HOURS = (1.0, 3.0, 8.0)


def reorder_check(split: str) -> None:
    """The reorder suggested at a few moments into each surge against what the demand would
    really take over the lead time and cover, less the stock on hand (the simulation's
    demand, beyond the window too). Each SKU is computed alone, with the app's defaults."""
    settings = SkuSettings()
    horizon = settings.lead_time_hours + 24.0 * settings.days_of_cover
    families: tuple[str, ...]
    if split == "report":
        families, seeds = FAMILIES, REPORT_SEEDS[:SEEDS_PER_FAMILY]
    else:
        families, seeds = TUNING_FAMILIES, range(SEEDS_PER_FAMILY)
    ratios: dict[str, list[float]] = {}
    for case in cases(families, seeds, "report" if split == "report" else "tuning"):
        history, _ = shop([case])
        onset = (
            case.window_start
            + (case.plan.videos[0].onset_hours if case.plan.videos else 6.0) * HOUR
        )
        for after in REORDER_AFTER_HOURS:
            now = onset + after * HOUR
            stock = history.stock_at(now)
            columns = compute_columns(history.with_available(stock), now, default=settings)
            need = max(expected_units(case.plan, now, horizon) - float(stock[0]), 1.0)
            ratio = float(columns.reorder.quantity[0]) / need
            ratios.setdefault("steady" if not case.plan.videos else "video-driven", []).append(
                ratio
            )
    print(
        f"reorder vs the units the next {horizon / 24:.0f} days would really take beyond the "
        f"stock ({split.upper()} set, {', '.join(f'{h:g}' for h in REORDER_AFTER_HOURS)} h "
        "after each onset, app defaults: 7 days' lead time, 14 of cover, 3 of safety):"
    )
    for group, values in ratios.items():
        q = np.quantile(values, [0.1, 0.5, 0.9])
        print(
            f"  {group:13s} median x{q[1]:.2f} (10-90%: x{q[0]:.2f} to x{q[2]:.2f}, "
            f"worst x{max(values):.2f}, {len(values)} moments)"
        )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    run("report")
    reorder_check("report")
    if "--tuning" in args:
        run("tuning")


if __name__ == "__main__":
    main()
