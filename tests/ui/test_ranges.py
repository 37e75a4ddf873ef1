"""The time-range selector of the stock-flow and orders charts changes what the seller sees
(#15): the span of the time axis, and for the orders chart a year of hourly totals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.sync.dashboard_data import HISTORY_DAYS, OrderHours, StockSeries
from app.ui import when
from app.ui.main_window import MainWindow
from tests.ui import synthetic

HOUR = 3600.0
DAY = 24 * HOUR


def _year_of_hours(now: float) -> OrderHours:
    """8,760 hours of orders; the hour a year ago holds a spike only the 365-day view shows."""
    starts = np.arange(now - 365 * DAY, now - 48 * HOUR, HOUR)
    starts = starts - starts % HOUR
    orders = np.full(len(starts), 20.0)
    orders[5] = 900.0
    return OrderHours(starts, orders, orders * 12.5)


@pytest.fixture
def shown(window: MainWindow) -> MainWindow:
    vm = synthetic.viewmodel()
    window.apply(dataclasses.replace(vm, order_hours=_year_of_hours(vm.now)))
    window.flush_charts()
    return window


def _x_span(plot: object) -> tuple[float, float]:
    (lo, hi), _ = plot.getPlotItem().getViewBox().viewRange()  # type: ignore[attr-defined]
    return float(lo), float(hi)


def test_the_orders_range_shows_the_last_day_or_the_whole_year(shown: MainWindow) -> None:
    chart = shown.dashboard.orders.chart
    auto = _x_span(chart.orders_plot)
    assert auto[1] - auto[0] < 3 * DAY  # the automatic view: the last hours, as bars
    x, _ = chart.long_orders.getData()
    assert chart.bars.isVisible() and (x is None or len(x) == 0)

    chart.ranges.select("365 d")
    shown.flush_charts()
    lo, hi = _x_span(chart.orders_plot)
    assert 360 * DAY < hi - lo < 375 * DAY  # (1% padding each side)
    assert len(chart.long_orders.xData) > 8000 and not chart.bars.isVisible()
    x, y = chart.long_orders.getData()  # what is drawn: peak-downsampled to the pixels
    assert x is not None and len(x) < len(chart.long_orders.xData)
    assert float(np.max(y)) == 900.0  # and the spike of a year ago is on screen
    y_top = chart.orders_plot.getPlotItem().getViewBox().viewRange()[1][1]
    assert y_top >= 900.0

    chart.ranges.select("7 d")
    shown.flush_charts()
    lo, hi = _x_span(chart.orders_plot)
    assert 6.9 * DAY < hi - lo < 7.3 * DAY
    y_top = chart.orders_plot.getPlotItem().getViewBox().viewRange()[1][1]
    assert y_top < 900.0  # the old spike is out of view, so the scale fits the last week

    chart.ranges.select("24 h")
    shown.flush_charts()
    lo, hi = _x_span(chart.orders_plot)
    assert 0.95 * DAY < hi - lo < 1.05 * DAY
    assert chart.bars.isVisible()


def test_the_stock_range_sets_how_much_past_the_chart_shows(shown: MainWindow) -> None:
    flow = shown.dashboard.inventory.flow
    now = shown.vm.now
    flow.ranges.select("24 h")
    shown.flush_charts()
    lo, hi = _x_span(flow.plot)
    assert abs(lo - (now - DAY)) < 0.04 * DAY and hi > now  # (hour floor, 1% padding)
    flow.ranges.select("7 d")
    shown.flush_charts()
    lo, _ = _x_span(flow.plot)
    assert abs(lo - (now - 7 * DAY)) < 0.04 * 7 * DAY
    flow.ranges.select("Auto")
    shown.flush_charts()
    assert _x_span(flow.plot) != (lo, _)


def test_a_stock_range_longer_than_the_history_says_where_it_starts(shown: MainWindow) -> None:
    """The stock chart holds two weeks: 30 d and 365 d must not pass an empty stretch off as
    a shelf with no past; they say where the history starts. 7 d and Auto need no note."""
    vm = shown.vm
    since = vm.now - HISTORY_DAYS * DAY  # what the dashboard's store read keeps
    cut = {
        k: StockSeries(k, s.times[s.times >= since], s.stock[s.times >= since])
        for k, s in vm.histories.items()
    }
    shown.apply(dataclasses.replace(vm, histories=cut))
    flow = shown.dashboard.inventory.flow
    note = flow.ranges.note
    shown.flush_charts()
    assert flow.sku_id is not None
    first = float(cut[flow.sku_id].times[0])
    days = round((shown.vm.now - first) / DAY)
    for label in ("30 d", "365 d"):
        flow.ranges.select(label)
        shown.flush_charts()
        assert note.isVisible(), label
        assert note.text() == f"stock history: last {days} days, from {when.clock(first)}"
    for label in ("7 d", "Auto"):
        flow.ranges.select(label)
        shown.flush_charts()
        assert not note.isVisible(), label
