"""The main window: header, sub-navigation, banner and progress strip, pages, status bar.

`apply(viewmodel)` is the one entry point for data (main thread only). Cards take their slice;
charts only mark themselves dirty and the shared RepaintScheduler draws at most 10 times a second.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.insight.types import SkuInsight
from app.ui import when
from app.ui.banner import Banner
from app.ui.cards import AlertsCard, InventoryCard, OrdersCard, SyncPerformanceCard
from app.ui.export import write_reorder_csv
from app.ui.notifications import sku_notice
from app.ui.pages import AnalyticsPage, ConfigPage, SyncPage, load_notification_prefs
from app.ui.plots import RepaintScheduler
from app.ui.progress import ProgressPanel
from app.ui.sku_view import SkuView
from app.ui.theme import Palette, ThemeManager
from app.ui.tray import AlertNotifier
from app.ui.viewmodel import DashboardViewModel, Progress, ShopHeader
from app.ui.widgets import SPACING

log = logging.getLogger(__name__)

PAGES = ("Dashboard", "Analytics", "Sync", "Configuration")
BANNER_WIDTH = 560


class DashboardPage(QWidget):
    """The four cards in a grid that shares the window's height (no page scroll: the alert list
    scrolls inside its card, and charts shrink to their minimum before the window does)."""

    def __init__(self, scheduler: RepaintScheduler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(20, 16, 20, 16)
        grid.setSpacing(SPACING)
        self.performance = SyncPerformanceCard()
        self.alerts = AlertsCard()
        self.inventory = InventoryCard(scheduler, self.alerts.attention)
        self.orders = OrdersCard(scheduler)
        grid.addWidget(self.performance, 0, 0, 1, 2)
        grid.addWidget(self.alerts, 1, 0)
        grid.addWidget(self.inventory, 1, 1)
        grid.addWidget(self.orders, 2, 0, 1, 2)
        grid.setColumnStretch(0, 4)
        grid.setColumnStretch(1, 7)
        grid.setRowStretch(0, 0)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(2, 2)
        # No fixed minimum heights: each card's minimum is what its contents need, which
        # follows the font and the scale factor (a fixed 340 px was 2 px short of the inventory
        # card's own need, so it overflowed into order intelligence).
        self.orders.setMaximumHeight(300)


def _scrolling(page: QWidget) -> QScrollArea:
    """`page` filling a scroll area: exactly the viewport when it fits, scrolling vertically
    when the window is shorter than the cards' minimum (1280x720, or 200% scaling), instead of
    the cards running into each other."""
    area = QScrollArea()
    area.setObjectName("DashboardScroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(page)
    area.viewport().setAutoFillBackground(False)
    page.setAutoFillBackground(False)
    return area


class MainWindow(QMainWindow):
    """The ViralStock window.

    Outgoing signals (the composition root connects them):
    `sku_settings_changed(sku_id, SkuSettings)`, `defaults_changed(SkuSettings)`,
    `notifications_changed(NotificationPrefs)`, `resync_requested()`, `cancel_requested()`,
    `connect_requested()`, `quit_requested()`.
    """

    sku_settings_changed = Signal(str, object)
    defaults_changed = Signal(object)
    notifications_changed = Signal(object)
    resync_requested = Signal()
    cancel_requested = Signal()
    connect_requested = Signal()
    quit_requested = Signal()
    page_changed = Signal(str)

    def __init__(
        self,
        theme: ThemeManager,
        settings: QSettings | None = None,
        notifier: AlertNotifier | None = None,
        scheduler: RepaintScheduler | None = None,
    ) -> None:
        super().__init__()
        self.theme = theme
        self.settings = settings if settings is not None else QSettings()
        self.scheduler = scheduler or RepaintScheduler(parent=self)
        self.vm = DashboardViewModel()
        self._stale_pages: set[str] = set()
        self.setWindowTitle("ViralStock")
        self.resize(1440, 960)
        self.setMinimumSize(1024, 680)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        from app.ui.header import Header

        self.header = Header()
        outer.addWidget(self.header)
        outer.addWidget(self._build_nav())
        strip = QWidget()
        strip_layout = QVBoxLayout(strip)
        self._strip_layout = strip_layout
        strip_layout.setContentsMargins(20, 0, 20, 0)
        strip_layout.setSpacing(8)
        self.progress = ProgressPanel()
        strip_layout.addWidget(self.progress)
        self._strip = strip
        outer.addWidget(strip)
        self.stack = QStackedWidget()
        self.dashboard = DashboardPage(self.scheduler)
        self.dashboard_page = _scrolling(self.dashboard)
        self.analytics = AnalyticsPage()
        self.sync_page = SyncPage()
        self.config = ConfigPage(self.settings, theme.mode)
        self.sku_view = SkuView(self.scheduler)
        for page in (
            self.dashboard_page,
            self.analytics,
            self.sync_page,
            self.config,
            self.sku_view,
        ):
            self.stack.addWidget(page)
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        # The banner floats over the page's bottom-right corner instead of taking a row in the
        # layout: when an alert arrives nothing moves under the seller's pointer.
        self.banner = Banner(central)
        self._build_status_bar()
        self.notifier = notifier or AlertNotifier(banner=self.banner, parent=self)
        self.notifier.set_banner(self.banner)
        self._apply_notification_prefs(load_notification_prefs(self.settings))
        self._wire()
        self._fix_strip()
        theme.changed.connect(self.apply_palette)
        self.apply_palette(theme.palette)
        self.show_page("Dashboard")

    # --- construction -----------------------------------------------------------------------

    def _build_nav(self) -> QWidget:
        nav = QFrame()
        nav.setObjectName("NavBar")
        row = QHBoxLayout(nav)
        row.setContentsMargins(12, 0, 20, 0)
        row.setSpacing(2)
        self.nav_group = QButtonGroup(self)
        self.nav_group.setExclusive(True)
        self.nav_buttons: dict[str, QPushButton] = {}
        for i, name in enumerate(PAGES):
            button = QPushButton(name)
            button.setCheckable(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(f"{name} (Ctrl+{i + 1})")
            button.clicked.connect(lambda _c=False, n=name: self.show_page(n))
            self.nav_group.addButton(button)
            self.nav_buttons[name] = button
            row.addWidget(button)
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda n=name: self.show_page(n))
        row.addStretch(1)
        self.updated_label = QLabel("")
        self.updated_label.setObjectName("HeaderMeta")
        row.addWidget(self.updated_label)
        return nav

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        self.status_alerts = QLabel("")
        self.status_events = QLabel("")
        self.status_mode = QLabel("")
        bar.addPermanentWidget(self.status_alerts)
        bar.addPermanentWidget(self.status_events)
        bar.addPermanentWidget(self.status_mode)

    def _wire(self) -> None:
        d = self.dashboard
        d.alerts.sku_clicked.connect(self.open_sku)
        d.alerts.export_requested.connect(self.ask_export_reorder_csv)
        d.inventory.open_sku.connect(self.open_sku)
        self.analytics.sku_activated.connect(self.open_sku)
        self.sku_view.back_requested.connect(lambda: self.show_page("Dashboard"))
        self.sku_view.export_requested.connect(self.ask_export_reorder_csv)
        self.sku_view.settings_changed.connect(self.sku_settings_changed)
        self.sync_page.resync_requested.connect(self.resync_requested)
        self.config.defaults_changed.connect(self.defaults_changed)
        self.config.notifications_changed.connect(self._apply_notification_prefs)
        self.config.notifications_changed.connect(self.notifications_changed)
        self.config.theme_changed.connect(self.theme.set_mode)
        self.config.connect_requested.connect(self.connect_requested)
        self.progress.cancel_requested.connect(self.cancel_requested)
        self.banner.open_sku.connect(self.open_sku)
        self.notifier.open_sku.connect(self.open_sku)
        self.notifier.open_window.connect(self.bring_to_front)
        self.notifier.quit_requested.connect(self.quit_requested)
        self.notifier.paused_changed.connect(self._paused_changed)
        self.banner.visibility_changed.connect(self._place_banner)
        self.banner.content_changed.connect(self._place_banner)
        self.progress.visibility_changed.connect(self._fix_strip)
        for w in (self.banner, self.progress):
            w.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

    def _fix_strip(self, *_: object) -> None:
        """Give the progress strip top margin only while it is visible."""
        visible = not self.progress.isHidden()
        self._strip_layout.setContentsMargins(20, 12 if visible else 0, 20, 0)
        self._strip.setVisible(visible)

    def _place_banner(self, *_: object) -> None:
        """Bottom-right of the page, above everything, sized to its text."""
        area = self.centralWidget()
        if area is None or self.banner.isHidden():
            return
        width = min(BANNER_WIDTH, max(area.width() - 40, 200))
        height = self.banner.heightForWidth(width)
        height = height if height > 0 else self.banner.sizeHint().height()
        self.banner.setGeometry(
            area.width() - width - 20, area.height() - height - 16, width, height
        )
        self.banner.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_banner()

    # --- navigation -------------------------------------------------------------------------

    @property
    def current_page(self) -> str:
        widget = self.stack.currentWidget()
        for name, page in zip(
            (*PAGES, "SKU"),
            (self.dashboard_page, self.analytics, self.sync_page, self.config, self.sku_view),
            strict=True,
        ):
            if widget is page:
                return name
        return ""

    def _refresh_visible_page(self) -> None:
        vm, now = self.vm, self.vm.now or time.time()
        current = self.stack.currentWidget()
        if current is self.analytics and "Analytics" in self._stale_pages:
            self.analytics.update_from(vm.videos, vm.sku_sales, vm.insights)
            self._stale_pages.discard("Analytics")
        elif current is self.sync_page and "Sync" in self._stale_pages:
            self.sync_page.update_from(vm.header, vm.performance, vm.log, vm.corrections, now)
            self._stale_pages.discard("Sync")

    def show_page(self, name: str) -> None:
        """Switch to a page by its navigation name."""
        pages = dict(
            zip(
                PAGES,
                (self.dashboard_page, self.analytics, self.sync_page, self.config),
                strict=True,
            )
        )
        self.stack.setCurrentWidget(pages[name])
        self.nav_buttons[name].setChecked(True)
        self._refresh_visible_page()
        self.page_changed.emit(name)

    def open_sku(self, sku_id: str) -> None:
        """Open the SKU page (from an alert, the landscape, a notification, the banner)."""
        vm = self.vm
        self.sku_view.show_sku(
            vm.insight_for(sku_id),
            vm.histories.get(sku_id),
            vm.settings_for(sku_id),
            vm.now or time.time(),
            sku_id=sku_id,
            projector=vm.projector,
        )
        self.stack.setCurrentWidget(self.sku_view)
        checked = self.nav_group.checkedButton()
        if checked is not None:
            self.nav_group.setExclusive(False)
            checked.setChecked(False)
            self.nav_group.setExclusive(True)
        self.page_changed.emit("SKU")
        self.bring_to_front()

    def bring_to_front(self) -> None:
        """Show, restore and raise the window (tray click, second launch)."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        if QApplication.platformName() != "offscreen":  # offscreen warns it cannot raise
            self.raise_()
            self.activateWindow()

    # --- data -------------------------------------------------------------------------------

    def apply(self, vm: DashboardViewModel) -> None:
        """Show a new snapshot (main thread). Cheap: charts draw on the next repaint tick."""
        self.vm = vm
        now = vm.now or time.time()
        saved_at = vm.header.saved_at
        self.header.update_from(vm.header, now)
        d = self.dashboard
        d.performance.update_from(vm.performance)
        d.alerts.update_from(vm.insights)
        d.inventory.update_from(
            vm.insights,
            dict(vm.histories),
            now,
            vm.default_settings,
            dict(vm.sku_settings),
            vm.projector,
        )
        d.orders.update_from(vm.orders, now)
        self.config.show_defaults(vm.default_settings)
        d.orders.chart.update_hours(vm.order_hours)
        # Hidden pages refresh when shown (their tables are the costliest widgets); the log
        # keeps appending so no entry is missed while the Sync page is not on screen.
        self._stale_pages = {"Analytics", "Sync"}
        self._refresh_visible_page()
        if "Sync" in self._stale_pages:
            self.sync_page.append_log(vm.log)
        if self.stack.currentWidget() is self.sku_view and self.sku_view.sku_id:
            sku = self.sku_view.sku_id
            self.sku_view.show_sku(
                vm.insight_for(sku),
                vm.histories.get(sku),
                vm.settings_for(sku),
                now,
                sku_id=sku,
                projector=vm.projector,
            )
        if saved_at is None:
            # The last session's figures never notify: the live recompute decides.
            self.notifier.update(vm.insights)
        self._retire_stale_banner(vm)
        attention = d.alerts.attention  # the counts the alerts card worked out for vm.insights
        critical, warning = attention.critical, attention.warning
        self.status_alerts.setText(f"{critical} critical · {warning} warning")
        self.status_events.setText(f"{vm.performance.events_per_minute:.0f} events/min")
        if saved_at is None:
            self.updated_label.setText(f"Updated {when.clock(now)}")
        else:
            self.updated_label.setText(when.saved_note(saved_at, time.time()).capitalize())

    def show_loading(self, shop_name: str) -> None:
        """Back to "loading" for `shop_name` (the saved dashboard was another shop's)."""
        self.apply(DashboardViewModel(header=ShopHeader(shop_name=shop_name)))
        self.dashboard.alerts.show_empty("Loading stock…")
        self.dashboard.inventory.show_empty("No stock history yet.")
        self.updated_label.setText("")

    def show_no_shop(self) -> None:
        """No shop is connected (first run, behind the connect dialog): say what to do instead
        of "Loading stock…" forever, and keep actions that need a shop disabled."""
        d = self.dashboard
        d.alerts.show_empty(
            "No shop connected yet.\nConnect your TikTok Shop (Configuration → Connect) and "
            "its stock alerts appear here."
        )
        d.alerts.set_subtitle("waiting for a shop")
        d.alerts.export_button.setEnabled(False)
        d.inventory.show_empty("The stock chart appears once a shop is connected.")
        d.inventory.open_button.setVisible(False)
        d.orders.show_empty("Orders appear here once a shop is connected.")
        self.status_alerts.setText("no shop connected")

    def _retire_stale_banner(self, vm: DashboardViewModel) -> None:
        """Keep a shown banner true: hide it once its SKUs have all dropped below the level it
        announced; when another SKU now tops the alerts list at that level or above, let the
        banner name that one; and keep its words today's (the headline changes as stock drains).
        Silently: the tray is not told twice."""
        notice = self.banner.notice
        if notice is None or self.banner.isHidden() or not notice.sku_ids:
            return
        named = set(notice.sku_ids)
        levels = {s.sku_id: s.level.severity for s in vm.insights if s.sku_id in named}
        if all(levels.get(sku, 0) < notice.level.severity for sku in notice.sku_ids):
            self.banner.hide()
            return
        if notice.digest:
            return
        # The alerts card has just put the snapshot in attention order: its first row.
        shown = self.dashboard.alerts.shown_ids
        top = vm.insight_for(shown[0]) if shown else None
        if top is not None and top.level.severity >= notice.level.severity:
            target: SkuInsight | None = top
        else:
            target = vm.insight_for(notice.sku_ids[0])
        if target is not None:
            fresh = sku_notice(target)
            if fresh != notice:
                self.banner.show_notice(fresh)

    def show_progress(self, progress: Progress | None) -> None:
        """Show long work (backfill, resync) with time left; None hides the strip."""
        self.progress.update_from(progress)
        self._fix_strip()

    def flush_charts(self) -> None:
        """Draw pending chart updates now (screenshots, benchmarks)."""
        self.scheduler.flush()

    def attach_log_handler(self, level: int = logging.INFO) -> logging.Handler:
        """Show the app's own log records on the Sync page; returns the handler (already on the
        root logger) so the composition root can remove it at shutdown."""
        from app.ui.log_bridge import QtLogHandler

        handler = QtLogHandler(level)
        handler.connect(self.sync_page.append_app_log)
        logging.getLogger().addHandler(handler)
        return handler

    def set_status(self, text: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    # --- export -----------------------------------------------------------------------------

    def ask_export_reorder_csv(self) -> QFileDialog:
        """Ask where to save the reorder list (non-blocking dialog), then write it."""
        dialog = QFileDialog(self, "Export reorder list")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.selectFile(f"reorder-{time.strftime('%Y-%m-%d')}.csv")
        dialog.fileSelected.connect(lambda path: self.export_reorder_csv(Path(path)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.open()
        return dialog

    def export_reorder_csv(self, path: Path) -> int:
        """Write the reorder list of the current snapshot to `path`; returns the row count."""
        try:
            count = write_reorder_csv(path, self.vm.insights)
        except OSError as exc:
            log.warning("export failed: %s", exc)
            self.set_status(f"Could not save the reorder list: {exc.strerror or exc}")
            return 0
        self.set_status(f"Saved {count} products to reorder in {path}")
        return count

    # --- theme, prefs, close ----------------------------------------------------------------

    def apply_palette(self, p: Palette) -> None:
        """Recolour every chart (widgets follow the application stylesheet)."""
        self.dashboard.inventory.apply_palette(p)
        self.dashboard.orders.apply_palette(p)
        self.sku_view.apply_palette(p)
        self.sync_page.apply_palette(p)
        self.status_mode.setText(f"{p.name} theme")
        combo = self.config.theme
        index = combo.findData(self.theme.mode)
        if index != combo.currentIndex():
            combo.blockSignals(True)
            combo.setCurrentIndex(index)
            combo.blockSignals(False)
        self.palette_name = p.name

    def _apply_notification_prefs(self, prefs: object) -> None:
        from app.ui.pages import NotificationPrefs

        assert isinstance(prefs, NotificationPrefs)
        policy = self.notifier.policy
        policy.enabled = prefs.enabled
        policy.critical_only = not prefs.warnings_too
        policy.digest_threshold = prefs.digest_threshold

    def _paused_changed(self, paused: bool) -> None:
        self.set_status("Alerts paused" if paused else "Alerts resumed")

    def closeEvent(self, event: QCloseEvent) -> None:
        """With a tray the app keeps running; without one, closing the window quits."""
        if self.notifier.uses_tray:
            event.ignore()
            self.hide()
            if not self.settings.value("ui/told_about_tray", False, type=bool):
                self.settings.setValue("ui/told_about_tray", True)
                if self.notifier.tray is not None:
                    self.notifier.tray.showMessage(
                        "ViralStock is still running",
                        "Stock alerts keep coming. Quit from the tray icon's menu.",
                    )
            return
        event.accept()
        self.quit_requested.emit()
