"""The forecast judged on demand curves it was not tuned on, moment by moment (a small, fast
held-out set; the full figures are in `python -m tests.benchmarks forecast`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.insight import compute_columns, compute_shop_insight, fmt
from app.insight.backtest import Moments, Truth, judge, replay
from app.insight.types import AlertLevel, SkuSettings
from app.sandbox.curves import (
    HELD_OUT_FAMILIES,
    HOUR,
    TUNING_FAMILIES,
    CasePlan,
    VideoPlan,
    draw_case,
    simulate,
)
from tests.insight.families import shop

SETTINGS = SkuSettings(lead_time_hours=24, safety_days=1, critical_hours=24)


def _long_tail_case() -> CasePlan:
    """The issue's moment: a video whose views rise log-normally and fade with a long tail,
    the SKU selling ~120/hour at the peak with a few hundred units left."""
    video = VideoPlan("lognormal", 6.0, 2e6, 3.4e-4, (1.3, 1.2))
    return CasePlan(
        family="lognormal_long_tail",
        seed=1234,
        baseline=2.0,
        daily_amplitude=0.2,
        weekend_factor=1.0,
        stock_at_window=450.0,
        videos=(video,),
    )


def test_a_long_tailed_surge_stays_critical_until_the_shelf_is_empty() -> None:
    case = simulate(_long_tail_case())
    history, truth = shop([case])
    stockout = float(case.stockouts[0])
    moments = replay(
        history,
        truth,
        start=case.window_start + 5 * HOUR,
        end=stockout,
        step_seconds=900,
        settings=SETTINGS,
        sales_only=False,
    )
    severity = moments.severity[:, 0]
    critical = np.flatnonzero(severity == 2)
    assert len(critical), "the surge never raised a critical alert"
    # From the first critical alert to the stock-out it never falls back (the alert
    # went from critical to OK in the middle of the surge).
    assert np.all(severity[critical[0] :] == 2)
    # Late in the surge, with hours left, the forecast is near the truth, not "13 days".
    late = (moments.actual[:, 0] > 1.0) & (moments.actual[:, 0] < 4.0)
    assert late.any()
    error = np.abs(moments.hours[late, 0] - moments.actual[late, 0]) / moments.actual[late, 0]
    assert float(np.median(error)) < 0.5


@pytest.fixture(scope="module")
def held_out() -> tuple[Moments, list[str]]:
    families = ["powerlaw", "plateau", "steady"]
    assert all(f in HELD_OUT_FAMILIES or f == "steady" for f in families)
    cases = [draw_case(family, 1500, "report") for family in families]
    history, truth = shop(cases)
    start = cases[0].window_start
    moments = replay(
        history, truth, start=start, end=start + 40 * HOUR, step_seconds=1800, settings=SETTINGS
    )
    return moments, [case.family for case in cases]


def test_held_out_curves_are_alerted_before_the_shelf_empties(
    held_out: tuple[Moments, list[str]],
) -> None:
    moments, _ = held_out
    verdict = judge(moments)
    assert verdict.stockouts >= 2
    assert verdict.missed == 0
    assert verdict.returns_to_ok == 0


def test_held_out_forecast_beats_naive_while_critical(held_out: tuple[Moments, list[str]]) -> None:
    moments, _ = held_out
    verdict = judge(moments)
    assert verdict.error_while_critical is not None and verdict.naive_while_critical is not None
    assert verdict.error_while_critical < verdict.naive_while_critical
    # The band holds the truth most of the time and is not "0.9 h to 410 h".
    assert verdict.coverage is not None and verdict.coverage >= 0.5
    assert verdict.band_ratio is not None and verdict.band_ratio < 10


def test_steady_seller_with_a_day_night_cycle_beats_stock_over_24h_average(
    held_out: tuple[Moments, list[str]],
) -> None:
    moments, families = held_out
    verdict = judge(moments, [families.index("steady")])
    assert verdict.all_moments > 10
    assert verdict.error_all is not None and verdict.naive_all is not None
    assert verdict.error_all < verdict.naive_all


def test_tuning_and_report_sets_are_kept_apart() -> None:
    with pytest.raises(ValueError):
        draw_case(HELD_OUT_FAMILIES[0], 1, "tuning")
    with pytest.raises(ValueError):
        draw_case(TUNING_FAMILIES[0], 1000, "tuning")
    with pytest.raises(ValueError):
        draw_case(TUNING_FAMILIES[0], 5, "report")
    tuned, reported = draw_case("gamma", 5, "tuning").plan, draw_case("gamma", 1005, "report").plan
    assert tuned.videos[0].params != reported.videos[0].params


def test_many_skus_at_once_equal_each_alone() -> None:
    cases = [draw_case(f, 7, "tuning") for f in ("lognormal", "gamma", "steady")]
    history, _ = shop(cases)
    now = cases[0].window_start + cases[0].plan.videos[0].onset_hours * HOUR + 2 * HOUR
    at = history.with_available(history.stock_at(now))
    together = compute_columns(at, now, default=SETTINGS)
    for i, sku in enumerate(at.sku_ids):
        alone = compute_columns(at.only([sku]), now, default=SETTINGS)
        for name in ("hours_left", "hours_low", "hours_high", "rate"):
            a, b = getattr(together.forecast, name)[i], getattr(alone.forecast, name)[0]
            assert a == pytest.approx(b, rel=1e-9) or (math.isinf(a) and math.isinf(b))
        assert together.severity[i] == alone.severity[0]


def test_headline_rate_times_hours_is_the_stock_and_a_narrow_band_is_in_words() -> None:
    case = draw_case("steady", 3, "tuning")
    history, _ = shop([case])
    now = case.window_start + 6 * HOUR
    at = history.with_available(history.stock_at(now))
    item = compute_shop_insight(at, now, default=SETTINGS).skus[0]
    f = item.forecast
    assert f.hours_left is not None and f.hours_left_low is not None
    assert f.hours_left_high is not None
    # At a steady rate (with a day/night cycle) the rate shown is the day's average.
    assert f.rate_per_hour * f.hours_left == pytest.approx(item.available, rel=0.2)
    if f.band_is_narrow:
        assert f"({fmt.band(f.hours_left_low, f.hours_left_high)})" in item.headline
    else:
        assert "(" not in item.headline
    assert fmt.band(4.2, 7.4) == "4.2\u20137.4 h"
    assert fmt.band(12.0, 20.0) == "12\u201320 h"
    assert fmt.band(0.3, 0.6) == "18\u201336 min"
    assert fmt.band(0.75, 2.0) == "45 min\u20132 h"
    assert item.level in (AlertLevel.CRITICAL, AlertLevel.WARNING, AlertLevel.OK)


def test_truth_without_stockouts_is_not_judged() -> None:
    case = draw_case("steady", 4, "tuning")
    history, _ = shop([case])
    moments = replay(
        history,
        {history.sku_ids[0]: Truth(())},
        start=case.window_start,
        end=case.window_start + 2 * HOUR,
        step_seconds=3600,
        settings=SETTINGS,
        sales_only=False,
    )
    assert judge(moments).stockouts == 0 and judge(moments).all_moments == 0
