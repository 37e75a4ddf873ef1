"""The demo's whole path reaches the window: sandbox webhook -> relay -> engine -> store ->
insight -> publisher -> adapter -> MainWindow, and the seller's edits go back to the store."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from app.insight.types import AlertLevel, SkuSettings
from app.store.settings import get_settings, shop_settings
from app.sync.headless import open_demo_engine
from app.sync.state import ChangeKind, LinkState
from app.ui.adapter import FRAME_MS
from app.ui.controller import DashboardController
from app.ui.main_window import MainWindow
from app.ui.theme import ThemeManager
from tests.desktop.conftest import drive


@pytest.fixture
def live(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    theme: ThemeManager,
    settings: QSettings,
    world: Any,
    tmp_path: Path,
) -> Iterator[tuple[MainWindow, DashboardController, Any]]:
    window = MainWindow(theme, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    engine, connection = drive(qtbot, open_demo_engine(world, tmp_path / "data"))
    shop_id = connection.shops[0].id
    controller = DashboardController(window, engine, shop_id, demo=True)
    progress: list[Any] = []
    controller.adapter.progress.connect(progress.append)
    controller.progress_seen = progress  # type: ignore[attr-defined]
    controller.start()
    drive(qtbot, engine.start())
    yield window, controller, engine
    drive(qtbot, controller.aclose())
    drive(qtbot, engine.stop())
    drive(qtbot, connection.aclose())
    engine.db.close()


def test_webhook_reaches_the_screen(qtbot: QtBot, live: Any) -> None:
    window, controller, engine = live
    shop_id = controller.shop_id
    # The first order webhook committed to the store...
    qtbot.waitUntil(lambda: engine.snapshot(shop_id).metrics.webhooks_applied > 0, timeout=20_000)
    applied_at = time.monotonic()
    stored = engine.snapshot(shop_id).metrics.webhooks_applied
    # ...shows on screen within a bounded time: counted orders, a drawn chart, live links.
    qtbot.waitUntil(
        lambda: window.vm.orders is not None and window.vm.orders.order_count > 0, timeout=5_000
    )
    on_screen = time.monotonic() - applied_at
    assert on_screen < 5.0
    assert stored > 0
    assert window.vm.header.relay_state is LinkState.CONNECTED
    assert window.vm.header.api_state is LinkState.CONNECTED
    assert window.vm.header.demo and window.vm.header.sku_count > 0
    assert window.header.isVisible()
    window.flush_charts()
    x, _ = window.dashboard.orders.chart.revenue.getData()
    assert x is not None and len(x) > 0
    # The Sync page log is fed from the change stream.
    qtbot.waitUntil(lambda: any(e.source == "webhook" for e in window.vm.log), timeout=5_000)
    # The first sync showed its progress strip, and hid it when done.
    seen = controller.progress_seen
    assert any(p is not None and p.title.startswith("First sync") for p in seen)
    assert seen[-1] is None and window.progress.isHidden()
    assert any(e.source == "relay" for e in window.vm.log)


def test_alert_to_sku_edit_lead_time_persists_and_recomputes(qtbot: QtBot, live: Any) -> None:
    window, controller, engine = live
    shop_id = controller.shop_id
    alerts: list[tuple[str, ...]] = []
    controller.adapter.alert.connect(alerts.append)
    notices: list[Any] = []
    window.notifier.notified.connect(notices.append)
    # The viral surge escalates a SKU: an ALERT change, and the banner (no tray offscreen).
    qtbot.waitUntil(lambda: bool(alerts) and bool(notices), timeout=40_000)
    assert not window.notifier.uses_tray and window.banner.isVisible()
    qtbot.mouseClick(window.banner.view_button, Qt.MouseButton.LeftButton)
    assert window.current_page == "SKU"
    sku_id = window.sku_view.sku_id
    assert sku_id in notices[-1].sku_ids
    item = window.vm.insight_for(sku_id)
    assert item is not None and item.level is not AlertLevel.OK
    before = window.vm.settings_for(sku_id).lead_time_hours
    new_days = 2.5 if before != 60.0 else 4.0
    window.sku_view.lead_time.setValue(new_days)
    window.sku_view.pack_size.setValue(12)
    qtbot.waitUntil(window.sku_view.save_button.isEnabled, timeout=1000)
    saved = controller.saved
    qtbot.mouseClick(window.sku_view.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.saved > saved, timeout=5_000)

    def stored() -> Any:
        with engine.db.store.read() as session:
            return get_settings(session, shop_id, sku_id)

    assert stored().lead_time_hours == pytest.approx(new_days * 24)
    assert stored().pack_size == 12

    # The recompute uses it: the SKU's reorder suggestion is built on the new lead time.
    def reflected() -> bool:
        current = window.vm.insight_for(sku_id)
        return (
            current is not None
            and current.reorder.lead_time_hours == pytest.approx(new_days * 24)
            and current.reorder.pack_size == 12
            and window.vm.settings_for(sku_id).lead_time_hours == pytest.approx(new_days * 24)
        )

    qtbot.waitUntil(reflected, timeout=10_000)
    assert window.sku_view.lead_time.value() == pytest.approx(new_days)


@pytest.fixture
def stale_prefs(settings: QSettings) -> QSettings:
    """Shop defaults an older ViralStock kept in QSettings, which the engine never read."""
    for key, value in (("lead_time_hours", 720), ("critical_hours", 99), ("days_of_cover", 60)):
        settings.setValue(f"insight/{key}", value)
    settings.sync()
    return settings


def test_configuration_shows_the_defaults_the_engine_uses(
    qtbot: QtBot, stale_prefs: QSettings, live: Any
) -> None:
    """On a fresh data folder the page shows what alerts and reorders are computed with, and
    what the seller applies there is what the next computation uses."""
    window, controller, engine = live
    shop_id = controller.shop_id
    cfg = window.config
    with engine.db.store.read() as session:
        in_effect = shop_settings(session, shop_id)
    assert in_effect == SkuSettings()  # a fresh store: the built-in defaults
    qtbot.waitUntil(lambda: bool(window.vm.insights), timeout=20_000)
    window.show_page("Configuration")
    assert cfg.lead_time_days.value() == pytest.approx(in_effect.lead_time_hours / 24)
    assert cfg.critical_hours.value() == pytest.approx(in_effect.critical_hours)
    assert cfg.days_of_cover.value() == pytest.approx(in_effect.days_of_cover)
    assert cfg.safety_days.value() == pytest.approx(in_effect.safety_days)
    cfg.lead_time_days.setValue(3)
    saved = controller.saved
    qtbot.mouseClick(cfg.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.saved > saved, timeout=5_000)
    with engine.db.store.read() as session:
        assert shop_settings(session, shop_id).lead_time_hours == pytest.approx(72)

    def reorders_use_it() -> bool:
        plain = [s for s in window.vm.insights if s.sku_id not in window.vm.sku_settings]
        return bool(plain) and all(s.reorder.lead_time_hours == 72 for s in plain)

    qtbot.waitUntil(reorders_use_it, timeout=10_000)
    assert cfg.lead_time_days.value() == pytest.approx(3)


def test_resync_shows_progress_and_finishes(qtbot: QtBot, live: Any) -> None:
    window, controller, engine = live
    qtbot.waitUntil(lambda: engine.backfill_done.is_set(), timeout=20_000)
    kinds: list[ChangeKind] = []
    engine.publisher.add_listener(lambda c: kinds.append(c.kind))
    window.sync_page.resync_requested.emit()
    assert not window.progress.isHidden()
    qtbot.waitUntil(lambda: controller._resync is None, timeout=15_000)
    assert window.progress.isHidden()
    assert "Resync finished" in window.statusBar().currentMessage()
    # Cancel: a second resync cancelled at once leaves no progress strip behind.
    window.sync_page.resync_requested.emit()
    window.progress.cancel_requested.emit()
    qtbot.waitUntil(lambda: controller._resync is None, timeout=5_000)
    assert window.progress.isHidden()
    assert window.statusBar().currentMessage() == "Resync cancelled"


def test_insight_runs_off_the_ui_thread_and_a_burst_is_one_update_per_frame(
    qtbot: QtBot, live: Any, world: Any
) -> None:
    """The numbers are computed on the insight executor, never on the event loop (which is
    the UI thread), and a storm of insight results reaches the window coalesced: at most one
    view model per frame, the last one always shown (#15)."""
    window, controller, engine = live
    shop_id = controller.shop_id
    runner = engine.insights[shop_id]
    qtbot.waitUntil(lambda: runner.last is not None and bool(window.vm.insights), timeout=30_000)
    world.stop_clock()  # the shop stands still: no result of the engine's own comes in between
    qtbot.waitUntil(lambda: runner.idle, timeout=10_000)
    qtbot.wait(300)
    last = runner.last
    assert last is not None
    assert last.thread.startswith("viralstock-insight")
    assert last.thread != threading.main_thread().name

    applied: list[float] = []
    controller.adapter.viewmodel.connect(lambda vm: applied.append(time.monotonic()))
    started = time.monotonic()
    burst = 400
    skus = last.insight.skus
    # Each result its own tuple of the same SKUs: the window shows which one it got.
    results = [skus[:1] + skus[1:] for _ in range(burst)]
    for n, result in enumerate(results):  # 20 every few ms: more than any storm makes
        engine.publisher.update(shop_id, ChangeKind.INSIGHT, engine.clock.now(), skus=result)
        if n % 20 == 19:
            qtbot.wait(2)  # however long the wait takes on a loaded machine: 20 waits
    qtbot.waitUntil(lambda: window.vm.insights is results[-1], timeout=5_000)
    elapsed_ms = (time.monotonic() - started) * 1000
    assert 1 <= len(applied) <= elapsed_ms / FRAME_MS + 1
    assert len(applied) < burst / 10  # coalesced (at most one per wait, 20), not one per result
    gaps = [b - a for a, b in itertools.pairwise(applied)]
    assert all(gap >= FRAME_MS / 1000 * 0.9 for gap in gaps)  # never two in one frame
