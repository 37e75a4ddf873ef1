"""The views' S-curve posterior and the viral stock-out forecast built on it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.insight import compute_columns
from app.insight.scurve import fit_views, took_off_at
from tests.insight.synthetic import EPOCH, HOUR, viral_case

MINUTE = 60.0


def _abrupt(
    total: float = 2e6, tau: float = 1.0, onset_before_peak: float = 3.5
) -> tuple[np.ndarray, np.ndarray, float]:
    """Views like the sandbox's viral video: 180/hour, then from `onset` a logistic S-curve
    (scale `tau` hours) peaking `onset_before_peak` hours later. Returns (times, counts, onset)
    sampled every 5 minutes from one hour before the onset to 8 hours after."""
    onset = EPOCH + 10 * HOUR
    peak = onset + onset_before_peak * HOUR

    def logistic(t: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(t - peak) / (tau * HOUR)))

    times = np.arange(onset - HOUR, onset + 8 * HOUR, 5 * MINUTE)
    viral = np.where(times > onset, total * (logistic(times) - logistic(np.array(onset))), 0.0)
    counts = np.floor(180.0 * (times - EPOCH) / HOUR + viral)
    return times, counts, onset


def _quantile(values: np.ndarray, weight: np.ndarray, p: float) -> float:
    order = np.argsort(values)
    return float(values[order][np.searchsorted(np.cumsum(weight[order]), p)])


def test_no_take_off_no_posterior() -> None:
    times = np.arange(EPOCH, EPOCH + 24 * HOUR, 5 * MINUTE)
    steady = np.floor(200.0 * (times - EPOCH) / HOUR)
    assert fit_views(times, steady, float(times[-1])) is None


def test_too_early_to_fit() -> None:
    times, counts, onset = _abrupt()
    # One interval after the take-off: its growth is not known yet.
    assert fit_views(times, counts, onset + 5 * MINUTE) is None
    assert fit_views(times, counts, onset + 15 * MINUTE) is not None


def test_early_band_holds_the_truth_and_late_fit_converges() -> None:
    times, counts, onset = _abrupt()
    for minutes in (20, 45, 90):
        now = onset + minutes * MINUTE
        posterior = fit_views(times, counts, now)
        assert posterior is not None
        assert posterior.takeoff == pytest.approx(onset)
        ahead = np.array([2.0])
        truth = np.interp(now + 2 * HOUR, times, counts) - np.interp(now, times, counts)
        gained = posterior.excess_gained(ahead)[:, 0]
        low = _quantile(gained, posterior.weight, 0.05)
        high = _quantile(gained, posterior.weight, 0.95)
        assert low <= truth <= high  # uncertain early, but honest about it
    posterior = fit_views(times, counts, onset + 3 * HOUR)
    assert posterior is not None
    truth = np.interp(onset + 5 * HOUR, times, counts) - np.interp(onset + 3 * HOUR, times, counts)
    expected = float(posterior.weight @ posterior.excess_gained(np.array([2.0]))[:, 0])
    assert expected == pytest.approx(truth, rel=0.1)  # the bend is visible: it converges


_SANDBOX_LIKE = viral_case(
    2,
    baseline=0.1,
    peak_extra=38.0,
    stock_at_surge=80,
    days_before=4.5 / 24,
    scale_hours=1.0,
    total_views=2e6,
    view_interval=300.0,
    explicit_share=1.0,
    onset_hours=3.5,
)


@settings(max_examples=25, deadline=None)
@given(
    minutes=st.integers(min_value=20, max_value=300),
    levels=st.lists(st.integers(min_value=-5, max_value=3000), min_size=2, max_size=5),
)
def test_viral_forecast_more_stock_never_fewer_hours(minutes: int, levels: list[int]) -> None:
    case = _SANDBOX_LIKE
    now = case.surge_at - 3.5 * HOUR + minutes * MINUTE
    results = []
    for units in sorted(levels):
        forecast = compute_columns(case.history.with_available([units]), now).forecast
        results.append((forecast.hours_left[0], forecast.hours_low[0], forecast.hours_high[0]))
    for left, low, high in results:
        if not np.isnan(left):
            assert low <= left <= high
    for column in range(3):
        values = np.array([r[column] for r in results])
        if np.isnan(values).any():
            assert np.isnan(values).all()
            continue
        assert np.all(values[1:] >= values[:-1] - 1e-9)
        assert np.all(values >= 0)


def test_viral_forecast_uses_the_posterior_and_draws_its_band() -> None:
    case = _SANDBOX_LIKE
    now = case.surge_at - 2.0 * HOUR
    history = case.history.with_available(case.history.stock_at(now))
    columns = compute_columns(history, now)
    assert columns.viral is not None and bool(columns.viral.logistic[0])
    left = float(columns.forecast.hours_left[0])
    assert columns.forecast.hours_low[0] <= left <= columns.forecast.hours_high[0]
    available = int(history.available[0])
    central, busy, quiet = columns.projected_stock(0, available, np.array([0.0, left / 2, left]))
    assert central[0] == available and central[-1] == pytest.approx(0, abs=0.5)
    assert np.all(central >= 0) and np.all(busy >= 0) and np.all(quiet >= 0)


def test_took_off_at_is_the_take_off_the_forecast_starts_from() -> None:
    times, counts, onset = _abrupt()
    now = onset + 90 * MINUTE
    posterior = fit_views(times, counts, now)
    assert posterior is not None
    assert took_off_at(times, counts, now) == posterior.takeoff == pytest.approx(onset)
    # One interval in: too early to fit a curve, not too early to say the views took off.
    assert fit_views(times, counts, onset + 5 * MINUTE) is None
    assert took_off_at(times, counts, onset + 5 * MINUTE) == pytest.approx(onset)
    steady = np.floor(200.0 * (times - EPOCH) / HOUR)
    assert took_off_at(times, steady, now) is None
