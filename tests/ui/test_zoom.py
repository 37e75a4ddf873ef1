"""Zoom and pan along time on the stock-flow and orders charts (#15), driven by the same wheel
and mouse events a seller's hand makes: the view moves where the seller puts it, stays there
while live data arrives, and goes back to the chart's own range on a double-click or a range."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from app.sync.dashboard_data import OrderHours
from app.ui.main_window import MainWindow
from app.ui.zoom import FILL_AT_LEAST, MIN_SPAN, ZOOM_NOTE, fitted_top, peak_between
from tests.ui import synthetic
from tests.ui.gestures import double_click, drag, wheel

HOUR = 3600.0
DAY = 24 * HOUR


def _year_of_hours(now: float) -> OrderHours:
    starts = np.arange(now - 365 * DAY, now - 48 * HOUR, HOUR)
    starts = starts - starts % HOUR
    orders = 20.0 + 10.0 * np.sin(np.arange(len(starts)) / 24.0)
    return OrderHours(starts, orders, orders * 12.5)


@pytest.fixture
def shown(window: MainWindow) -> MainWindow:
    vm = synthetic.viewmodel()
    window.apply(dataclasses.replace(vm, order_hours=_year_of_hours(vm.now)))
    window.resize(1400, 950)
    window.show()
    window.flush_charts()
    QApplication.processEvents()
    return window


def _span(plot: object) -> tuple[float, float]:
    (lo, hi), _ = plot.getPlotItem().getViewBox().viewRange()  # type: ignore[attr-defined]
    return float(lo), float(hi)


def test_the_wheel_zooms_the_stock_chart_and_live_data_leaves_the_view_alone(
    shown: MainWindow,
) -> None:
    flow = shown.dashboard.inventory.flow
    flow.ranges.select("7 d")
    shown.flush_charts()
    lo, hi = _span(flow.plot)
    _, (y_lo, _y_hi) = flow.plot.getPlotItem().getViewBox().viewRange()

    wheel(flow.plot, 3)
    zoomed = _span(flow.plot)
    assert zoomed[1] - zoomed[0] < 0.8 * (hi - lo)  # nearer in time
    assert lo < zoomed[0] and zoomed[1] < hi  # around the pointer, inside the old view
    assert flow.zoom.held and flow.ranges.note.text() == ZOOM_NOTE
    assert flow.ranges.note.isVisibleTo(flow)

    # A snapshot minutes later: the data moves on, the seller's view does not.
    later = synthetic.viewmodel()
    shown.apply(dataclasses.replace(later, now=later.now + 600.0))
    shown.flush_charts()
    assert _span(flow.plot) == pytest.approx(zoomed)
    assert flow.ranges.note.text() == ZOOM_NOTE

    # Zooming in without end stops at ten minutes; the value axis still starts at zero or above.
    for _ in range(40):
        wheel(flow.plot, 3)
    lo2, hi2 = _span(flow.plot)
    assert hi2 - lo2 == pytest.approx(MIN_SPAN, rel=0.05)
    assert flow.plot.getPlotItem().getViewBox().viewRange()[1][0] >= y_lo - 1.0

    double_click(flow.plot)
    shown.flush_charts()
    assert not flow.zoom.held and flow.ranges.note.text() != ZOOM_NOTE
    assert _span(flow.plot) == pytest.approx((lo, hi), abs=HOUR)


def test_a_drag_pans_the_years_orders_and_a_range_gives_the_view_back(
    shown: MainWindow,
) -> None:
    chart = shown.dashboard.orders.chart
    chart.ranges.select("365 d")
    shown.flush_charts()
    wheel(chart.orders_plot, 4)
    lo, hi = _span(chart.orders_plot)
    revenue = _span(chart.revenue_plot)
    drag(chart.orders_plot, 200.0)  # the pointer moves right: the view goes back in time
    moved = _span(chart.orders_plot)
    assert moved[0] < lo - DAY and moved[1] - moved[0] == pytest.approx(hi - lo, rel=0.01)
    # Revenue shares the time axis (pyqtgraph aligns linked views pixel by pixel): it moved
    # back by as much.
    revenue_moved = _span(chart.revenue_plot)
    assert revenue_moved[1] - revenue[1] == pytest.approx(moved[1] - hi, rel=0.01)
    # The value axis fits the orders in view (20 +/- 10 an hour), not a fixed scale.
    (_, _), (_, top) = chart.orders_plot.getPlotItem().getViewBox().viewRange()
    assert 25.0 < top < 40.0

    chart.ranges.select("30 d")
    shown.flush_charts()
    lo3, hi3 = _span(chart.orders_plot)
    assert not chart.zoom.held and chart.ranges.note.text() == ""
    assert 29 * DAY < hi3 - lo3 < 31 * DAY


def _value_axis(plot: object) -> tuple[float, float]:
    _, (lo, hi) = plot.getPlotItem().getViewBox().viewRange()  # type: ignore[attr-defined]
    return float(lo), float(hi)


def _peak_in(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    inside = (x >= lo) & (x <= hi)
    return float(y[inside].max())


def test_the_value_axis_starts_at_zero_and_fits_the_orders_in_view(shown: MainWindow) -> None:
    """While the seller moves along the year, each value axis starts at zero (orders and
    revenue are amounts), its top clears the highest bar in view, and that bar fills most of
    the height: zooming into a quiet stretch does not squash it into the bottom third."""
    chart = shown.dashboard.orders.chart
    chart.ranges.select("365 d")
    shown.flush_charts()
    hours = _year_of_hours(synthetic.viewmodel().now)
    x = hours.hour_starts + HOUR / 2
    wheel(chart.orders_plot, 6)
    for _ in range(3):
        drag(chart.orders_plot, 150.0)
        lo, hi = _span(chart.orders_plot)
        for plot, values in (
            (chart.orders_plot, hours.orders),
            (chart.revenue_plot, hours.revenue),
        ):
            bottom, top = _value_axis(plot)
            peak = _peak_in(x, values, *_span(plot))
            assert bottom == 0.0
            assert peak <= top and peak >= 0.6 * top, (peak, top)
        assert lo < hi


def test_a_notch_that_keeps_the_same_peak_in_view_leaves_the_value_axis_still(
    shown: MainWindow,
) -> None:
    """The value labels do not jitter with every notch: while the highest value in view still
    fits and fills the axis, its top stays the same round number."""
    chart = shown.dashboard.orders.chart
    chart.ranges.select("365 d")
    shown.flush_charts()
    wheel(chart.orders_plot, 8)  # a few weeks of a 20 +/- 10 an hour rhythm
    tops = set()
    for _ in range(6):
        drag(chart.orders_plot, 40.0, steps=2)
        tops.add(_value_axis(chart.orders_plot)[1])
    assert len(tops) == 1
    top = tops.pop()
    assert top == pytest.approx(round(top, 1))  # 35, not 31.47


def test_new_stock_in_the_sellers_view_refits_the_value_axis(shown: MainWindow) -> None:
    """A restock arriving while the seller holds a zoomed view: the view stays on its stretch
    of time, and the value axis grows to show the new level rather than cut it off."""
    flow = shown.dashboard.inventory.flow
    flow.ranges.select("7 d")
    shown.flush_charts()
    wheel(flow.plot, 3)
    lo, hi = _span(flow.plot)
    _, top = _value_axis(flow.plot)
    vm = synthetic.viewmodel()
    sku = flow.sku_id
    assert sku is not None and sku in vm.histories
    old = vm.histories[sku]
    spike_at = (lo + hi) / 2
    keep = old.times < spike_at
    times = np.concatenate((old.times[keep], [spike_at], old.times[~keep]))
    stock = np.concatenate((old.stock[keep], [top * 3], old.stock[~keep]))
    histories = dict(vm.histories)
    histories[sku] = dataclasses.replace(old, times=times, stock=stock)
    shown.apply(dataclasses.replace(vm, histories=histories))
    shown.flush_charts()
    assert _span(flow.plot) == pytest.approx((lo, hi))
    bottom, new_top = _value_axis(flow.plot)
    assert bottom == 0.0 and new_top >= top * 3


def test_a_refitted_value_axis_is_round_holds_its_peak_and_is_not_refitted_again() -> None:
    """Whatever the peak in view, the top it gets clears it, is a round number, is filled
    above FILL_AT_LEAST, and the next notch with the same peak keeps it (no flicker)."""
    for peak in np.geomspace(0.3, 3e6, 400):
        top = fitted_top(float(peak), 0.0)
        assert peak <= top and peak >= FILL_AT_LEAST * top / 1.05
        assert float(f"{top:.2g}") == top  # two significant figures at most: 35, 8,000
        assert fitted_top(float(peak), top) == top
    assert fitted_top(0.0, 0.0) == 1.0


def test_the_peak_in_view_counts_the_line_running_in_from_outside() -> None:
    """A sale just left of the view still draws its line into it: its level counts."""
    x = np.array([0.0, 10.0, 20.0, 30.0])
    y = np.array([5.0, 100.0, 7.0, 6.0])
    assert peak_between(x, y, 12.0, 18.0) == 100.0
    assert peak_between(x, y, 21.0, 29.0) == 7.0
    assert peak_between(x[:0], y[:0], 0.0, 1.0) == 0.0
