"""Navigation, themes (plots included), alert -> SKU, CSV export, settings edit, banner."""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from app.insight.types import AlertLevel, SkuSettings
from app.ui.export import COLUMNS
from app.ui.main_window import PAGES, MainWindow
from app.ui.theme import SETTINGS_KEY, ThemeManager, ThemeMode, load_palettes
from app.ui.viewmodel import LogLevel
from tests.ui import synthetic


def test_navigation_by_click_and_shortcut(loaded: MainWindow, qtbot: QtBot) -> None:
    seen: list[str] = []
    loaded.page_changed.connect(seen.append)
    for name in PAGES[1:]:
        qtbot.mouseClick(loaded.nav_buttons[name], Qt.MouseButton.LeftButton)
        assert loaded.current_page == name
        assert loaded.nav_buttons[name].isChecked()
    qtbot.keyClick(loaded, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert loaded.current_page == "Dashboard"
    assert seen == [*PAGES[1:], "Dashboard"]


def test_theme_switch_recolours_widgets_and_plots(
    loaded: MainWindow, theme: ThemeManager, settings: QSettings, qapp: object
) -> None:
    dark, light = load_palettes()["dark"], load_palettes()["light"]
    flow = loaded.dashboard.inventory.flow.plot
    orders = loaded.dashboard.orders.chart.orders_plot
    assert flow.backgroundBrush().color() == QColor(dark.surface)
    theme.set_mode(ThemeMode.LIGHT)
    assert settings.value(SETTINGS_KEY) == "light"
    assert light.window in qapp.styleSheet()  # type: ignore[attr-defined]
    for plot in (
        flow,
        orders,
        loaded.dashboard.inventory.landscape.plot,
        loaded.sku_view.chart.plot,
    ):
        assert plot.backgroundBrush().color() == QColor(light.surface)
        axis = plot.getPlotItem().getAxis("left")
        assert axis.textPen().color() == QColor(light.text_muted)
    assert loaded.dashboard.orders.chart.revenue.opts["pen"].color() == QColor(light.ok)
    # the Configuration page drives the same switch, and a fresh manager remembers it
    combo = loaded.config.theme
    combo.setCurrentIndex(combo.findData(ThemeMode.DARK))
    assert theme.palette.name == "dark"
    assert flow.backgroundBrush().color() == QColor(dark.surface)
    again = ThemeManager(qapp, settings)  # type: ignore[arg-type]
    assert again.mode is ThemeMode.DARK
    again.close()


def test_system_mode_follows_scheme_until_user_picks(qapp: object, settings: QSettings) -> None:
    manager = ThemeManager(qapp, settings)  # type: ignore[arg-type]
    assert manager.mode is ThemeMode.SYSTEM
    # offscreen reports Unknown, which resolves to dark
    assert manager.palette.name == "dark"
    manager.set_mode(ThemeMode.LIGHT)
    assert manager.palette.name == "light"
    manager._on_system_scheme(Qt.ColorScheme.Dark)  # user picked: ignored
    assert manager.palette.name == "light"
    manager.close()


def test_alert_click_opens_that_sku(loaded: MainWindow, qtbot: QtBot) -> None:
    card = loaded.dashboard.alerts
    assert not card.is_empty
    first = card.rows[0]
    vm = loaded.vm
    # sorted by revenue at risk, highest first, only SKUs needing attention
    shown = [vm.insight_for(sku) for sku in card.shown_ids]
    risks = [s.revenue_at_risk for s in shown if s is not None]
    assert risks == sorted(risks, reverse=True)
    assert all(s is not None and s.level is not AlertLevel.OK for s in shown)
    qtbot.mouseClick(first, Qt.MouseButton.LeftButton, pos=QPoint(20, 10))
    assert loaded.current_page == "SKU"
    assert loaded.sku_view.sku_id == first.sku_id
    item = vm.insight_for(first.sku_id)
    assert item is not None
    assert item.product_name in loaded.sku_view.title.text()
    assert f"{item.reorder.quantity:,}" in loaded.sku_view.reorder_big.text()
    assert "in stock" in loaded.sku_view.forecast_text.text()
    qtbot.mouseClick(loaded.sku_view.back_button, Qt.MouseButton.LeftButton)
    assert loaded.current_page == "Dashboard"


def test_sku_settings_edit_emits_new_settings(loaded: MainWindow, qtbot: QtBot) -> None:
    sku = loaded.vm.insights[0].sku_id
    loaded.open_sku(sku)
    view = loaded.sku_view
    assert not view.save_button.isEnabled()
    assert view.lead_time.value() == pytest.approx(3.0)
    view.lead_time.setValue(5.5)
    view.pack_size.setValue(24)
    assert view.save_button.isEnabled()
    with qtbot.waitSignal(loaded.sku_settings_changed, timeout=1000) as blocker:
        qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    sku_id, new = blocker.args
    assert sku_id == sku
    assert isinstance(new, SkuSettings)
    assert new.lead_time_hours == pytest.approx(132.0)
    assert new.pack_size == 24
    assert new.days_of_cover == synthetic.SETTINGS.days_of_cover
    # a refresh of the same SKU keeps the saved values on screen
    loaded.apply(loaded.vm)
    assert view.pack_size.value() == 24


# The offscreen platform cannot size native windows; the dialog itself is fine.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_csv_export_contents(loaded: MainWindow, tmp_path: Path, qtbot: QtBot) -> None:
    dialog = loaded.ask_export_reorder_csv()
    assert isinstance(dialog, QFileDialog)
    assert dialog.isVisible()  # opened with open(): never a nested exec() loop
    target = tmp_path / "reorder.csv"
    dialog.fileSelected.emit(str(target))
    dialog.close()
    rows = list(csv.DictReader(target.open(encoding="utf-8-sig")))
    expected = [s for s in loaded.vm.insights if s.reorder.quantity > 0]
    assert len(rows) == len(expected) > 0
    assert tuple(rows[0].keys()) == COLUMNS
    by_id = {s.sku_id: s for s in expected}
    for row in rows:
        item = by_id[row["sku_id"]]
        assert int(row["reorder_quantity"]) == item.reorder.quantity
        assert int(row["reorder_quantity"]) % int(row["pack_size"]) == 0
        assert Decimal(row["revenue_at_risk"]) == item.revenue_at_risk
        assert row["how_it_was_worked_out"] == item.reorder.explanation
    severities = [AlertLevel(r["alert_level"]).severity for r in rows]
    assert severities == sorted(severities, reverse=True)
    assert "Saved" in loaded.statusBar().currentMessage()


def test_no_tray_banner_carries_alerts(window: MainWindow, qtbot: QtBot) -> None:
    assert not window.notifier.uses_tray  # offscreen has no system tray
    assert not window.banner.isVisible()
    window.apply(synthetic.viewmodel())
    assert window.banner.isVisible()
    notice = window.banner.notice
    assert notice is not None
    # several SKUs escalate at once from quiet: one digest or individual notices, never a storm
    critical = [s for s in window.vm.insights if s.level.severity > 0]
    assert set(notice.sku_ids) <= {s.sku_id for s in critical}
    qtbot.mouseClick(window.banner.view_button, Qt.MouseButton.LeftButton)
    assert window.current_page == "SKU"
    assert window.sku_view.sku_id == notice.sku_ids[0]
    assert not window.banner.isVisible()


def test_no_shop_says_what_to_do_and_disables_export(window: MainWindow) -> None:
    """Behind the connect dialog the alerts said "Loading stock…" forever, Export enabled."""
    d = window.dashboard
    assert not d.alerts.export_button.isEnabled()
    window.show_no_shop()
    assert d.alerts.is_empty and "Connect your TikTok Shop" in d.alerts.empty_label.text()
    assert not d.alerts.export_button.isEnabled()
    assert d.inventory.is_empty and "connected" in d.inventory.empty_label.text()
    window.apply(synthetic.viewmodel())  # a shop arrives: the cards fill, Export works
    assert not d.alerts.is_empty and d.alerts.export_button.isEnabled()


def test_empty_states(window: MainWindow) -> None:
    d = window.dashboard
    from app.ui.viewmodel import DashboardViewModel

    window.apply(DashboardViewModel(now=synthetic.NOW))
    assert d.alerts.is_empty and "No products yet" in d.alerts.empty_label.text()
    assert d.inventory.is_empty and d.orders.is_empty
    window.show_page("Analytics")  # hidden pages refresh when shown
    assert window.analytics.videos_card.is_empty
    window.apply(synthetic.viewmodel())
    assert not window.analytics.videos_card.is_empty
    assert window.analytics.risk.rowCount() == len(window.vm.insights)


def test_progress_panel_time_left_and_cancel(window: MainWindow, qtbot: QtBot) -> None:
    from app.ui.viewmodel import Progress

    clock = iter(float(t) for t in range(100))
    window.progress.eta._clock = lambda: next(clock)
    window.show_progress(Progress("Backfilling orders", 0, 1000))
    assert window.progress.isVisible()
    window.show_progress(Progress("Backfilling orders", 100, 1000))
    assert "s left" in window.progress.detail.text()  # 100/s: 9 s left
    with qtbot.waitSignal(window.cancel_requested, timeout=1000):
        qtbot.mouseClick(window.progress.cancel_button, Qt.MouseButton.LeftButton)
    window.show_progress(None)
    assert not window.progress.isVisible()


def _grab(window: MainWindow, path: Path) -> Path:
    window.flush_charts()
    QApplication.processEvents()
    assert window.grab().save(str(path))
    return path


def test_screenshot_both_themes(loaded: MainWindow, theme: ThemeManager, tmp_path: Path) -> None:
    dark = _grab(loaded, tmp_path / "dark.png")
    theme.set_mode(ThemeMode.LIGHT)
    light = _grab(loaded, tmp_path / "light.png")
    assert dark.stat().st_size > 20_000 and light.stat().st_size > 20_000
    assert dark.read_bytes() != light.read_bytes()


def test_app_log_reaches_sync_page_redacted(window: MainWindow, qtbot: QtBot) -> None:
    import logging

    handler = window.attach_log_handler()
    try:
        logging.getLogger("app.sync.engine").warning("refresh used refresh_token=RT-XYZ")
        model = window.sync_page.log_model
        qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=2000)
        entry = model.entry(model.rowCount() - 1)
        assert entry.source == "sync" and entry.level.value == "warning"
        assert "RT-XYZ" not in entry.message and "refresh_token=***" in entry.message
        window.show_page("Sync")
        window.sync_page.source_filter.setCurrentIndex(
            window.sync_page.source_filter.findData("api")
        )
        assert window.sync_page.log_filter.rowCount() == 0
        window.sync_page.source_filter.setCurrentIndex(0)
        window.sync_page.search.setText("refresh used")
        assert window.sync_page.log_filter.rowCount() == 1
    finally:
        logging.getLogger().removeHandler(handler)


def test_configuration_shows_the_shops_defaults_and_emits_edits(
    loaded: MainWindow, qtbot: QtBot, settings: QSettings
) -> None:
    loaded.show_page("Configuration")
    cfg = loaded.config
    # The page shows the defaults of the snapshot (the store's), not a copy of its own.
    in_effect = SkuSettings(lead_time_hours=60, days_of_cover=9, critical_hours=30, pack_size=4)
    loaded.apply(dataclasses.replace(loaded.vm, default_settings=in_effect))
    assert cfg.lead_time_days.value() == 2.5 and cfg.days_of_cover.value() == 9
    assert cfg.critical_hours.value() == 30
    cfg.critical_hours.setValue(36)
    cfg.lead_time_days.setValue(10)
    cfg.days_of_cover.setValue(21)
    loaded.apply(loaded.vm)  # the next snapshot does not undo what the seller is typing
    assert cfg.critical_hours.value() == 36
    with qtbot.waitSignal(loaded.defaults_changed, timeout=1000) as blocker:
        qtbot.mouseClick(cfg.apply_button, Qt.MouseButton.LeftButton)
    new = blocker.args[0]
    assert (new.critical_hours, new.lead_time_hours, new.days_of_cover) == (36, 240, 21)
    assert new.pack_size == 4  # kept from the defaults in effect
    settings.sync()
    assert not [key for key in settings.allKeys() if key.startswith("insight/")]
    with qtbot.waitSignal(loaded.notifications_changed, timeout=1000) as blocker:
        cfg.notify_warnings.setChecked(False)
    assert blocker.args[0].warnings_too is False
    assert loaded.notifier.policy.critical_only is True


def test_sync_page_resync_and_corrections(loaded: MainWindow, qtbot: QtBot) -> None:
    loaded.show_page("Sync")
    page = loaded.sync_page
    assert page.corrections.rowCount() == len(loaded.vm.corrections) == 1
    assert "online" in page.api_chip.text() and "online" in page.relay_chip.text()
    assert page.log_filter.rowCount() > 0
    page.level_filter.setCurrentIndex(page.level_filter.findData(LogLevel.WARNING))
    assert all(
        page.log_filter.index(r, 1).data() == "warning" for r in range(page.log_filter.rowCount())
    )
    with qtbot.waitSignal(loaded.resync_requested, timeout=1000):
        qtbot.mouseClick(page.resync_button, Qt.MouseButton.LeftButton)


def test_bursts_of_snapshots_repaint_charts_at_most_10_hz(window: MainWindow, qtbot: QtBot) -> None:
    vm = synthetic.viewmodel()
    window.apply(vm)
    window.flush_charts()
    scheduler = window.scheduler
    assert scheduler.interval_ms >= 100
    flow = window.dashboard.inventory.flow
    calls: list[int] = []
    original = flow.flush

    def counted() -> None:
        calls.append(1)
        original()

    flow.flush = counted  # type: ignore[method-assign]
    window.scheduler._dirty.clear()
    for k in range(50):  # 50 snapshots arrive faster than the timer ticks
        window.apply(dataclasses.replace(vm, now=vm.now + k))
    assert calls == []  # nothing drawn synchronously
    qtbot.wait(350)
    assert 1 <= len(calls) <= 4  # at most one draw per 100 ms tick
    assert flow.now_line.value() == vm.now + 49  # and the last snapshot won


def test_storage_problem_shows_in_the_header_only_while_it_lasts(loaded: MainWindow) -> None:
    healthy = synthetic.viewmodel()
    chip = loaded.header.storage
    assert not chip.isVisible()
    problem = "Disk full: ViralStock can't save new orders"
    loaded.apply(
        dataclasses.replace(
            healthy, header=dataclasses.replace(healthy.header, storage_problem=problem)
        )
    )
    assert chip.isVisible() and "Not saving" in chip.text() and chip.toolTip() == problem
    loaded.apply(healthy)
    assert not chip.isVisible()
