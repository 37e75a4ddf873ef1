"""Hours until stock-out: known answers, N/A without sales, and the viral S-curve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.insight import compute_columns, compute_shop_insight
from app.insight.forecast import demand_model
from app.insight.history import ShopHistory
from app.insight.types import Forecast, StockPoint
from tests.insight.synthetic import DAY, EPOCH, HOUR, even_sales, one_sku, viral_case

NOW = EPOCH + 30 * DAY


def forecast_of(history: ShopHistory, now: float = NOW) -> Forecast:
    return compute_shop_insight(history, now).by_sku["sku-1"].forecast


def test_constant_rate_runs_out_at_stock_over_rate() -> None:
    f = forecast_of(one_sku(even_sales("sku-1", 10.0, NOW - 10 * DAY, NOW), available=240))
    assert f.hours_left is not None
    assert f.hours_left == pytest.approx(24.0, rel=0.03)
    assert f.stockout_at == pytest.approx(NOW + f.hours_left * HOUR)
    assert f.rate_per_hour == pytest.approx(10.0, rel=0.03)
    assert f.trend_per_hour2 == pytest.approx(0.0, abs=0.05)
    assert f.hours_left_low is not None and f.hours_left_high is not None
    assert f.hours_left_low < f.hours_left < f.hours_left_high


def test_no_sales_is_not_available() -> None:
    f = forecast_of(one_sku([], available=50))
    assert f.hours_left is None and f.stockout_at is None and not f.available


def test_sales_only_long_ago_is_not_available() -> None:
    f = forecast_of(one_sku(even_sales("sku-1", 5.0, NOW - 20 * DAY, NOW - 10 * DAY)))
    assert f.hours_left is None


def test_out_of_stock_with_demand_is_zero_hours() -> None:
    sales = even_sales("sku-1", 4.0, NOW - 5 * DAY, NOW - HOUR)
    stock = [StockPoint(NOW - HOUR, "sku-1", 0)]
    f = forecast_of(one_sku(sales, available=0, stock=stock))
    assert f.hours_left == 0.0


def test_a_step_up_shortens_the_forecast_quickly() -> None:
    sales = even_sales("sku-1", 2.0, NOW - 10 * DAY, NOW - 3 * HOUR)
    sales += even_sales("sku-1", 20.0, NOW - 3 * HOUR, NOW)
    f = forecast_of(one_sku(sales, available=200))
    # At 2/hour it would be 100 h; three hours into 20/hour it must be near 10 h.
    assert f.hours_left is not None and f.hours_left < 15.0


def test_demand_model_closed_form() -> None:
    level, trend = np.array([10.0, 10.0, 10.0]), np.array([0.0, 2.0, -1.0])
    model = demand_model(level, trend, floor=np.array([0.0, 0.0, 4.0]), horizon_hours=12.0)
    # Rising: 10 h + h^2 = 39 -> h = 3.
    # Falling to the floor of 4 after 6 h (demand 42), then 4/hour.
    hours = model.hours_until(np.array([100.0, 39.0, 50.0]))
    assert hours[0] == pytest.approx(10.0)
    assert hours[1] == pytest.approx(3.0)
    assert hours[2] == pytest.approx(6.0 + 8.0 / 4.0)
    assert model.cumulative(np.array([10.0, 3.0, 8.0])) == pytest.approx([100.0, 39.0, 50.0])
    never = demand_model(np.array([0.0]), np.array([0.0]), np.array([0.0]), 12.0)
    assert math.isinf(never.hours_until(np.array([5.0]))[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_viral_forecast_tracks_the_sell_out(seed: int) -> None:
    case = viral_case(seed)
    now = case.stockout_at - 2 * HOUR
    history = case.history.with_available(case.history.stock_at(now))
    item = compute_shop_insight(history, now).by_sku[case.sku_id]
    assert item.attribution is not None and item.attribution.video_id == case.video_id
    assert item.forecast.hours_left == pytest.approx(2.0, rel=0.4)
    naive = int(history.available[0]) / max(item.velocity.per_hour_24h, 1e-9)
    assert item.forecast.hours_left is not None
    assert abs(item.forecast.hours_left - 2.0) < abs(naive - 2.0)


def test_projected_stock_for_the_chart() -> None:
    history = one_sku(even_sales("sku-1", 10.0, NOW - 10 * DAY, NOW), available=240)
    columns = compute_columns(history, NOW)
    hours = np.array([0.0, 12.0, 24.0, 48.0])
    central, busy, quiet = columns.projected_stock(0, 240, hours)
    assert central[0] == 240 and central[-1] == 0
    assert central[1] == pytest.approx(120, rel=0.05)
    assert np.all(busy <= central) and np.all(central <= quiet)
    # Viral: the projection follows the demand curve down to zero at the forecast stock-out.
    case = viral_case(0)
    now = case.stockout_at - 2 * HOUR
    viral_history = case.history.with_available(case.history.stock_at(now))
    cols = compute_columns(viral_history, now)
    left = float(cols.forecast.hours_left[0])
    available = int(viral_history.available[0])
    central, busy, quiet = cols.projected_stock(0, available, np.array([0.0, left / 2, left]))
    assert central[0] == available and central[-1] == pytest.approx(0, abs=0.5)
    assert busy[1] <= central[1] <= quiet[1]
    flat, _, _ = compute_columns(one_sku([], available=7), NOW).projected_stock(0, 7, hours)
    assert list(flat) == [7, 7, 7, 7]
