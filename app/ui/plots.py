"""pyqtgraph plumbing: themed plots and the one repaint timer.

Fast path (DESKTOP-NOTES): items are created once and fed with `setData` from preallocated numpy
buffers; cards only mark themselves dirty when data arrives, and a single QTimer (10 Hz) flushes
dirty charts, so a burst of 50 events/s costs at most ten chart updates a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QSize, QTimer
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsItem

from app.ui.theme import Palette

MAX_REPAINT_HZ = 10
#: Round axis tops: these times a power of ten.
NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float, steps: Sequence[float] = NICE_STEPS) -> float:
    """The next round number (`steps` x 10^n) at or above `value`: a stable axis top that
    does not re-layout the axis on every small change; the number it looks like (3.5 x 0.1 is
    0.35, not 0.35000000000000003), and 1 for nothing."""
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in steps:
        if value <= step * exp * (1 + 1e-9):
            return float(f"{step * exp:.6g}")
    return float(f"{10.0 * exp:.6g}")


class Flushable(Protocol):
    def flush(self) -> None: ...


class RepaintScheduler(QObject):
    """Collects dirty charts and flushes them from one timer at most `hz` times a second."""

    def __init__(self, hz: int = MAX_REPAINT_HZ, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._dirty: dict[int, Callable[[], None]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / min(hz, MAX_REPAINT_HZ)))
        self._timer.timeout.connect(self.flush)
        self.flush_count = 0

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    def mark_dirty(self, chart: Flushable) -> None:
        """Ask for `chart.flush()` on the next tick."""
        self._dirty[id(chart)] = chart.flush
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Flush every dirty chart now (the timer calls this; tests and benchmarks may too)."""
        pending, self._dirty = self._dirty, {}
        for flush in pending.values():
            flush()
        if pending:
            self.flush_count += 1
        else:
            self._timer.stop()


class GrowBuffer:
    """A preallocated float64 buffer that grows by doubling; charts `setData` from views of it."""

    def __init__(self, capacity: int = 1024) -> None:
        self.data = np.zeros(capacity, dtype=np.float64)
        self.size = 0

    def assign(self, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Copy `values` in (reallocating only when it outgrows the buffer); return the view."""
        n = len(values)
        if n > len(self.data):
            self.data = np.zeros(max(n, 2 * len(self.data)), dtype=np.float64)
        self.data[:n] = values
        self.size = n
        return self.data[:n]

    def assign_with_tail(self, values: np.ndarray[Any, Any], tail: float) -> np.ndarray[Any, Any]:
        """Like `assign`, plus one last value, without allocating a temporary array."""
        n = len(values) + 1
        if n > len(self.data):
            self.data = np.zeros(max(n, 2 * len(self.data)), dtype=np.float64)
        self.data[: n - 1] = values
        self.data[n - 1] = tail
        self.size = n
        return self.data[:n]

    def view(self) -> np.ndarray[Any, Any]:
        return self.data[: self.size]


def pen(color: str | QColor, width: float = 1, style: Any = None) -> Any:
    """An opaque cosmetic pen (width 1 is the fast path)."""
    if style is None:
        return pg.mkPen(color=color, width=width)
    return pg.mkPen(color=color, width=width, style=style)


def brush(color: str, alpha: int = 255) -> Any:
    c = QColor(color)
    c.setAlpha(alpha)
    return pg.mkBrush(c)


class CompactPlot(pg.PlotWidget):  # type: ignore[misc]
    """A PlotWidget with a modest size hint, so cards share the screen instead of each asking
    for 600x576 and pushing the dashboard into a scroll."""

    def sizeHint(self) -> QSize:
        return QSize(360, 160)


def make_plot(date_axis: bool = False) -> pg.PlotWidget:
    """A PlotWidget with the house defaults; the DateAxisItem is set before any data."""
    axis_items = {"bottom": pg.DateAxisItem(orientation="bottom")} if date_axis else None
    widget = CompactPlot(axisItems=axis_items)
    item = widget.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    item.showGrid(x=False, y=True, alpha=0.35)
    widget.setMouseEnabled(x=False, y=False)
    # Axes redraw their text on every repaint of the view unless cached; the cache is only
    # invalidated when the axis really changes (range, theme), which the charts keep rare.
    for name in ("left", "bottom"):
        item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    widget.setMinimumHeight(70)
    return widget


def style_plot(widget: pg.PlotWidget, palette: Palette) -> None:
    """Recolour a plot (background, axes, ticks, labels) to the palette."""
    widget.setBackground(palette.surface)
    item = widget.getPlotItem()
    font = QFont()
    font.setPointSizeF(8.5)
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pen(palette.border))
        axis.setTextPen(pen(palette.text_muted))
        axis.setTickFont(font)
    item.titleLabel.setAttr("color", palette.text)
    if item.legend is not None:
        item.legend.setLabelTextColor(palette.text_muted)
        item.legend.setBrush(brush(palette.surface, 220))
        item.legend.setPen(pen(palette.border))
