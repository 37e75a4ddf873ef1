"""Zoom and pan along time on the stock-flow and orders charts (#15).

A year of orders or a fortnight of sale-by-sale stock holds detail no fixed range shows: the
wheel zooms the time axis around the pointer and a drag pans it, as in any chart a seller has
used. Only time moves (the value axis follows what is in view), so the chart can never be
dragged into showing nothing. While the seller has moved the view, live updates redraw the
data but leave the view where it is: a chart that jumps back to "now" every few seconds cannot
be read. Picking a range, or a double-click on the chart, hands the view back to the chart.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

__all__ = ["MAX_SPAN", "MIN_SPAN", "ZOOM_NOTE", "TimeZoom"]

#: The narrowest view: ten minutes (the stock chart's finest detail is one sale).
MIN_SPAN = 600.0
#: The widest view: a little over the year the long ranges show.
MAX_SPAN = 400 * 24 * 3600.0
#: What the range selector says while the seller holds the view.
ZOOM_NOTE = "your own view: double-click the chart or pick a range to follow live"


class TimeZoom(QObject):
    """Wheel-zoom and drag-pan of the time axis on `plots` (x-linked plots share one view).

    `held` is True from the seller's first zoom or pan until `release()`; `changed(held)` says
    when that flips, so the chart can stop or resume choosing its own range."""

    changed = Signal(bool)

    def __init__(self, plots: list[pg.PlotWidget], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._plots = plots
        self.held = False
        for plot in plots:
            plot.setMouseEnabled(x=True, y=False)
            view = plot.getPlotItem().getViewBox()
            # Units, orders and revenue are never negative: an axis fitted to a flat stretch
            # in view would otherwise pad below zero.
            view.setLimits(minXRange=MIN_SPAN, maxXRange=MAX_SPAN, yMin=0.0)
            view.sigRangeChangedManually.connect(self._moved)
            plot.scene().sigMouseClicked.connect(self._clicked)

    def _moved(self, *_args: Any) -> None:
        if self.held:
            return
        self.held = True
        for plot in self._plots:
            view = plot.getPlotItem().getViewBox()
            # The value axis fits the data in view as the seller moves along time.
            view.setAutoVisible(y=True)
            view.enableAutoRange(axis=pg.ViewBox.YAxis, enable=True)
        self.changed.emit(True)

    def _clicked(self, event: Any) -> None:
        if event.double():
            self.release()

    def release(self) -> None:
        """Give the view back to the chart (its range selector, or a double-click)."""
        if not self.held:
            return
        self.held = False
        for plot in self._plots:
            view = plot.getPlotItem().getViewBox()
            view.setAutoVisible(y=False)
            view.disableAutoRange()
        self.changed.emit(False)
