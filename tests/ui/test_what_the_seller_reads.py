"""What is on screen agrees with itself (#20): each test reads the window's own labels, the
banner and the exported CSV, as a seller would, and compares them with each other."""

from __future__ import annotations

import csv
import gc
import re
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.insight import fmt
from app.insight.alerts import needing_attention
from app.insight.types import AlertLevel
from app.sync.dashboard_data import StockSeries
from app.ui.cards import AlertRow
from app.ui.charts import COVER_TICKS, view_ahead_hours
from app.ui.main_window import MainWindow
from app.ui.notifications import Notice
from tests.ui import synthetic

NUMBER = r"([\d,]+(?:\.\d+)?)"


def read_rate(text: str) -> float:
    """'47/hour' or '9.4/day' back to units per hour."""
    m = re.fullmatch(NUMBER + r"/(hour|day)", text)
    assert m, text
    value = float(m.group(1).replace(",", ""))
    return value if m.group(2) == "hour" else value / 24


def read_hours(text: str) -> tuple[float, float]:
    """'45 min', '2.2 h', '3.5 days' back to hours, with the rounding the words allow."""
    m = re.fullmatch(NUMBER + r" (min|h|days?)", text)
    assert m, text
    digits = m.group(1).replace(",", "")
    value = float(digits)
    step = 10 ** -len(digits.split(".")[1]) if "." in digits else 1.0
    scale = {"min": 1 / 60, "h": 1.0, "day": 24.0, "days": 24.0}[m.group(2)]
    return value * scale, step / 2 * scale


def alert_rows(window: MainWindow) -> list[AlertRow]:
    return [row for row in window.dashboard.alerts.rows if not row.isHidden()]


def test_each_alert_row_rate_times_hours_is_its_stock(loaded: MainWindow) -> None:
    """'75 in stock · selling 12/hour · 45 min left' was on screen: 12/hour lasts about 6 h.
    The pace a row shows (today's, or the labelled one ahead) times its hours left must come
    back to its stock, within the forecast's band and the rounding of the words."""
    rows = alert_rows(loaded)
    assert rows
    checked = 0
    for row in rows:
        line = row.velocity.full_text()
        m = re.fullmatch(NUMBER + r" in stock · (?:selling |expecting ~)(\S+) · (.+) left", line)
        if m is None:
            assert "no recent sales" in line or "out of stock" in line, line
            continue
        stock = float(m.group(1).replace(",", ""))
        pace = read_rate(m.group(2))
        hours, slack = read_hours(m.group(3))
        item = loaded.vm.insight_for(row.sku_id)
        assert item is not None and item.available == stock
        low = item.forecast.hours_left_low or hours
        high = item.forecast.hours_left_high or hours
        # rounding of the shown rate (half a unit of its last digit) and of the hours
        pace_slack = 0.5 if pace >= 10 else 0.05
        most = (pace + pace_slack) * (max(hours, high) + slack)
        least = max(pace - pace_slack, 0) * (min(hours, low) - slack)
        assert least * 0.8 <= stock <= most * 1.2, (line, low, high)
        checked += 1
    assert checked


def test_rate_on_the_card_is_the_rate_in_the_csv(loaded: MainWindow, tmp_path: Path) -> None:
    """The CSV said 3.07/hour, its own explanation 0.4/hour, the window 9.4/day."""
    from app.ui.export import write_reorder_csv

    target = tmp_path / "reorder.csv"
    write_reorder_csv(target, loaded.vm.insights)
    csv_rows = {r["sku_id"]: r for r in csv.DictReader(target.open(encoding="utf-8-sig"))}
    compared = 0
    for row in alert_rows(loaded):
        if row.sku_id not in csv_rows:
            continue
        shown = re.search(r"selling (\S+) now", row.velocity.toolTip())
        assert shown is not None
        in_csv = float(csv_rows[row.sku_id]["selling_per_hour"])
        assert fmt.rate(in_csv) == shown.group(1)
        # The sum's own rate is the same one, whether it held it ("selling R now") or, for a
        # surge, counted a day of it before the usual rate ("24 h at today's R").
        worked_out = csv_rows[row.sku_id]["how_it_was_worked_out"]
        assert f"selling {shown.group(1)} now" in worked_out or (
            f"at today's {shown.group(1)}, then the usual" in worked_out
        )
        compared += 1
    assert compared
    # The CSV lists SKUs in the alerts list's order.
    listed = [s for s in loaded.dashboard.alerts.shown_ids if s in csv_rows]
    assert list(csv_rows)[: len(listed)] == listed


def test_banner_names_the_sku_on_top_of_the_list(loaded: MainWindow) -> None:
    """The banner named a SKU with 3 days left while one with 57 minutes topped the list."""
    notice = loaded.banner.notice
    assert notice is not None and loaded.banner.isVisible()
    assert notice.sku_ids[0] == loaded.dashboard.alerts.shown_ids[0]
    # An old single-SKU notice is brought up to date by the next snapshot.
    last = loaded.dashboard.alerts.shown_ids[-1]
    loaded.banner.show_notice(Notice("Critical: old", "old", AlertLevel.WARNING, (last,)))
    loaded.apply(loaded.vm)
    assert loaded.banner.notice is not None
    assert loaded.banner.notice.sku_ids[0] == loaded.dashboard.alerts.shown_ids[0]
    # and its words are today's, not those of the moment it was raised
    top = loaded.vm.insight_for(loaded.dashboard.alerts.shown_ids[0])
    assert top is not None and loaded.banner.message.text() == top.headline


def _positions(root: QWidget, window: QWidget) -> dict[int, tuple[int, int, int, int]]:
    out = {}
    for w in root.findChildren(QWidget):
        if w.isVisible():
            p = w.mapTo(window, QPoint(0, 0))
            out[id(w)] = (p.x(), p.y(), w.width(), w.height())
    return out


def test_an_alert_arriving_moves_nothing_under_the_pointer(
    window: MainWindow, qtbot: object
) -> None:
    """The banner used to push the whole dashboard down 60 px (a click for Export landed
    elsewhere). It now floats; every dashboard widget keeps its place and size."""
    assert window.banner.isHidden()
    vm = synthetic.viewmodel()
    window.notifier.policy.paused = True  # first show the data without any alert
    window.apply(vm)
    window.flush_charts()
    QApplication.processEvents()
    before = _positions(window.dashboard, window)
    window.notifier.policy.paused = False
    window.banner.show_notice(Notice("Critical: x", "a long message " * 8, AlertLevel.CRITICAL, ()))
    QApplication.processEvents()
    assert window.banner.isVisible()
    after = _positions(window.dashboard, window)
    assert {k: v for k, v in after.items() if k in before} == before
    # and it sits inside the window, fully readable
    area = window.centralWidget()
    assert area is not None
    assert area.rect().contains(window.banner.geometry())
    message = window.banner.message
    assert message.height() >= message.heightForWidth(message.width()) - 1


def test_no_label_says_1_units(loaded: MainWindow) -> None:
    """'1 units' was on screen; every visible label, every page."""
    bad = re.compile(r"(?<![\d.,])1 (units|orders|days|SKUs|products|hours)\b")
    texts = []
    for page in ("Dashboard", "Analytics", "Sync", "Configuration"):
        loaded.show_page(page)
        QApplication.processEvents()
        texts += [w.text() for w in loaded.findChildren(QLabel) if w.isVisible()]
    texts += [loaded.sku_view.reorder_text.text(), loaded.sku_view.forecast_text.text()]
    assert texts
    assert not [t for t in texts if bad.search(t)]


def test_stock_chart_shows_the_sku_its_subtitle_names(loaded: MainWindow) -> None:
    """The subtitle named VS-0024 while the chart drew VS-0023's stock. Select SKUs one after
    another, dropping each old history object (its id can be reused by the next one), and
    compare the curve with the history of the SKU the subtitle names."""
    card = loaded.dashboard.inventory
    vm = loaded.vm
    ids = [s.sku_id for s in vm.insights][:6]
    for sku in ids:
        fresh = {
            k: StockSeries(k, np.array(h.times, copy=True), np.array(h.stock, copy=True))
            for k, h in vm.histories.items()
        }
        card.update_from(
            vm.insights, fresh, vm.now, vm.default_settings, dict(vm.sku_settings), vm.projector
        )
        card.select(sku)
        del fresh
        gc.collect()
        loaded.flush_charts()
        item = vm.insight_for(sku)
        assert item is not None
        assert item.sku_id in card.subtitle_label.text() or item.sku_name in (
            card.subtitle_label.text()
        )
        assert card.flow.sku_id == sku
        history = vm.histories.get(sku)
        ys = card.flow.history.yData  # all of it (getData() is clipped to the view)
        if history is None:
            assert ys is None or len(ys) == 0
        else:
            assert ys is not None and np.array_equal(ys, history.stock)


def test_stock_chart_looks_as_far_ahead_as_the_stock_out() -> None:
    """A 45-minute stock-out was a few pixels on an 8-day axis."""
    assert view_ahead_hours(0.75, lead_hours=168) < 3
    assert view_ahead_hours(30, lead_hours=36) >= 36  # the reorder's arrival is near: shown
    assert view_ahead_hours(None, lead_hours=168) == 24
    assert view_ahead_hours(24 * 20, lead_hours=168) >= 24 * 20


def test_cover_axis_reads_in_hours_and_days(loaded: MainWindow) -> None:
    axis = loaded.dashboard.inventory.landscape.plot.getPlotItem().getAxis("bottom")
    labels = [label for _, label in axis._tickLevels[0]]
    assert labels == [label for _, label in COVER_TICKS]
    assert "1 day" in labels and not any("¹" in label or label == "10" for label in labels)


def test_urgent_list_and_chart_agree(loaded: MainWindow) -> None:
    """The chart follows the SKU on top of the alerts list until the seller picks one."""
    top = needing_attention(loaded.vm.insights)[0]
    assert loaded.dashboard.alerts.shown_ids[0] == top.sku_id
    assert loaded.dashboard.inventory.selected == top.sku_id


def test_a_band_too_wide_to_mean_anything_is_not_drawn(loaded: MainWindow) -> None:
    """'0.9 h to 410 h' made the stock look flat; such a band is neither drawn nor worded."""
    card = loaded.dashboard.inventory
    for item in loaded.vm.insights:
        if item.forecast.hours_left is None or item.forecast.hours_left <= 0:
            continue
        card.select(item.sku_id)
        loaded.flush_charts()
        drawn = card.flow.band_low.xData is not None and len(card.flow.band_low.xData) > 0
        assert drawn == item.forecast.band_is_narrow, item.forecast
        # the shaded area itself, not only its edges (it kept a stale path once)
        assert card.flow.band.isVisible() == item.forecast.band_is_narrow
        loaded.open_sku(item.sku_id)
        words = loaded.sku_view.forecast_text.text()
        assert ("somewhere between" in words) == item.forecast.band_is_narrow
