"""The dashboard's charts. Each builds its plot items once in `__init__`, keeps the latest data
in preallocated buffers on `update_from(...)`, marks itself dirty, and draws in `flush()` when
the RepaintScheduler ticks. `apply_palette` recolours every item for a live theme switch.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.insight import fmt
from app.insight.types import OrderIntelligence, SkuInsight
from app.sync.dashboard_types import OrderHours, StockSeries
from app.ui import when
from app.ui.plots import (
    GrowBuffer,
    RepaintScheduler,
    brush,
    make_plot,
    nice_ceiling,
    pen,
    style_plot,
)
from app.ui.ranges import DAY, RangeSelector
from app.ui.theme import Palette, load_palettes
from app.ui.viewmodel import Projector
from app.ui.zoom import ZOOM_NOTE, TimeZoom, peak_between

HOUR = 3600.0
# Long histories skip the fill under the curve: filling a downsampled 100k-point path costs more
# than the rest of the frame.
FILL_MAX_POINTS = 20_000


def set_if_changed(line: pg.InfiniteLine, value: float) -> None:
    """InfiniteLine.setValue is not free; skip it when nothing moved."""
    if line.value() != value:
        line.setValue(value)


PROJECTION_POINTS = 48
# Landscape axes are log10; SKUs with no forecast sit at the right edge.
COVER_MIN_H = 0.5
COVER_MAX_H = 24.0 * 90
RATE_MIN = 0.02
COVER_TICKS = (
    (1, "1 h"),
    (6, "6 h"),
    (24, "1 day"),
    (96, "4 days"),
    (336, "2 weeks"),
    (1440, "2 months"),
)
RATE_TICKS = (
    (0.01, "0.01/h"),
    (0.1, "0.1/h"),
    (1, "1/h"),
    (10, "10/h"),
    (100, "100/h"),
    (1000, "1,000/h"),
    (10000, "10,000/h"),
)


def view_ahead_hours(hours_left: float | None, lead_hours: float) -> float:
    """How far ahead the stock chart looks: what matters next. A stock-out 45 minutes away gets
    a view of about an hour, not eight days in which it would be a few pixels; the reorder's
    arrival is included only when it is not far beyond that (otherwise the gap label says when
    it comes). Without a forecast, the next day."""
    if hours_left is None or hours_left <= 0:
        return 24.0
    ahead = max(hours_left * 1.5, 2.0)
    if lead_hours <= ahead * 1.5:
        ahead = max(ahead, lead_hours * 1.05)
    return min(ahead, 24.0 * 60)


def projection_curve(
    now: float, available: float, hours_left: float, trend: float
) -> tuple[np.ndarray, np.ndarray]:
    """Stock from now until it reaches zero at `hours_left`, bent by the forecast's trend.

    stock(h) = available - r*h - k*h^2/2 with r chosen so that stock(hours_left) = 0; when the
    trend would make r negative the projection falls back to a straight line.
    """
    h_end = max(hours_left, 1e-6)
    k = trend
    r = (available - 0.5 * k * h_end * h_end) / h_end
    if r < 0:
        k, r = 0.0, available / h_end
    hs = np.linspace(0.0, h_end, PROJECTION_POINTS)
    stock = np.clip(available - r * hs - 0.5 * k * hs * hs, 0.0, None)
    return now + hs * HOUR, stock


class StockFlowChart(QWidget):
    """Stock history of one SKU plus its projected depletion, the forecast band, and markers for
    now and for when a reorder placed now would arrive."""

    def __init__(self, scheduler: RepaintScheduler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scheduler = scheduler
        self.plot = make_plot(date_axis=True)
        self.plot.setMinimumHeight(150)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # 24 h / 7 d / 30 d / 365 d of the past, or "Auto" (as far back as the view looks ahead).
        self.ranges = RangeSelector(self)
        self.ranges.changed.connect(self.set_window)
        self.zoom = TimeZoom([self.plot], [self._peak_in_view], self)
        self.zoom.changed.connect(self._zoom_changed)
        self._window: float | None = None
        self._last: (
            tuple[StockSeries | None, SkuInsight | None, float, float, Projector | None] | None
        ) = None
        layout.addWidget(self.ranges)
        layout.addWidget(self.plot)
        item = self.plot.getPlotItem()
        item.setLabel("left", "units in stock")
        item.setLabel("bottom", "local time")
        self._hist_x = GrowBuffer(4096)
        self._hist_y = GrowBuffer(4096)
        self.history = pg.PlotDataItem(fillLevel=0.0)
        self.band_low = pg.PlotDataItem()
        self.band_high = pg.PlotDataItem()
        self.band = pg.FillBetweenItem(self.band_low, self.band_high)
        self.projection = pg.PlotDataItem()
        self.bridge = pg.PlotDataItem()
        self.now_line = pg.InfiniteLine(
            angle=90,
            movable=False,
            label="now",
            labelOpts={"position": 0.95, "anchors": [(0, 0), (0, 0)]},
        )
        self.arrival_line = pg.InfiniteLine(
            angle=90,
            movable=False,
            label="reorder arrives",
            labelOpts={"position": 0.55, "anchors": [(1, 0), (1, 0)]},
        )
        # The stretch between stock-out and the earliest possible reorder arrival: sales lost.
        self.gap = pg.LinearRegionItem(movable=False)
        self.gap.setZValue(-10)
        self.gap_label = pg.TextItem(anchor=(1, 0))
        item.addItem(self.gap, ignoreBounds=True)
        item.addItem(self.gap_label, ignoreBounds=True)
        for it in (
            self.band,
            self.band_low,
            self.band_high,
            self.history,
            self.bridge,
            self.projection,
        ):
            item.addItem(it)
        item.addItem(self.now_line, ignoreBounds=True)
        item.addItem(self.arrival_line, ignoreBounds=True)
        self.band.setZValue(-5)
        self._pending: (
            tuple[StockSeries | None, SkuInsight | None, float, float, Projector | None] | None
        ) = None
        self._range: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._history_key: tuple[object, ...] | None = None
        self._peak_cache: tuple[float, float] = (-1.0, 0.0)
        self.sku_id: str | None = None
        self.apply_palette(load_palettes()["dark"])

    def update_from(
        self,
        history: StockSeries | None,
        insight: SkuInsight | None,
        now: float,
        lead_time_hours: float,
        projector: Projector | None = None,
    ) -> None:
        """Take new data (cheap); drawing waits for the repaint tick. `projector` is
        `ShopInsight.projected_stock` when the snapshot has it: the chart then draws insight's
        own expected depletion and band instead of its straight-line approximation."""
        self.sku_id = insight.sku_id if insight else (history.sku_id if history else None)
        self._pending = (history, insight, now, lead_time_hours, projector)
        self._scheduler.mark_dirty(self)

    def set_window(self, seconds: float | None) -> None:
        """Show the last `seconds` of history up to now (None: the automatic view)."""
        self._window = seconds
        self.zoom.release()
        self._redraw()

    def _zoom_changed(self, held: bool) -> None:
        if held:
            self.ranges.set_note(ZOOM_NOTE)
        else:
            self._range = (0.0, 0.0, 0.0)  # the chart chooses its range again
            self._redraw()

    def _redraw(self) -> None:
        if self._pending is None and self._last is not None:
            self._pending = self._last
        self._scheduler.mark_dirty(self)

    def flush(self) -> None:
        if self._pending is None:
            return
        history, insight, now, lead_hours, projector = self._pending
        self._last, self._pending = self._pending, None
        if history is not None and len(history.times):
            # The object itself is kept in the key: an id() alone can be reused by the next
            # SKU's history once the old one is freed, and the chart would keep the old curve.
            key = (history, len(history.times))
            if (
                self._history_key is None
                or key[0] is not self._history_key[0]
                or (key[1] != self._history_key[1])
            ):
                # Only a new history object is copied and handed to pyqtgraph; an unchanged one
                # keeps its curve and pyqtgraph's downsampling cache.
                self._history_key = key
                x = self._hist_x.assign(history.times)
                y = self._hist_y.assign(history.stock)
                fill = 0.0 if len(x) <= FILL_MAX_POINTS else None
                if self.history.opts.get("fillLevel") != fill:
                    self.history.setFillLevel(fill)
                self.history.setData(x, y)
                self._peak_cache = (-1.0, 0.0)
            start = float(self._hist_x.data[0])
            if insight is not None:
                # A short bridge from the last recorded level to "now" meets the projection.
                last_t = float(self._hist_x.data[self._hist_x.size - 1])
                last_y = float(self._hist_y.data[self._hist_y.size - 1])
                self.bridge.setData([last_t, now, now], [last_y, last_y, insight.available])
            else:
                self.bridge.setData([], [])
        else:
            self._history_key = None
            self._peak_cache = (-1.0, 0.0)
            self.history.setData([], [])
            self.bridge.setData([], [])
            start = now - 24 * HOUR
        end = now + 24 * HOUR
        fc = insight.forecast if insight is not None else None
        if (
            insight is not None
            and fc is not None
            and fc.hours_left is not None
            and fc.hours_left > 0
        ):
            horizon = view_ahead_hours(fc.hours_left, lead_hours)
            end = now + horizon * HOUR
            # A band as wide as "0.9 h to 410 h" makes the stock look flat and says nothing.
            show_band = fc.band_is_narrow
            if projector is not None:
                hs = np.linspace(0.0, horizon, PROJECTION_POINTS)
                proj = projector(insight.sku_id, hs.tolist())
                px = insight.computed_at + hs * HOUR
                self.projection.setData(px, np.asarray(proj.expected, dtype=np.float64))
                if show_band:
                    self.band_low.setData(px, np.asarray(proj.busy, dtype=np.float64))
                    self.band_high.setData(px, np.asarray(proj.quiet, dtype=np.float64))
                else:
                    self.band_low.setData([], [])
                    self.band_high.setData([], [])
            else:
                px, py = projection_curve(now, insight.available, fc.hours_left, fc.trend_per_hour2)
                self.projection.setData(px, py)
                low = fc.hours_left_low if fc.hours_left_low is not None else fc.hours_left
                high = fc.hours_left_high
                span_high = high if high is not None else max(fc.hours_left * 2, low * 3)
                if show_band:
                    self.band_low.setData([now, now + low * HOUR], [insight.available, 0.0])
                    self.band_high.setData([now, now + span_high * HOUR], [insight.available, 0.0])
                else:
                    self.band_low.setData([], [])
                    self.band_high.setData([], [])
        else:
            show_band = False
            self.projection.setData([], [])
            self.band_low.setData([], [])
            self.band_high.setData([], [])
        # FillBetweenItem keeps its last path when both curves are emptied: hide it outright.
        self.band.setVisible(show_band)
        arrival = now + lead_hours * HOUR
        stockout = (
            now + fc.hours_left * HOUR
            if fc is not None and fc.hours_left is not None and insight is not None
            else None
        )
        if stockout is not None and stockout < arrival:
            self.gap.setRegion((stockout, arrival))
            self.gap_label.setText(
                f"empty ~{fmt.duration((arrival - stockout) / HOUR)} until a reorder arrives"
            )
            self.gap.show()
            self.gap_label.show()
        else:
            self.gap.hide()
            self.gap_label.hide()
        set_if_changed(self.now_line, now)
        set_if_changed(self.arrival_line, now + lead_hours * HOUR)
        self.arrival_line.setVisible(insight is not None)
        # Ranges snap to whole hours and nice numbers so the axes (costly text) only re-render
        # when the view really moves, not on every tick.
        ahead = end - now
        # As much past as future (twice for a short view, so the slope that leads here shows).
        back = min(max(6 * HOUR, 2 * ahead if ahead < 24 * HOUR else ahead), 14 * 24 * HOUR)
        step = HOUR if ahead <= 12 * HOUR else 6 * HOUR
        lo = math.floor(max(start, now - back) / HOUR) * HOUR
        if self._window is not None:  # the seller's range: exactly that much of the past
            lo = math.floor((now - self._window) / HOUR) * HOUR
            hi_window = now + min(ahead, max(self._window / 4, 6 * HOUR))
            end = min(end, hi_window)
        hi = math.ceil(end / step) * step
        self._say_history_start(lo, start if self._hist_x.size else None, now)
        peak = self._visible_peak(lo)
        top = nice_ceiling(max(peak, insight.available if insight else 0.0, 1.0) * 1.05)
        if not self.zoom.held and (lo, hi, top) != self._range:
            self._range = (lo, hi, top)
            item = self.plot.getPlotItem()
            item.setXRange(lo, hi, padding=0.01)
            item.setYRange(0, top, padding=0)
        if self.zoom.held:
            self.zoom.fit()  # new data in the seller's view: the value axis still fits it
            top = self.plot.getPlotItem().getViewBox().viewRange()[1][1]
        if stockout is not None:
            # Right-aligned at the end of the gap, or at the view's edge when the gap runs past
            # it, so the words stay inside the shaded stretch they describe.
            self.gap_label.setPos(min(arrival, hi), top * 0.98)

    def _peak_in_view(self, lo: float, hi: float) -> float:
        """The highest stock the chart draws between `lo` and `hi`: history, the bridge to
        now, the projection and, when shown, the band."""
        peak = peak_between(self._hist_x.view(), self._hist_y.view(), lo, hi)
        curves = [self.bridge, self.projection]
        if self.band.isVisible():
            curves += [self.band_low, self.band_high]
        for curve in curves:
            x, y = curve.xData, curve.yData  # as given, not the display's clipped copy
            if x is not None and y is not None and len(x):
                peak = max(peak, peak_between(x, y, lo, hi))
        return peak

    def _say_history_start(self, lo: float, first: float | None, now: float) -> None:
        """A range reaching before the history this chart holds says where that starts."""
        if self.zoom.held:
            self.ranges.set_note(ZOOM_NOTE)
            return
        if self._window is None or first is None or lo >= first - HOUR:
            self.ranges.set_note("")
            return
        days = max(1, round((now - first) / DAY))
        span = "1 day" if days == 1 else f"{days} days"
        self.ranges.set_note(f"stock history: last {span}, from {when.clock(first)}")

    def _visible_peak(self, lo: float) -> float:
        """Highest stock from `lo` on (the level holding at `lo` included), cached per `lo`."""
        if self._peak_cache[0] == lo or self._hist_x.size == 0:
            return self._peak_cache[1]
        x, y = self._hist_x.view(), self._hist_y.view()
        i = max(int(np.searchsorted(x, lo)) - 1, 0)
        peak = float(np.max(y[i:])) if i < len(y) else 0.0
        self._peak_cache = (lo, peak)
        return peak

    def apply_palette(self, p: Palette) -> None:
        style_plot(self.plot, p)
        self.history.setPen(pen(p.accent, 1))
        self.history.setBrush(brush(p.accent, 40))
        self.bridge.setPen(pen(p.accent, 1))
        self.projection.setPen(pen(p.critical, 1, Qt.PenStyle.DashLine))
        self.band_low.setPen(pen(p.band, 1, Qt.PenStyle.DotLine))
        self.band_high.setPen(pen(p.band, 1, Qt.PenStyle.DotLine))
        self.band.setBrush(brush(p.band, 45))
        self.now_line.setPen(pen(p.text_muted, 1, Qt.PenStyle.DashLine))
        self.now_line.label.setColor(p.text_muted)
        self.arrival_line.setPen(pen(p.warning, 1, Qt.PenStyle.DotLine))
        self.arrival_line.label.setColor(p.warning)
        self.gap.setBrush(brush(p.critical, 28))
        for line in self.gap.lines:
            line.setPen(pen(p.critical, 1, Qt.PenStyle.NoPen))
        self.gap_label.setColor(p.critical)
        self.palette_name = p.name


class CoverLandscape(QWidget):
    """Every SKU as a dot: hours of stock left (x, log) against sales rate (y, log), coloured by
    alert level. Reference lines mark the critical threshold and the lead time. Clicking a dot
    emits `sku_clicked(sku_id)`."""

    sku_clicked = Signal(str)

    def __init__(self, scheduler: RepaintScheduler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scheduler = scheduler
        self.plot = make_plot()
        self.plot.setMinimumHeight(110)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        item = self.plot.getPlotItem()
        item.setLogMode(x=True, y=True)
        item.setLabel("bottom", "hours of stock left")
        item.setLabel("left", "units / hour")
        item.showGrid(x=True, y=True, alpha=0.25)
        self._names: dict[str, str] = {}
        # One scatter per alert level, each with one brush and one size: a big shop's 5,000
        # dots with a brush and a size each cost ~40 ms per update on the UI thread (#15);
        # a level's dots are redrawn only when they changed.
        self.dots = {
            level: pg.ScatterPlotItem(size=11 if level == "critical" else 9, hoverable=True,
                                      tip=self._tip)
            for level in _LANDSCAPE_LEVELS
        }  # fmt: skip
        self._points: dict[str, tuple[SkuInsight, float, float, str, str]] = {}
        self._index: dict[str, int] = {}  # sku_id -> its dot's place in the arrays below
        self._seen: tuple[SkuInsight, ...] | None = None
        self.redraws = 0  # setData rounds, for tests: an unchanged frame hands pyqtgraph nothing
        for dots in self.dots.values():
            item.addItem(dots)
        self.critical_line = pg.InfiniteLine(
            angle=90,
            movable=False,
            label="critical",
            labelOpts={"position": 0.92, "anchors": [(1, 0), (1, 0)]},
        )
        self.lead_line = pg.InfiniteLine(
            angle=90,
            movable=False,
            label="lead time",
            labelOpts={"position": 0.92, "anchors": [(0, 0), (0, 0)]},
        )
        item.addItem(self.critical_line, ignoreBounds=True)
        item.addItem(self.lead_line, ignoreBounds=True)
        item.setXRange(math.log10(COVER_MIN_H), math.log10(COVER_MAX_H), padding=0.02)
        # Ticks in the seller's units, not 10^1 / 10^2 (the axes are log10 of hours and units/h).
        item.getAxis("bottom").setTicks([[(math.log10(h), label) for h, label in COVER_TICKS]])
        item.getAxis("left").setTicks([[(math.log10(r), label) for r, label in RATE_TICKS]])
        for dots in self.dots.values():
            dots.sigClicked.connect(self._clicked)
        self._ids: list[str] = []
        self._cover = np.empty(0)
        self._speed = np.empty(0)
        self._codes = np.empty(0, dtype=np.int8)  # index into _LANDSCAPE_LEVELS
        self._xs = np.empty(0)
        self._ys = np.empty(0)
        self._y_range: tuple[float, float] = (0.0, 0.0)
        self._palette = load_palettes()["dark"]
        self._pending: tuple[tuple[SkuInsight, ...], float, float] | None = None
        self.apply_palette(self._palette)

    def update_from(
        self, insights: tuple[SkuInsight, ...], critical_hours: float, lead_hours: float
    ) -> None:
        self._pending = (insights, critical_hours, lead_hours)
        self._scheduler.mark_dirty(self)

    def flush(self) -> None:
        if self._pending is None:
            return
        insights, critical_hours, lead_hours = self._pending
        self._pending = None
        if insights is not self._seen:  # the same tuple again (an orders-only update): no dots
            self._seen = insights
            self._take(insights)
        set_if_changed(self.critical_line, math.log10(max(critical_hours, COVER_MIN_H)))
        set_if_changed(self.lead_line, math.log10(max(lead_hours, COVER_MIN_H)))

    def _take(self, insights: tuple[SkuInsight, ...]) -> None:
        """Dots in SKU order (not the list's, which moves with every forecast). A SKU's point is
        worked out again only when its insight is a new object (an incremental recompute keeps
        the others' objects), and only the levels whose dots moved are handed to pyqtgraph
        (#15: the Python loop, the sort and the per-level comparison over 5,000 SKUs each frame
        cost more than a frame)."""
        points, index = self._points, self._index
        changed: list[int] = []
        fresh = len(insights) != len(self._ids)
        for s in insights:
            hit = points.get(s.sku_id)
            if hit is None or hit[0] is not s:
                points[s.sku_id] = _dot(s)
                i = index.get(s.sku_id)
                if i is None:
                    fresh = True
                else:
                    changed.append(i)
        old_x, old_y, old_codes = self._xs, self._ys, self._codes
        if fresh:  # SKUs came or went: lay every dot out again
            ids = sorted({s.sku_id for s in insights})
            rows = [points[k] for k in ids]
            self._points = dict(zip(ids, rows, strict=True))
            self._index = {k: i for i, k in enumerate(ids)}
            self._ids = ids
            self._names = {k: row[4] for k, row in zip(ids, rows, strict=True)}
            self._cover = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
            self._speed = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
            self._codes = np.fromiter(
                (_LEVEL_CODE.get(r[3], 0) for r in rows), dtype=np.int8, count=len(rows)
            )
        elif changed:
            ids = self._ids
            self._codes = old_codes.copy()  # old_codes stays as drawn, to find the moved dots
            for i in changed:
                row = self._points[ids[i]]
                self._cover[i], self._speed[i] = row[1], row[2]
                self._codes[i] = _LEVEL_CODE.get(row[3], 0)
                self._names[ids[i]] = row[4]
        else:
            return
        # Log axes: the item is in log space already, so hand it log10 values, rounded to
        # DOT_STEP (under a pixel): a dot that moved less is not redrawn.
        x = np.round(np.log10(np.clip(self._cover, COVER_MIN_H, COVER_MAX_H)) / DOT_STEP) * DOT_STEP
        y = np.round(np.log10(np.clip(self._speed, RATE_MIN, None)) / DOT_STEP) * DOT_STEP
        self._xs, self._ys = x, y
        if fresh or len(old_x) != len(x):
            self._draw()
        else:
            moved = (x != old_x) | (y != old_y) | (self._codes != old_codes)
            if not moved.any():
                return
            touched = set(self._codes[moved].tolist()) | set(old_codes[moved].tolist())
            self._draw(touched)
        # A y range snapped to decades: the axis re-renders only when it really changes.
        y_range = (
            math.floor(float(y.min())) if len(y) else -1.0,
            math.ceil(float(y.max())) if len(y) else 2.0,
        )
        if y_range != self._y_range:
            self._y_range = y_range
            self.plot.getPlotItem().setYRange(y_range[0], y_range[1] + 0.1, padding=0.02)

    def _draw(self, codes: set[int] | None = None) -> None:
        """Hand the dots of the levels in `codes` (all when None) to their scatter items, each
        in one setData with numpy arrays, one brush and one pen."""
        p = self._palette
        ids = np.array(self._ids, dtype=object)
        for code, (level, dots) in enumerate(self.dots.items()):
            if codes is not None and code not in codes:
                continue
            mask = self._codes == code
            color = brush(p.level_color(level), 230) if level else brush(p.unknown, 200)
            dots.setData(
                x=self._xs[mask], y=self._ys[mask], data=ids[mask], brush=color, pen=pen(p.surface)
            )
        self.redraws += 1

    def _tip(self, x: float, y: float, data: object) -> str:
        name = self._names.get(str(data), str(data))
        return f"{name}\n{fmt.hours(10**x)} left · {fmt.rate(10**y)}"

    def _clicked(self, _item: object, points: list[pg.SpotItem], *_: object) -> None:
        if len(points):
            self.sku_clicked.emit(str(points[0].data()))

    def apply_palette(self, p: Palette) -> None:
        self._palette = p
        style_plot(self.plot, p)
        self.critical_line.setPen(pen(p.critical, 1, Qt.PenStyle.DashLine))
        self.critical_line.label.setColor(p.critical)
        self.lead_line.setPen(pen(p.warning, 1, Qt.PenStyle.DashLine))
        self.lead_line.label.setColor(p.warning)
        if self._ids:
            self._draw()
        self.palette_name = p.name


# The landscape's positions are log10 values rounded to this (a fraction of a pixel).
DOT_STEP = 0.004

# The landscape's scatters, bottom to top; "" holds any level not named here.
_LANDSCAPE_LEVELS = ("", "ok", "warning", "critical")
_LEVEL_CODE = {level: code for code, level in enumerate(_LANDSCAPE_LEVELS) if level}


def _dot(s: SkuInsight) -> tuple[SkuInsight, float, float, str, str]:
    """One SKU's landscape point: (its insight, hours of cover, units/h, level, name)."""
    h = s.forecast.hours_left
    name = f"{s.product_name} · {s.sku_name}" if s.sku_name else s.product_name
    rate = max(s.forecast.rate_per_hour, s.velocity.ewma_per_hour)
    return (s, COVER_MAX_H if h is None else h, rate, str(s.level), name)


def first_order_hour(orders: OrderIntelligence) -> int:
    """Index of the first hour with an order: a new shop's chart starts there rather than
    showing 47 empty hours before its first bar."""
    for i, n in enumerate(orders.orders_per_hour):
        if n > 0:
            return i
    return 0


class OrdersChart(QWidget):
    """Orders per hour (bars, viral part highlighted, markers over viral hours) above revenue per
    hour (line), sharing the time axis."""

    def __init__(self, scheduler: RepaintScheduler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scheduler = scheduler
        self.orders_plot = make_plot(date_axis=True)
        self.revenue_plot = make_plot(date_axis=True)
        self.orders_plot.setMinimumHeight(110)
        self.revenue_plot.setMinimumHeight(70)
        self.revenue_plot.setXLink(self.orders_plot)
        self.orders_plot.getPlotItem().getAxis("bottom").setStyle(showValues=False)
        self.orders_plot.getPlotItem().setLabel("left", "orders")
        self.revenue_plot.getPlotItem().setLabel("left", "revenue")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # "Auto" and 24 h draw insight's live hourly bars; 7 d, 30 d and 365 d draw the store's
        # hourly totals (`update_hours`) as a downsampled line (a year is 8,760 hours).
        self.ranges = RangeSelector(self)
        self.ranges.changed.connect(self.set_window)
        self.zoom = TimeZoom(
            [self.orders_plot, self.revenue_plot],
            [self._orders_in_view, self._revenue_in_view],
            self,
        )
        self.zoom.changed.connect(self._zoom_changed)
        self._window: float | None = None
        self._hours: OrderHours | None = None
        layout.addWidget(self.ranges)
        layout.addWidget(self.orders_plot, 3)
        layout.addWidget(self.revenue_plot, 2)
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=HOUR * 0.8)
        self.viral_bars = pg.BarGraphItem(x=[0], height=[0], width=HOUR * 0.8)
        self.markers = pg.ScatterPlotItem(symbol="t1", size=9)
        self.orders_plot.addItem(self.bars)
        self.orders_plot.addItem(self.viral_bars)
        self.orders_plot.addItem(self.markers)
        self.revenue = pg.PlotDataItem(fillLevel=0.0)
        self.revenue_plot.addItem(self.revenue)
        self.long_orders = pg.PlotDataItem(fillLevel=0.0)
        self.orders_plot.addItem(self.long_orders)
        self._x = GrowBuffer(24 * 31)
        self._orders = GrowBuffer(24 * 31)
        self._viral = GrowBuffer(24 * 31)
        self._revenue = GrowBuffer(24 * 31)
        self._pending: OrderIntelligence | None = None
        self._range: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self._shown: OrderIntelligence | None = None
        self.apply_palette(load_palettes()["dark"])

    def update_from(self, orders: OrderIntelligence) -> None:
        if orders is self._shown:
            return  # same snapshot of orders: nothing to redraw
        self._shown = orders
        self._pending = orders
        self._scheduler.mark_dirty(self)

    def update_hours(self, hours: OrderHours | None) -> None:
        """The store's orders and revenue per hour over the last year (long ranges)."""
        if hours is self._hours:
            return
        self._hours = hours
        if self._window is not None and self._window > DAY:
            self._redraw()

    def set_window(self, seconds: float | None) -> None:
        """Show the last `seconds` up to now (None: the automatic view of the last hours)."""
        self._window = seconds
        self.zoom.release()
        self._redraw()

    def _zoom_changed(self, held: bool) -> None:
        self.ranges.set_note(ZOOM_NOTE if held else "")
        if not held:
            self._redraw()

    def _orders_in_view(self, lo: float, hi: float) -> float:
        """The highest bar (or line) between `lo` and `hi`, the viral markers above it included."""
        # A bar is 0.8 h wide around its centre: one whose edge is in view counts.
        peak = peak_between(self._x.view(), self._orders.view(), lo - HOUR / 2, hi + HOUR / 2)
        if self.markers.isVisible():
            x, y = self.markers.getData()
            if len(x):
                peak = max(peak, peak_between(x, y, lo, hi))
        return peak

    def _revenue_in_view(self, lo: float, hi: float) -> float:
        return peak_between(self._x.view(), self._revenue.view(), lo, hi)

    def _redraw(self) -> None:
        if self._shown is not None:
            self._pending = self._shown
        self._range = (0.0, 0.0, 0.0, 0.0)
        self._scheduler.mark_dirty(self)

    def flush(self) -> None:
        oi = self._pending
        if oi is None:
            return
        self._pending = None
        if not oi.hour_starts:
            return
        hours = self._hours
        if self._window is not None and self._window > DAY and hours is not None:
            self._draw_long(oi, hours, self._window)
            return
        self.long_orders.setData([], [])
        self.bars.setVisible(True)
        self.viral_bars.setVisible(True)
        self.markers.setVisible(True)
        x = self._x.assign(np.asarray(oi.hour_starts, dtype=np.float64) + HOUR / 2)
        counts = self._orders.assign(np.asarray(oi.orders_per_hour, dtype=np.float64))
        viral = self._viral.assign(np.asarray(oi.viral_orders_per_hour, dtype=np.float64))
        rev = self._revenue.assign(np.asarray([float(v) for v in oi.revenue_per_hour]))
        self.bars.setOpts(x=x, height=counts, width=HOUR * 0.8)
        self.viral_bars.setOpts(x=x, height=viral, width=HOUR * 0.8)
        # Mark the hours videos really drove: at least 3 viral orders and a quarter of the hour.
        mask = (viral >= 3) & (viral >= 0.25 * counts)
        top = float(counts.max()) if len(counts) else 1.0
        self.markers.setData(x=x[mask], y=counts[mask] + max(top * 0.06, 0.3))
        self.revenue.setData(x, rev)
        first = first_order_hour(oi)
        lo = min(float(x[first]) - HOUR, float(x[-1]) - 6 * HOUR)
        if self._window is not None:
            lo = float(x[-1]) - self._window
        ranges = (
            lo,
            float(x[-1]),
            nice_ceiling(max(top, 1.0) * 1.15),
            nice_ceiling(max(float(rev.max()), 1.0) * 1.05),
        )
        if self.zoom.held:
            self.zoom.fit()  # new data in the seller's view: the value axes still fit it
        elif ranges != self._range:
            self._range = ranges
            self.orders_plot.getPlotItem().setXRange(ranges[0], ranges[1], padding=0.01)
            self.orders_plot.getPlotItem().setYRange(0, ranges[2], padding=0)
            self.revenue_plot.getPlotItem().setYRange(0, ranges[3], padding=0)

    def _draw_long(self, oi: OrderIntelligence, hours: OrderHours, window: float) -> None:
        """Orders and revenue per hour over `window` from the store's hourly totals, joined to
        insight's live hours for the most recent ones (the totals refresh less often)."""
        live_from = float(oi.hour_starts[0])
        keep = hours.hour_starts < live_from
        x = np.concatenate((hours.hour_starts[keep], np.asarray(oi.hour_starts, dtype=np.float64)))
        counts = np.concatenate(
            (hours.orders[keep], np.asarray(oi.orders_per_hour, dtype=np.float64))
        )
        rev = np.concatenate(
            (hours.revenue[keep], np.asarray([float(v) for v in oi.revenue_per_hour]))
        )
        x = self._x.assign(x + HOUR / 2)
        counts = self._orders.assign(counts)
        rev = self._revenue.assign(rev)
        self.bars.setVisible(False)
        self.viral_bars.setVisible(False)
        self.markers.setVisible(False)
        self.long_orders.setData(x, counts)
        self.revenue.setData(x, rev)
        hi = float(x[-1])
        lo = hi - window
        start = int(np.searchsorted(x, lo))
        top = float(counts[start:].max()) if start < len(counts) else 1.0
        top_rev = float(rev[start:].max()) if start < len(rev) else 1.0
        ranges = (
            lo,
            hi,
            nice_ceiling(max(top, 1.0) * 1.15),
            nice_ceiling(max(top_rev, 1.0) * 1.05),
        )
        if self.zoom.held:
            self.zoom.fit()  # new data in the seller's view: the value axes still fit it
        elif ranges != self._range:
            self._range = ranges
            self.orders_plot.getPlotItem().setXRange(lo, hi, padding=0.01)
            self.orders_plot.getPlotItem().setYRange(0, ranges[2], padding=0)
            self.revenue_plot.getPlotItem().setYRange(0, ranges[3], padding=0)

    def apply_palette(self, p: Palette) -> None:
        for plot in (self.orders_plot, self.revenue_plot):
            style_plot(plot, p)
        self.long_orders.setPen(pen(p.accent, 1))
        self.long_orders.setBrush(brush(p.accent, 60))
        self.bars.setOpts(brush=brush(p.accent, 150), pen=pen(p.accent))
        self.viral_bars.setOpts(brush=brush(p.viral, 210), pen=pen(p.viral))
        self.markers.setBrush(brush(p.viral))
        self.markers.setPen(pen(p.viral))
        self.revenue.setPen(pen(p.ok, 1))
        self.revenue.setBrush(brush(p.ok, 35))
        self.palette_name = p.name


FUNNEL_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Unpaid", ("UNPAID", "ON_HOLD")),
    ("To ship", ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING")),
    ("Shipped", ("AWAITING_COLLECTION", "IN_TRANSIT")),
    ("Delivered", ("DELIVERED", "COMPLETED")),
    ("Cancelled", ("CANCELLED",)),
)


def funnel_steps(funnel: dict[str, int] | None) -> list[tuple[str, int]]:
    """Group TikTok's statuses into the five steps a seller thinks in."""
    counts = funnel or {}
    return [(label, sum(counts.get(s, 0) for s in statuses)) for label, statuses in FUNNEL_STEPS]


class FunnelWidget(QWidget):
    """Horizontal bars per order status step, painted directly (cheap, crisp, themeable)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: list[tuple[str, int]] = funnel_steps(None)
        self._palette = load_palettes()["dark"]
        self.setMinimumHeight(5 * 24 + 8)
        self.setMinimumWidth(220)

    def set_funnel(self, funnel: dict[str, int] | None) -> None:
        steps = funnel_steps(funnel)
        if steps != self.steps:
            self.steps = steps
            self.update()

    def apply_palette(self, p: Palette) -> None:
        self._palette = p
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = self._palette
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        font = QFont(self.font())
        font.setPointSizeF(9)
        painter.setFont(font)
        label_w = 74
        count_w = 44
        row_h = min(26.0, (self.height() - 4) / len(self.steps))
        bar_w = max(10.0, self.width() - label_w - count_w - 8)
        top = max(self.steps, key=lambda s: s[1])[1] or 1
        for i, (label, count) in enumerate(self.steps):
            y = 2 + i * row_h
            painter.setPen(QColor(p.text_muted))
            painter.drawText(QRectF(0, y, label_w, row_h), Qt.AlignmentFlag.AlignVCenter, label)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(p.surface_alt))
            track = QRectF(label_w, y + row_h * 0.2, bar_w, row_h * 0.6)
            painter.drawRoundedRect(track, 4, 4)
            color = QColor(p.critical if label == "Cancelled" else p.accent)
            painter.setBrush(color)
            width = bar_w * count / top
            if width > 0:
                painter.drawRoundedRect(
                    QRectF(track.topLeft(), QPointF(label_w + max(width, 6), track.bottom())), 4, 4
                )
            painter.setPen(QColor(p.text))
            painter.drawText(
                QRectF(label_w + bar_w + 6, y, count_w, row_h),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                f"{count:,}",
            )
        painter.end()


class ShareRing(QWidget):
    """A ring showing the share of revenue attributed to videos, with the percentage inside."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.share = 0.0
        self.caption = "from videos"
        self._palette = load_palettes()["dark"]
        self.setMinimumSize(120, 120)

    def set_share(self, share: float, revenue: Decimal | None = None) -> None:
        share = min(max(share, 0.0), 1.0)
        if abs(share - self.share) > 1e-4:
            self.share = share
            self.update()

    def apply_palette(self, p: Palette) -> None:
        self._palette = p
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = self._palette
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        side = min(self.width(), self.height()) - 12
        rect = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        thickness = max(8.0, side * 0.11)
        ring = pg.mkPen(QColor(p.surface_alt), width=thickness)
        ring.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setPen(ring)
        painter.drawArc(rect, 0, 360 * 16)
        arc = pg.mkPen(QColor(p.viral), width=thickness)
        arc.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(arc)
        if self.share > 0:
            painter.drawArc(rect, 90 * 16, -int(self.share * 360 * 16))
        font = QFont(self.font())
        font.setPointSizeF(max(11.0, side / 7))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(p.text))
        painter.drawText(
            rect.adjusted(0, -side * 0.08, 0, -side * 0.08),
            Qt.AlignmentFlag.AlignCenter,
            f"{self.share * 100:.0f}%",
        )
        small = QFont(self.font())
        small.setPointSizeF(8.5)
        painter.setFont(small)
        painter.setPen(QColor(p.text_muted))
        painter.drawText(
            rect.adjusted(0, side * 0.22, 0, side * 0.22),
            Qt.AlignmentFlag.AlignCenter,
            self.caption,
        )
        painter.end()
