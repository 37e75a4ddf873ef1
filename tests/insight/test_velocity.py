"""Velocity on synthetic series with known answers."""

from __future__ import annotations

import pytest

from app.insight import compute_shop_insight
from app.insight.history import ShopHistory
from app.insight.types import StockPoint, Velocity
from tests.insight.synthetic import DAY, EPOCH, HOUR, even_sales, one_sku

NOW = EPOCH + 30 * DAY


def velocity_of(history: ShopHistory, now: float = NOW) -> Velocity:
    return compute_shop_insight(history, now).by_sku["sku-1"].velocity


def test_constant_rate_is_the_rate_in_every_window() -> None:
    v = velocity_of(one_sku(even_sales("sku-1", 12.0, NOW - 10 * DAY, NOW)))
    for rate in (v.per_hour_1h, v.per_hour_6h, v.per_hour_24h, v.per_hour_7d):
        assert rate == pytest.approx(12.0, rel=0.01)
    assert v.ewma_per_hour == pytest.approx(12.0, rel=0.05)
    assert v.in_stock_hours_7d == pytest.approx(168.0)


def test_step_shows_in_short_windows_first() -> None:
    sales = even_sales("sku-1", 2.0, NOW - 10 * DAY, NOW - 3 * HOUR)
    sales += even_sales("sku-1", 20.0, NOW - 3 * HOUR, NOW)
    v = velocity_of(one_sku(sales))
    assert v.per_hour_1h == pytest.approx(20.0, rel=0.05)
    assert v.per_hour_6h == pytest.approx((3 * 2 + 3 * 20) / 6, rel=0.05)
    assert v.per_hour_24h == pytest.approx((21 * 2 + 3 * 20) / 24, rel=0.05)
    assert v.ewma_per_hour > 15.0


def test_ewma_reacts_within_minutes_to_a_spike() -> None:
    sales = even_sales("sku-1", 2.0, NOW - 10 * DAY, NOW - 10 * 60)
    sales += even_sales("sku-1", 60.0, NOW - 10 * 60, NOW)
    v = velocity_of(one_sku(sales))
    # Ten minutes into a 30x spike: the fast rate has already moved several-fold...
    assert v.ewma_per_hour > 4 * 2.0
    # ...while the daily average has barely noticed.
    assert v.per_hour_24h < 3.0


def test_out_of_stock_time_is_left_out() -> None:
    # 10/hour, but the shelf was empty for the last 12 of the 24 hours (no sales then).
    empty_from = NOW - 12 * HOUR
    sales = even_sales("sku-1", 10.0, NOW - 10 * DAY, empty_from)
    stock = [StockPoint(NOW - 10 * DAY, "sku-1", 500), StockPoint(empty_from, "sku-1", 0)]
    v = velocity_of(one_sku(sales, available=0, stock=stock))
    assert v.per_hour_24h == pytest.approx(10.0, rel=0.02)
    assert v.per_hour_7d == pytest.approx(10.0, rel=0.02)
    assert v.in_stock_hours_7d == pytest.approx(168.0 - 12.0)
    # The 1 h and 6 h windows were entirely out of stock: they fall back to the 24 h rate.
    assert v.per_hour_1h == pytest.approx(v.per_hour_24h)
    assert v.per_hour_6h == pytest.approx(v.per_hour_24h)
    assert v.ewma_per_hour == pytest.approx(v.per_hour_24h)


def test_restock_gap_in_the_middle_is_excluded() -> None:
    gap_start, gap_end = NOW - 20 * HOUR, NOW - 8 * HOUR
    sales = even_sales("sku-1", 6.0, NOW - 10 * DAY, gap_start)
    sales += even_sales("sku-1", 6.0, gap_end, NOW)
    stock = [StockPoint(gap_start, "sku-1", 0), StockPoint(gap_end, "sku-1", 300)]
    v = velocity_of(one_sku(sales, available=300, stock=stock))
    assert v.per_hour_24h == pytest.approx(6.0, rel=0.03)


def test_no_sales_means_zero_velocity() -> None:
    v = velocity_of(one_sku([]))
    assert (v.per_hour_1h, v.per_hour_24h, v.per_hour_7d, v.ewma_per_hour) == (0, 0, 0, 0)


def test_short_history_counts_from_since() -> None:
    since = NOW - 2 * DAY
    v = velocity_of(one_sku(even_sales("sku-1", 3.0, since, NOW), since=since))
    assert v.per_hour_7d == pytest.approx(3.0, rel=0.02)


def test_events_after_now_are_ignored() -> None:
    sales = even_sales("sku-1", 5.0, NOW - 3 * DAY, NOW + DAY)
    v = velocity_of(one_sku(sales))
    assert v.per_hour_1h == pytest.approx(5.0, rel=0.05)
