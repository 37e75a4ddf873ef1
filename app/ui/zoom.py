"""Zoom and pan along time on the stock-flow and orders charts (#15).

A year of orders or a fortnight of sale-by-sale stock holds detail no fixed range shows: the
wheel zooms the time axis around the pointer and a drag pans it, as in any chart a seller has
used. Only time moves (the value axis follows what is in view), so the chart can never be
dragged into showing nothing. While the seller has moved the view, live updates redraw the
data but leave the view where it is: a chart that jumps back to "now" every few seconds cannot
be read. Picking a range, or a double-click on the chart, hands the view back to the chart.

The value axis is fitted here, not by pyqtgraph's auto-range: that refits to the exact min and
max in view on every notch, so the value axis (whose grid spans the whole plot) re-rendered its
text and grid on every step, most of a notch's cost (#15). Here it starts at zero, its top is a
round number, and it only moves when what is in view no longer fits or fills under 70% of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from app.ui.plots import nice_ceiling

__all__ = [
    "FILL_AT_LEAST",
    "MAX_SPAN",
    "MIN_SPAN",
    "ZOOM_NOTE",
    "Peak",
    "TimeZoom",
    "fitted_top",
    "peak_between",
]

#: The narrowest view: ten minutes (the stock chart's finest detail is one sale).
MIN_SPAN = 600.0
#: The widest view: a little over the year the long ranges show.
MAX_SPAN = 400 * 24 * 3600.0
#: What the range selector says while the seller holds the view.
ZOOM_NOTE = "your own view: double-click the chart or pick a range to follow live"
#: The value axis is refitted once the highest value in view fills less than this of it.
FILL_AT_LEAST = 0.7
#: Room above the highest value in view, so a peak does not touch the top edge.
HEADROOM = 1.05
# Round tops: no step is more than 1.25 times the last, so a refitted axis is filled above 80%
# (HEADROOM included) and the next notch does not refit it again.
_TOPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)

#: The highest value a chart draws between two times (x_lo, x_hi) of a plot.
Peak = Callable[[float, float], float]


def peak_between(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], lo: float, hi: float) -> float:
    """Highest `y` of the line through (x, y) (x sorted) between `lo` and `hi`, the points
    either side of the range included (the line runs through them to the edge). A binary
    search and the max of a slice: 50 us for 100,000 points in view, so no pyramid is kept."""
    n = len(x)
    if n == 0:
        return 0.0
    i = max(int(np.searchsorted(x, lo, side="left")) - 1, 0)
    j = min(int(np.searchsorted(x, hi, side="right")) + 1, n)
    if i >= j:
        return 0.0
    return float(np.max(y[i:j]))


def fitted_top(peak: float, current: float) -> float:
    """The value axis's top for `peak` in view: `current` while `peak` fits and fills at
    least FILL_AT_LEAST of it, else the next round number above `peak` plus headroom."""
    want = max(peak, 0.0) * HEADROOM
    if current > 0 and FILL_AT_LEAST * current <= want <= current:
        return current
    if want <= 0:
        return current if current > 0 else 1.0
    return nice_ceiling(want, _TOPS)


class TimeZoom(QObject):
    """Wheel-zoom and drag-pan of the time axis on `plots` (x-linked plots share one view).

    `held` is True from the seller's first zoom or pan until `release()`; `changed(held)` says
    when that flips, so the chart can stop or resume choosing its own range. `peaks[i]` says
    the highest value `plots[i]` draws in a stretch of time; while held, the value axis is
    fitted to it as the time axis moves (and on `fit()`, when new data came in)."""

    changed = Signal(bool)

    def __init__(
        self, plots: list[pg.PlotWidget], peaks: Sequence[Peak], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        if len(peaks) != len(plots):
            raise ValueError("one peak function per plot")
        self._plots = plots
        self._peaks = list(peaks)
        self.held = False
        for index, plot in enumerate(plots):
            plot.setMouseEnabled(x=True, y=False)
            view = plot.getPlotItem().getViewBox()
            # Units, orders and revenue are never negative: an axis fitted to a flat stretch
            # in view would otherwise pad below zero.
            view.setLimits(minXRange=MIN_SPAN, maxXRange=MAX_SPAN, yMin=0.0)
            # The value labels change as the view moves ("40" to "300"); an axis that shrank
            # for narrower ones would shift the plot sideways mid-gesture and lay out the
            # chart again (28 ms a notch on the orders chart). It only grows.
            plot.getPlotItem().getAxis("left").setStyle(autoReduceTextSpace=False)
            view.sigRangeChangedManually.connect(self._moved)
            # Linked plots move with the one under the pointer: each fits its own value axis.
            view.sigXRangeChanged.connect(lambda _view, _range, i=index: self._fit_one(i))
            plot.scene().sigMouseClicked.connect(self._clicked)

    def _moved(self, *_args: Any) -> None:
        if self.held:
            return
        self.held = True
        for plot in self._plots:
            plot.getPlotItem().getViewBox().disableAutoRange()
        self.fit()
        self.changed.emit(True)

    def fit(self) -> None:
        """Fit every plot's value axis to what is in view (a chart calls this after drawing
        new data while the seller holds the view)."""
        for index in range(len(self._plots)):
            self._fit_one(index)

    def _fit_one(self, index: int) -> None:
        if not self.held:
            return
        view = self._plots[index].getPlotItem().getViewBox()
        (x_lo, x_hi), (y_lo, y_hi) = view.viewRange()
        top = fitted_top(self._peaks[index](x_lo, x_hi), y_hi if y_lo == 0.0 else 0.0)
        if y_lo != 0.0 or top != y_hi:
            view.setYRange(0.0, top, padding=0)

    def _clicked(self, event: Any) -> None:
        if event.double():
            self.release()

    def release(self) -> None:
        """Give the view back to the chart (its range selector, or a double-click)."""
        if not self.held:
            return
        self.held = False
        self.changed.emit(False)
