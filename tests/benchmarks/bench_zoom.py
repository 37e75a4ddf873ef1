"""Zoom and pan on the time charts with a year of data (#15): each wheel notch and each step of
a drag, from the event to the chart painted again, against a 60 fps frame (16.7 ms).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.benchmarks zoom

The stock-flow chart holds a fortnight of one SKU's sale-by-sale stock (200,000 points, what
the store keeps), the orders chart a year of hourly orders and revenue (8,760 hours, the
365-day range). The gestures are real Qt wheel and mouse events (`tests/ui/gestures.py`); a
step's time is the event's handling plus the paint Qt then does of what it changed (the
chart, its axes, the range selector's note). Figures only; the machine is shared, so they are noisy.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QPointF, QSettings
from PySide6.QtWidgets import QApplication

from app.sync.dashboard_data import OrderHours, StockSeries
from app.ui.application import create_app
from app.ui.main_window import MainWindow
from app.ui.theme import ThemeManager, ThemeMode
from tests.ui import synthetic
from tests.ui.gestures import centre, move_to, press, release, wheel

HOUR = 3600.0
DAY = 24 * HOUR
STOCK_POINTS = 200_000
NOTCHES = 30
DRAG_STEPS = 40
FRAME_MS = 1000.0 / 60.0


def _timed(steps: int, step: Callable[[int], None]) -> list[float]:
    out = []
    for k in range(steps):
        t0 = time.perf_counter()
        step(k)
        QApplication.processEvents()  # Qt paints what the step changed (the gesture did too)
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.011)  # a hand's pace (pyqtgraph drops moves faster than 100 a second)
    return out


def _gestures(plot: object) -> dict[str, list[float]]:
    """Zoom in notch by notch, drag back in time and forth, zoom out again."""
    at = centre(plot)
    zoom_in = _timed(NOTCHES, lambda _k: wheel(plot, 1))
    press(plot, at)
    back = _timed(DRAG_STEPS, lambda k: move_to(plot, at + QPointF(8.0 * (k + 1), 0)))
    release(plot, at + QPointF(8.0 * DRAG_STEPS, 0))
    zoom_out = _timed(NOTCHES, lambda _k: wheel(plot, -1))
    return {"zoom": zoom_in + zoom_out, "pan": back}


def _line(name: str, ms: list[float]) -> str:
    p95 = float(np.percentile(ms, 95))
    p99 = float(np.percentile(ms, 99))
    return (
        f"{name:<44} p50 {statistics.median(ms):5.1f}  p95 {p95:5.1f}  p99 {p99:5.1f} ms"
        f"   ({len(ms)} steps; target p95 < {FRAME_MS:.1f} ms, 60 fps)"
    )


def main() -> None:
    app = create_app([])
    settings = QSettings(os.devnull, QSettings.Format.IniFormat)
    theme = ThemeManager(app, settings)
    theme.set_mode(ThemeMode.DARK, persist=False)
    window = MainWindow(theme, settings)
    window.resize(1440, 960)
    window.show()
    base = synthetic.viewmodel(120, 30.0)
    top = base.insights[0].sku_id
    now = base.now
    times = np.linspace(now - 14 * DAY, now, STOCK_POINTS)
    stock = np.abs(np.cumsum(np.random.default_rng(1).normal(0, 3, STOCK_POINTS))) + 50
    histories = dict(base.histories)
    histories[top] = StockSeries(top, times, stock)
    starts = np.arange(now - 365 * DAY, now - 48 * HOUR, HOUR)
    starts = starts - starts % HOUR
    orders = 20.0 + 15.0 * np.abs(np.sin(np.arange(len(starts)) / 37.0))
    vm = dataclasses.replace(
        base, histories=histories, order_hours=OrderHours(starts, orders, orders * 12.5)
    )
    window.apply(vm)
    window.flush_charts()
    app.processEvents()
    flow = window.dashboard.inventory.flow
    flow.ranges.select("7 d")
    chart = window.dashboard.orders.chart
    chart.ranges.select("365 d")
    window.flush_charts()
    app.processEvents()
    shown = flow.history.xData
    print(
        f"stock chart: {len(shown) if shown is not None else 0:,} points of one SKU's stock "
        f"(7 d range to start); orders chart: {len(starts):,} hours (365 d range to start)"
    )
    stock_steps = _gestures(flow.plot)
    order_steps = _gestures(chart.orders_plot)
    print(_line("stock chart, one wheel notch (in, then out)", stock_steps["zoom"]))
    print(_line("stock chart, one step of a drag (8 px)", stock_steps["pan"]))
    print(_line("orders chart, one wheel notch (in, then out)", order_steps["zoom"]))
    print(_line("orders chart, one step of a drag (8 px)", order_steps["pan"]))
    window.close()


if __name__ == "__main__":
    main()
