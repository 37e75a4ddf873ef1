"""The Analytics, Sync and Configuration pages."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.insight import fmt
from app.insight.types import SkuInsight, SkuSettings
from app.sync.dashboard_types import SkuSalesWindow, VideoSummary
from app.ui import when
from app.ui.cards import sku_title
from app.ui.tables import LogFilter, LogModel, RowsModel, SortProxy
from app.ui.theme import Palette, ThemeMode
from app.ui.viewmodel import (
    Correction,
    LogEntry,
    LogLevel,
    ShopHeader,
    SyncPerformance,
)
from app.ui.widgets import LEVEL_TEXT, Card, Chip, muted


def make_table(
    model: RowsModel[object] | LogModel, sortable: bool = True, sort_column: int | None = None
) -> QTableView:
    view = QTableView()
    if model.parent() is None:
        model.setParent(view)  # the view owns its model: both die together, on the GUI thread
    if sortable:
        proxy = SortProxy(view)
        proxy.setSourceModel(model)
        view.setModel(proxy)
        view.setSortingEnabled(True)
    else:
        view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.setShowGrid(False)
    header = view.horizontalHeader()
    header.setStretchLastSection(False)
    # Interactive, not ResizeToContents: the latter measures every row on every update.
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setDefaultSectionSize(96)
    header.setHighlightSections(False)
    if sortable and sort_column is not None:
        view.sortByColumn(sort_column, Qt.SortOrder.DescendingOrder)
    return view


class AnalyticsPage(QWidget):
    """Per-video performance and per-SKU sales over 7 / 14 / 30 days; all SKUs by risk."""

    sku_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        self._names: dict[str, str] = {}
        self.videos_card = Card(
            "Videos", "views, orders and revenue per video, and when it took off"
        )
        self.videos = RowsModel[VideoSummary](
            [
                (
                    "Video",
                    lambda v: v.title or v.video_id,
                    lambda v: (v.title or v.video_id).lower(),
                ),
                ("Views", lambda v: f"{v.views:,}", lambda v: v.views),
                ("Orders", lambda v: f"{v.orders:,}", lambda v: v.orders),
                ("Revenue", lambda v: fmt.money(v.revenue), lambda v: float(v.revenue)),
                (
                    "Took off",
                    lambda v: when.clock(v.took_off_at) if v.took_off_at else "not yet",
                    lambda v: v.took_off_at or 0.0,
                ),
                (
                    "Products",
                    lambda v: ", ".join(self._names.get(s, s) for s in v.linked_skus),
                    lambda v: len(v.linked_skus),
                ),
            ],
            align_right={1, 2, 3},
        )
        self.videos_view = make_table(self.videos, sort_column=3)  # type: ignore[arg-type]
        self.videos_card.body_layout.addWidget(self.videos_view)
        self.sales_card = Card("Sales by SKU", "units over the windows Seller Center uses")
        self.sales = RowsModel[SkuSalesWindow](
            [
                ("SKU", lambda s: s.name or s.sku_id, lambda s: (s.name or s.sku_id).lower()),
                ("7 days", lambda s: f"{s.units_7d:,}", lambda s: s.units_7d),
                ("14 days", lambda s: f"{s.units_14d:,}", lambda s: s.units_14d),
                ("30 days", lambda s: f"{s.units_30d:,}", lambda s: s.units_30d),
                (
                    "Revenue 30 d",
                    lambda s: fmt.money(s.revenue_30d),
                    lambda s: float(s.revenue_30d),
                ),
            ],
            align_right={1, 2, 3, 4},
        )
        self.sales_view = make_table(self.sales, sort_column=1)  # type: ignore[arg-type]
        self.sales_card.body_layout.addWidget(self.sales_view)
        self.risk_card = Card("Every SKU", "level, stock left and reorder; double-click to open")
        self.risk = RowsModel[SkuInsight](
            [
                ("SKU", sku_title, lambda s: sku_title(s).lower()),
                ("Level", lambda s: LEVEL_TEXT[s.level], lambda s: s.level.severity),
                ("Stock", lambda s: f"{s.available:,}", lambda s: s.available),
                (
                    "Left",
                    lambda s: fmt.hours(s.forecast.hours_left),
                    lambda s: s.forecast.hours_left if s.forecast.hours_left is not None else 1e12,
                ),
                ("Reorder", lambda s: f"{s.reorder.quantity:,}", lambda s: s.reorder.quantity),
                (
                    "At risk",
                    lambda s: fmt.money(s.revenue_at_risk),
                    lambda s: float(s.revenue_at_risk),
                ),
            ],
            align_right={2, 3, 4, 5},
        )
        self.risk_view = make_table(self.risk, sort_column=5)  # type: ignore[arg-type]
        self.risk_view.doubleClicked.connect(self._activated)
        top = QHBoxLayout()
        top.setSpacing(12)
        top.addWidget(self.videos_card, 1)
        top.addWidget(self.sales_card, 1)
        layout.addLayout(top, 1)
        layout.addWidget(self.risk_card, 1)
        self.risk_card.body_layout.addWidget(self.risk_view)

    def update_from(
        self,
        videos: Sequence[VideoSummary],
        sales: Sequence[SkuSalesWindow],
        insights: Sequence[SkuInsight],
    ) -> None:
        self._names = {s.sku_id: sku_title(s) for s in insights}
        # Columns are sized to their content on the first fill only; later updates keep the
        # seller's widths (and avoid measuring every row on every update).
        fill = [m.rowCount() == 0 for m in (self.videos, self.sales, self.risk)]
        self.videos.set_rows(videos)
        self.sales.set_rows(sales)
        self.risk.set_rows(list(insights))
        counts = (self.videos.rowCount(), self.sales.rowCount(), self.risk.rowCount())
        views = (self.videos_view, self.sales_view, self.risk_view)
        for was_empty, count, view in zip(fill, counts, views, strict=True):
            if was_empty and count > 0:
                view.resizeColumnsToContents()
        checks: tuple[tuple[Card, Sequence[object], str], ...] = (
            (self.videos_card, videos, "No videos linked to your products yet."),
            (self.sales_card, sales, "No sales in the last 30 days yet."),
            (self.risk_card, insights, "No products yet."),
        )
        for card, rows, text in checks:
            if rows:
                card.show_body()
            else:
                card.show_empty(text)

    def _activated(self, index: object) -> None:
        proxy = self.risk_view.model()
        assert isinstance(proxy, SortProxy)
        source = proxy.mapToSource(index)  # type: ignore[arg-type]
        self.sku_activated.emit(self.risk.row(source.row()).sku_id)


class SyncPage(QWidget):
    """The webhook and sync log with filters, reconciliation corrections, connection state and
    "Resync now"."""

    resync_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        status = Card("Connections")
        row = QHBoxLayout()
        row.setSpacing(16)
        self.api_chip = Chip()
        self.relay_chip = Chip()
        self.api_detail = muted(wrap=True)
        self.relay_detail = muted(wrap=True)
        for chip, detail in (
            (self.api_chip, self.api_detail),
            (self.relay_chip, self.relay_detail),
        ):
            box = QVBoxLayout()
            box.setSpacing(4)
            box.addWidget(chip, 0, Qt.AlignmentFlag.AlignLeft)
            box.addWidget(detail)
            row.addLayout(box, 1)
        self.perf = muted(wrap=True)
        row.addWidget(self.perf, 1)
        self.resync_button = QPushButton("Resync now")
        self.resync_button.setProperty("primary", True)
        self.resync_button.setToolTip("Fetch every order and stock level again through the API")
        self.resync_button.clicked.connect(self.resync_requested)
        row.addWidget(self.resync_button, 0, Qt.AlignmentFlag.AlignTop)
        status.body_layout.addLayout(row)
        layout.addWidget(status)
        log_card = Card("Webhook and sync log", "newest at the bottom")
        filters = QHBoxLayout()
        self.level_filter = QComboBox()
        for label, level in (
            ("All levels", LogLevel.DEBUG),
            ("Info and up", LogLevel.INFO),
            ("Warnings and errors", LogLevel.WARNING),
            ("Errors", LogLevel.ERROR),
        ):
            self.level_filter.addItem(label, level)
        self.level_filter.setCurrentIndex(1)
        self.source_filter = QComboBox()
        for label, source in (
            ("All sources", ""),
            ("Webhooks", "webhook"),
            ("Sync", "sync"),
            ("API", "api"),
            ("Relay", "relay"),
            ("App", "app"),
        ):
            self.source_filter.addItem(label, source)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the log…")
        self.search.setClearButtonEnabled(True)
        filters.addWidget(self.level_filter)
        filters.addWidget(self.source_filter)
        filters.addWidget(self.search, 1)
        log_card.body_layout.addLayout(filters)
        self.log_model = LogModel(parent=self)
        self.log_filter = LogFilter(self)
        self.log_filter.setSourceModel(self.log_model)
        self.log_filter.set_filter(min_level=LogLevel.INFO)
        self.log_view = QTableView()
        self.log_view.setModel(self.log_filter)
        self.log_view.verticalHeader().hide()
        self.log_view.setShowGrid(False)
        self.log_view.setAlternatingRowColors(True)
        self.log_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.log_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.log_view.horizontalHeader()
        header.setStretchLastSection(True)
        for col, width in enumerate((150, 70, 80)):
            self.log_view.setColumnWidth(col, width)
        log_card.body_layout.addWidget(self.log_view)
        self.level_filter.currentIndexChanged.connect(
            lambda _i: self.log_filter.set_filter(min_level=self.level_filter.currentData())
        )
        self.source_filter.currentIndexChanged.connect(
            lambda _i: self.log_filter.set_filter(source=self.source_filter.currentData())
        )
        self.search.textChanged.connect(lambda t: self.log_filter.set_filter(text=t))
        corr_card = Card("Reconciliation", "values polling corrected after webhooks missed them")
        self.corrections = RowsModel[Correction](
            [
                ("When", lambda c: when.clock(c.time), lambda c: c.time),
                ("SKU", lambda c: c.sku_id, lambda c: c.sku_id),
                ("What", lambda c: c.what, lambda c: c.what),
                ("Was", lambda c: c.local_value, lambda c: c.local_value),
                ("Now", lambda c: c.remote_value, lambda c: c.remote_value),
                ("Note", lambda c: c.note, lambda c: c.note),
            ]
        )
        self.corrections_view = make_table(self.corrections, sort_column=0)  # type: ignore[arg-type]
        corr_card.body_layout.addWidget(self.corrections_view)
        self.corr_card = corr_card
        bottom = QHBoxLayout()
        bottom.setSpacing(12)
        bottom.addWidget(log_card, 3)
        bottom.addWidget(corr_card, 2)
        layout.addLayout(bottom, 1)

    def update_from(
        self,
        header: ShopHeader,
        perf: SyncPerformance,
        log: Sequence[LogEntry],
        corrections: Sequence[Correction],
        now: float | None = None,
    ) -> None:
        from app.ui.header import STATE_LEVEL

        for chip, detail, label, state, text in (
            (
                self.api_chip,
                self.api_detail,
                "TikTok Open API",
                header.api_state,
                header.api_detail,
            ),
            (
                self.relay_chip,
                self.relay_detail,
                "Webhook relay",
                header.relay_state,
                header.relay_detail,
            ),
        ):
            level, word = STATE_LEVEL[state]
            chip.set_level(level, f"● {label}: {word}")
            detail.setText(text or ("" if level == "ok" else "not connected"))
        self.perf.setText(
            f"Last sync {fmt.ago(header.last_sync, now or time.time())} · webhook → screen p95 "
            f"{fmt.millis(perf.latency_p95_ms)} · queue {perf.queue_depth:,}"
        )
        self.append_log(log)
        self.corrections.set_rows(corrections)
        if corrections:
            self.corr_card.show_body()
        else:
            self.corr_card.show_empty("No corrections: webhooks and polling agree.")

    def append_log(self, log: Sequence[LogEntry]) -> None:
        """Append entries not seen yet (cheap; runs even while the page is hidden)."""
        if self.log_model.append(log) and self.isVisible():
            self.log_view.scrollToBottom()

    def append_app_log(self, entry: LogEntry) -> None:
        """One record of the app's own logging (from QtLogHandler)."""
        if self.log_model.append([entry], check_seq=False) and self.isVisible():
            self.log_view.scrollToBottom()

    def apply_palette(self, p: Palette) -> None:
        self.log_model.colors = {"warning": p.warning, "error": p.critical, "debug": p.text_muted}
        self.log_model.layoutChanged.emit()


@dataclasses.dataclass(frozen=True, slots=True)
class NotificationPrefs:
    """How the seller wants to be told."""

    enabled: bool = True
    warnings_too: bool = True
    digest_threshold: int = 3


def load_notification_prefs(settings: QSettings) -> NotificationPrefs:
    def flag(key: str, fallback: bool) -> bool:
        value = settings.value(f"notifications/{key}", fallback)
        return value if isinstance(value, bool) else str(value).lower() == "true"

    try:
        threshold = int(settings.value("notifications/digest_threshold", 3))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        threshold = 3
    return NotificationPrefs(flag("enabled", True), flag("warnings_too", True), threshold)


class ConfigPage(QWidget):
    """Alert thresholds, default lead time and days of cover, theme, notifications.

    Emits `defaults_changed(SkuSettings)`, `notifications_changed(NotificationPrefs)` and
    `theme_changed(ThemeMode)`. The shop's defaults live in the store only (the window shows
    the ones in effect with `show_defaults` on every snapshot, and the controller saves what
    Apply emits); QSettings keeps only this machine's preferences: notifications and theme.
    """

    defaults_changed = Signal(object)
    notifications_changed = Signal(object)
    theme_changed = Signal(object)
    connect_requested = Signal()

    def __init__(
        self, settings: QSettings, theme_mode: ThemeMode, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        columns = QHBoxLayout()
        columns.setSpacing(12)
        columns.setAlignment(Qt.AlignmentFlag.AlignLeft)
        left = QVBoxLayout()
        right = QVBoxLayout()
        left_host, right_host = QWidget(), QWidget()
        left_host.setLayout(left)
        right_host.setLayout(right)
        for host in (left_host, right_host):
            host.setMaximumWidth(560)
            left.setContentsMargins(0, 0, 0, 0)
            right.setContentsMargins(0, 0, 0, 0)
        columns.addWidget(left_host, 1)
        columns.addWidget(right_host, 1)
        layout.addLayout(columns)
        layout.addStretch(1)
        defaults = self._shown = SkuSettings()
        alerts = Card("Alerts and reorder", "when a product turns warning or critical")
        form = self._form(alerts)
        self.critical_hours = QDoubleSpinBox()
        self.critical_hours.setRange(1, 24 * 14)
        self.critical_hours.setSuffix(" hours")
        self.critical_hours.setDecimals(0)
        self.critical_hours.setValue(defaults.critical_hours)
        self.safety_days = QDoubleSpinBox()
        self.safety_days.setRange(0, 60)
        self.safety_days.setSuffix(" days")
        self.safety_days.setDecimals(1)
        self.safety_days.setValue(defaults.safety_days)
        self.lead_time_days = QDoubleSpinBox()
        self.lead_time_days.setRange(0.5, 180)
        self.lead_time_days.setSingleStep(0.5)
        self.lead_time_days.setSuffix(" days")
        self.lead_time_days.setDecimals(1)
        self.lead_time_days.setValue(defaults.lead_time_hours / 24)
        self.days_of_cover = QDoubleSpinBox()
        self.days_of_cover.setRange(1, 365)
        self.days_of_cover.setSuffix(" days")
        self.days_of_cover.setDecimals(1)
        self.days_of_cover.setValue(defaults.days_of_cover)
        form.addRow("Critical when stock lasts less than", self.critical_hours)
        form.addRow("Warning margin beyond lead time", self.safety_days)
        form.addRow("Default lead time", self.lead_time_days)
        form.addRow("A reorder should last", self.days_of_cover)
        hint = muted("Products can override lead time and pack size on their own page.", True)
        form.addRow(hint)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setProperty("primary", True)
        self.apply_button.clicked.connect(self._apply_defaults)
        form.addRow("", self.apply_button)
        for box in (self.critical_hours, self.safety_days, self.lead_time_days, self.days_of_cover):
            box.setFixedWidth(160)
        self.apply_button.setFixedWidth(160)
        left.addWidget(alerts)
        look = Card("Appearance")
        look_form = self._form(look)
        self.theme = QComboBox()
        for label, mode in (
            ("Follow system", ThemeMode.SYSTEM),
            ("Dark", ThemeMode.DARK),
            ("Light", ThemeMode.LIGHT),
        ):
            self.theme.addItem(label, mode)
        self.theme.setCurrentIndex(self.theme.findData(theme_mode))
        self.theme.currentIndexChanged.connect(
            lambda _i: self.theme_changed.emit(self.theme.currentData())
        )
        look_form.addRow("Theme", self.theme)
        right.addWidget(look)
        notes = Card("Notifications", "one per product per escalation; bursts become a summary")
        notes_form = self._form(notes)
        prefs = load_notification_prefs(settings)
        self.notify_enabled = QCheckBox("Notify me when a product needs attention")
        self.notify_enabled.setChecked(prefs.enabled)
        self.notify_warnings = QCheckBox("Also for warnings, not only critical")
        self.notify_warnings.setChecked(prefs.warnings_too)
        self.digest = QSpinBox()
        self.digest.setRange(1, 50)
        self.digest.setValue(prefs.digest_threshold)
        self.digest.setSuffix(" at once")
        self.digest.setFixedWidth(160)
        self.theme.setFixedWidth(160)
        notes_form.addRow(self.notify_enabled)
        notes_form.addRow(self.notify_warnings)
        notes_form.addRow("Summarise when more than", self.digest)
        for w in (self.notify_enabled, self.notify_warnings):
            w.toggled.connect(self._apply_notifications)
        self.digest.valueChanged.connect(self._apply_notifications)
        right.addWidget(notes)
        shop = Card("Shop")
        shop_box = shop.body_layout
        shop_box.addWidget(muted("Connect a TikTok Shop, or switch to another one.", True))
        self.connect_button = QPushButton("Connect a shop…")
        self.connect_button.clicked.connect(self.connect_requested)
        shop_box.addWidget(self.connect_button, 0, Qt.AlignmentFlag.AlignLeft)
        right.addWidget(shop)
        right.addStretch(1)
        left.addStretch(1)
        self.status = QLabel("")
        self.status.setProperty("muted", True)
        layout.addWidget(self.status)

    @staticmethod
    def _form(card: Card) -> QFormLayout:
        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(10)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        card.body_layout.addLayout(form)
        return form

    def show_defaults(self, defaults: SkuSettings) -> None:
        """Show the shop defaults the engine uses. Only when they changed, so a value the
        seller is typing is not reset by every snapshot."""
        if defaults == self._shown:
            return
        self._shown = defaults
        self.critical_hours.setValue(defaults.critical_hours)
        self.safety_days.setValue(defaults.safety_days)
        self.lead_time_days.setValue(defaults.lead_time_hours / 24)
        self.days_of_cover.setValue(defaults.days_of_cover)

    def current_defaults(self) -> SkuSettings:
        """The defaults in effect with the page's edits on top (pack size is per product)."""
        return dataclasses.replace(
            self._shown,
            critical_hours=self.critical_hours.value(),
            safety_days=self.safety_days.value(),
            lead_time_hours=round(self.lead_time_days.value() * 24, 2),
            days_of_cover=self.days_of_cover.value(),
        )

    def _apply_defaults(self) -> None:
        new = self.current_defaults()
        self.status.setText("Saved. Alerts and reorders use the new values from the next update.")
        self.defaults_changed.emit(new)

    def _apply_notifications(self) -> None:
        prefs = NotificationPrefs(
            self.notify_enabled.isChecked(), self.notify_warnings.isChecked(), self.digest.value()
        )
        self._settings.setValue("notifications/enabled", prefs.enabled)
        self._settings.setValue("notifications/warnings_too", prefs.warnings_too)
        self._settings.setValue("notifications/digest_threshold", prefs.digest_threshold)
        self._settings.sync()
        self.notifications_changed.emit(prefs)
