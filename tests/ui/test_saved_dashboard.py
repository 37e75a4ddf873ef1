"""The window on the dashboard the last session saved (#15): the seller sees the shop at once,
is told how old those figures are, and is not notified about them; the live figures replace
them, note and all."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtWidgets import QLabel

from app.insight import fmt
from app.sync.dashboard_data import DashboardData
from app.sync.first_paint import SavedDashboard
from app.sync.state import ShopRef, ShopSnapshot
from app.ui.cards import sku_title
from app.ui.main_window import MainWindow
from app.ui.mapping import saved_viewmodel
from tests.ui import synthetic


def _saved(computed_at: float) -> SavedDashboard:
    vm = synthetic.viewmodel()
    snap = ShopSnapshot(
        shop=ShopRef("7495540735365777507", "Glow & Go Store"),
        skus=vm.insights,
        orders=vm.orders,
        insight_at=computed_at,
    )
    data = DashboardData(vm.histories, (), (), vm.default_settings, {})
    saved = SavedDashboard.of(snap, data)
    assert saved is not None
    return saved


def _texts(window: MainWindow) -> list[str]:
    return [w.text() for w in window.findChildren(QLabel) if w.isVisible()]


def test_saved_figures_show_at_once_with_their_age_and_notify_nobody(window: MainWindow) -> None:
    saved = _saved(synthetic.NOW)  # the synthetic shop's clock: months before today
    window.apply(saved_viewmodel(saved))
    window.flush_charts()
    top = window.dashboard.alerts.shown_ids
    critical = [s for s in saved.skus if s.level.severity == 2]
    assert critical and top, "the synthetic shop has critical SKUs to show"
    # The alerts card lists the saved SKUs in attention order, as the live window would.
    first = next(s for s in saved.skus if s.sku_id == top[0])
    assert any(sku_title(first) in text for text in _texts(window))
    assert window.header.shop.text() == "Glow & Go Store"
    # ... and says how old these figures are, by the wall clock, and that they are updating.
    assert "figures of" in window.header.meta.text()
    assert f"({fmt.ago(synthetic.NOW, time.time())})" in window.header.meta.text()
    assert "days ago" in window.header.meta.text()
    assert "updating" in window.updated_label.text()
    # The stock chart draws the top SKU's saved history.
    x, _y = window.dashboard.inventory.flow.history.getData()
    selected = window.dashboard.inventory.selected
    assert x is not None and len(x) > 1 and selected is not None
    assert np.isclose(x[-1], saved.histories[selected].times[-1])
    # Old figures raise no alert: no banner (offscreen has no tray), no notice.
    assert not window.banner.isVisible() and window.banner.notice is None

    live = synthetic.viewmodel()
    window.apply(live)
    assert "figures of" not in window.header.meta.text()
    assert "last sync" in window.header.meta.text()
    assert window.updated_label.text().startswith("Updated")
    assert window.banner.isVisible()  # the live recompute decides, and it does notify


def test_another_shops_saved_figures_give_way(window: MainWindow) -> None:
    window.apply(saved_viewmodel(_saved(synthetic.NOW)))
    window.show_loading("Another Shop")
    assert window.header.shop.text() == "Another Shop"
    assert "figures of" not in window.header.meta.text()
    assert not window.dashboard.alerts.shown_ids
    assert any("Loading stock" in text for text in _texts(window))
