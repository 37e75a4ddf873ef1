"""The four dashboard cards. Each has `update_from(...)` (main thread, cheap) and
`apply_palette(p)`; charts inside defer drawing to the shared RepaintScheduler."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.insight import fmt, text
from app.insight.types import OrderIntelligence, SkuInsight, SkuSettings
from app.sync.dashboard_types import StockSeries
from app.ui import when
from app.ui.attention import AttentionOrder
from app.ui.charts import (
    CoverLandscape,
    FunnelWidget,
    OrdersChart,
    ShareRing,
    StockFlowChart,
    first_order_hour,
)
from app.ui.plots import RepaintScheduler
from app.ui.theme import Palette
from app.ui.viewmodel import Projector, SyncPerformance
from app.ui.widgets import Card, Chip, ElidedLabel, KpiTile, muted, set_level_property

ALERT_ROWS = 8


def stock_line(item: SkuInsight) -> str:
    """'23 in stock · selling 37/hour · 31 min left', in the headline's words (`text.selling`),
    so the rate times the hours is the stock and the banner and the card say the same."""
    fc = item.forecast
    head = f"{fmt.units(item.available)} in stock"
    if item.available <= 0:
        return f"{head} · {fmt.hours(0)}"
    if fc.hours_left is None:
        return f"{head} · no recent sales"
    pace = text.selling(available=item.available, rate=fc.rate_per_hour, hours=fc.hours_left)
    return f"{head} · {pace} · {fmt.hours(fc.hours_left)} left"


def sku_title(item: SkuInsight) -> str:
    """'Product name · variant' (or the id when the shop gave no name)."""
    name = item.product_name or item.sku_id
    return f"{name} · {item.sku_name}" if item.sku_name else name


class SyncPerformanceCard(Card):
    """Webhook-to-screen latency, success rate, API budget use, queue depth."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Sync performance", "", parent)
        # Title beside the tiles rather than above them: the strip stays one row high.
        self.title_label.hide()
        row = QHBoxLayout()
        row.setSpacing(10)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        title = QLabel("Sync performance")
        title.setObjectName("CardTitle")
        titles.addWidget(title)
        titles.addWidget(muted("TikTok → this screen, live"))
        titles.addStretch(1)
        holder = QWidget()
        holder.setObjectName("CardBody")
        holder.setLayout(titles)
        holder.setFixedWidth(190)
        row.addWidget(holder)
        self.latency = KpiTile("Webhook → screen")
        self.success = KpiTile("Success rate")
        self.budget = KpiTile("API budget used")
        self.queue = KpiTile("Queue depth")
        for tile in (self.latency, self.success, self.budget, self.queue):
            row.addWidget(tile)
        self.body_layout.addLayout(row)

    def update_from(self, perf: SyncPerformance) -> None:
        lat_level = ""
        if perf.latency_p95_ms is not None:
            lat_level = (
                "critical"
                if perf.latency_p95_ms > 5000
                else ("warning" if perf.latency_p95_ms > 2000 else "")
            )
        self.latency.set(
            fmt.millis(perf.latency_p50_ms),
            f"p95 {fmt.millis(perf.latency_p95_ms)}",
            lat_level,
        )
        ok_level = ""
        if perf.success_rate is not None and perf.success_rate < 0.95:
            ok_level = "critical" if perf.success_rate < 0.8 else "warning"
        self.success.set(fmt.percent(perf.success_rate, 1), "API calls and webhooks", ok_level)
        used = int(perf.budget_used * perf.budget_per_minute)
        self.budget.set(
            fmt.percent(perf.budget_used),
            f"{used:,} of {perf.budget_per_minute:,} / min",
            "warning" if perf.budget_used > 0.85 else "",
        )
        self.queue.set(
            f"{perf.queue_depth:,}",
            f"{perf.events_per_minute:.0f} events / min",
            "warning" if perf.queue_depth > 500 else "",
        )


class AlertRow(QFrame):
    """One SKU needing attention; clicking anywhere opens it."""

    clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AlertRow")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.sku_id = ""
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 6, 12, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        self.title = QLabel()
        self.title.setObjectName("AlertTitle")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.chip = Chip()
        self.context = ElidedLabel()
        self.context.setObjectName("AlertViral")
        # Elided, not sized to its text: a long line must not push the chip and the reorder
        # column out of the row (the full line is the tooltip).
        self.velocity = ElidedLabel()
        self.velocity.setProperty("muted", True)
        self.stock = QLabel()
        self.stock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.suggestion = QLabel()
        self.suggestion.setObjectName("AlertSuggestion")
        self.suggestion.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.risk = muted()
        self.risk.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.chip, 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.context, 1, 0)
        grid.addWidget(self.risk, 1, 1)
        grid.addWidget(self.velocity, 2, 0)
        grid.addWidget(self.suggestion, 2, 1)
        grid.setColumnStretch(0, 1)

    def update_from(self, item: SkuInsight) -> None:
        self.sku_id = item.sku_id
        self.title.setText(sku_title(item))
        self.title.setToolTip(item.headline)
        self.chip.set_level(item.level)
        set_level_property(self, str(item.level))
        viral = item.attribution is not None
        text = (
            (f"⚡ {item.context}" if item.context else "⚡ viral video")
            if viral
            else (item.context or "steady demand")
        )
        self.context.set_full_text(text)
        name = "AlertViral" if viral else "CardSubtitle"
        if self.context.objectName() != name:
            self.context.setObjectName(name)
            self.context.style().unpolish(self.context)
            self.context.style().polish(self.context)
        self.velocity.set_full_text(stock_line(item))
        self.velocity.setToolTip(
            f"selling {fmt.rate(item.forecast.rate_per_hour)} now · {item.headline}"
        )
        qty = item.reorder.quantity
        self.suggestion.setText(f"reorder {fmt.units(qty)}" if qty > 0 else "no reorder needed")
        self.risk.setText(
            f"{fmt.money(item.revenue_at_risk)} at risk" if item.revenue_at_risk > 0 else ""
        )

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.sku_id:
            self.clicked.emit(self.sku_id)
        super().mouseReleaseEvent(event)


class AlertsCard(Card):
    """Critical stock alerts sorted by revenue at risk; click opens the SKU."""

    sku_clicked = Signal(str)
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Stock alerts", "sorted by revenue at risk", parent)
        self.export_button = QPushButton("Export reorder list")
        self.export_button.setProperty("flat", True)
        self.export_button.clicked.connect(self.export_requested)
        self.action_row.addWidget(self.export_button)
        self.rows: list[AlertRow] = []
        # Rows sit in a frameless scroll area so a short window scrolls the list, not the page.
        holder = QWidget()
        holder.setObjectName("CardBody")
        rows_layout = QVBoxLayout(holder)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.setSpacing(8)
        for _ in range(ALERT_ROWS):
            row = AlertRow()
            row.clicked.connect(self.sku_clicked)
            row.hide()
            self.rows.append(row)
            rows_layout.addWidget(row)
        self.more = muted()
        rows_layout.addWidget(self.more)
        rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("CardScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(holder)
        self.body_layout.addWidget(scroll)
        self.shown_ids: list[str] = []
        self.attention = AttentionOrder()
        self.export_button.setEnabled(False)  # nothing to export until a reorder is suggested
        self.show_empty("Loading stock…")

    def update_from(self, insights: Sequence[SkuInsight]) -> None:
        self.attention.update(insights)
        ordered = self.attention.ordered
        self.shown_ids = [s.sku_id for s in ordered[:ALERT_ROWS]]
        critical, warning = self.attention.critical, self.attention.warning
        self.export_button.setEnabled(any(s.reorder.quantity > 0 for s in insights))
        if not insights:
            self.show_empty("No products yet. Stock appears here after the first sync.")
            self.set_subtitle("sorted by revenue at risk")
            return
        if not ordered:
            self.show_empty(
                f"All {len(insights)} products have enough stock.\n"
                "You will be alerted here and in the tray when that changes."
            )
            self.set_subtitle("nothing needs attention")
            return
        self.show_body()
        self.set_subtitle(f"{critical} critical · {warning} warning · by revenue at risk")
        for row, item in zip(self.rows, ordered, strict=False):
            row.update_from(item)
            row.show()
        for row in self.rows[len(ordered) :]:
            row.hide()
        extra = len(ordered) - ALERT_ROWS
        self.more.setText(
            f"+ {extra} more need attention (Analytics lists all)" if extra > 0 else ""
        )
        self.more.setVisible(extra > 0)


class InventoryCard(Card):
    """Stock-flow chart of the selected SKU and the landscape of every SKU by hours of cover."""

    open_sku = Signal(str)

    def __init__(
        self,
        scheduler: RepaintScheduler,
        attention: AttentionOrder | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`attention`: the alerts card's order of the same insights, shared so each frame's
        keys are worked out once for both cards."""
        super().__init__("Inventory", "", parent)
        self.open_button = QPushButton("Open SKU →")
        self.open_button.setProperty("flat", True)
        self.open_button.clicked.connect(self._open)
        self.action_row.addWidget(self.open_button)
        self.flow = StockFlowChart(scheduler)
        self.landscape = CoverLandscape(scheduler)
        self.flow.setToolTip(
            "Solid: stock so far · dashed: projected depletion · shaded: forecast range · "
            "dotted: when a reorder placed now would arrive"
        )
        self.landscape.setToolTip(
            "Every product by hours of stock left and sales per hour; click a dot to chart it"
        )
        self.body_layout.setSpacing(6)
        self.body_layout.addWidget(self.flow, 3)
        self.body_layout.addWidget(self.landscape, 2)
        self.landscape.sku_clicked.connect(self.select)
        self.selected: str | None = None
        # Follow the SKU with the most revenue at risk until the seller picks one.
        self._picked = False
        self._projector: Projector | None = None
        self._attention = attention if attention is not None else AttentionOrder()
        self._last: (
            tuple[
                tuple[SkuInsight, ...],
                dict[str, StockSeries],
                float,
                SkuSettings,
                dict[str, SkuSettings],
            ]
            | None
        ) = None
        self.show_empty("No stock history yet.")

    def update_from(
        self,
        insights: tuple[SkuInsight, ...],
        histories: dict[str, StockSeries],
        now: float,
        defaults: SkuSettings,
        per_sku: dict[str, SkuSettings] | None = None,
        projector: Projector | None = None,
    ) -> None:
        self._projector = projector
        self._last = (insights, histories, now, defaults, per_sku or {})
        self.open_button.setVisible(bool(insights))
        if not insights:
            self.show_empty("No products yet. The stock chart appears after the first sync.")
            return
        self.show_body()
        ids = {s.sku_id for s in insights}
        if self.selected not in ids or not self._picked:
            self._attention.update(insights)
            top = self._attention.top
            self.selected = top.sku_id if top else None
        self._refresh_flow()
        self.landscape.update_from(insights, defaults.critical_hours, defaults.lead_time_hours)

    def select(self, sku_id: str) -> None:
        """Show this SKU in the stock-flow chart."""
        self.selected = sku_id
        self._picked = True
        self._refresh_flow()

    def _refresh_flow(self) -> None:
        if self._last is None or self.selected is None:
            return
        insights, histories, now, defaults, per_sku = self._last
        item = next((s for s in insights if s.sku_id == self.selected), None)
        settings = per_sku.get(self.selected, defaults)
        self.flow.update_from(
            histories.get(self.selected), item, now, settings.lead_time_hours, self._projector
        )
        if item is not None:
            self.set_subtitle(
                f"{sku_title(item)} · {fmt.units(item.available)} in stock · "
                f"{fmt.hours(item.forecast.hours_left)} left"
            )

    def _open(self) -> None:
        if self.selected:
            self.open_sku.emit(self.selected)

    def apply_palette(self, p: Palette) -> None:
        self.flow.apply_palette(p)
        self.landscape.apply_palette(p)


class OrdersCard(Card):
    """Orders and revenue over time with viral markers, status funnel, viral revenue share and
    orders close to their ship-by time."""

    def __init__(self, scheduler: RepaintScheduler, parent: QWidget | None = None) -> None:
        super().__init__("Order intelligence", "", parent)
        layout = QHBoxLayout()
        layout.setSpacing(22)
        self.chart = OrdersChart(scheduler)
        layout.addWidget(self.chart, 5)

        def column(title: str, widget: QWidget, extra: QWidget | None = None) -> QVBoxLayout:
            box = QVBoxLayout()
            box.setSpacing(6)
            label = QLabel(title)
            label.setObjectName("CardTitle")
            box.addWidget(label)
            box.addWidget(widget, 1)
            if extra is not None:
                box.addWidget(extra)
            return box

        self.funnel = FunnelWidget()
        layout.addLayout(column("Status funnel", self.funnel), 2)
        self.ring = ShareRing()
        self.ring_caption = muted(wrap=True)
        self.ring_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addLayout(column("Viral revenue", self.ring, self.ring_caption), 1)
        self.ship_list = QLabel()
        self.ship_list.setTextFormat(Qt.TextFormat.RichText)
        self.ship_list.setWordWrap(True)
        self.ship_list.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout.addLayout(column("Ship-by soon", self.ship_list), 2)
        self.body_layout.addLayout(layout)
        self._palette: Palette | None = None
        self._near: tuple[tuple[str, float], ...] = ()
        self._now = 0.0
        self._orders: OrderIntelligence | None = None
        self.show_empty("No orders yet. Orders appear here as they arrive.")

    def hasHeightForWidth(self) -> bool:
        """No height-for-width, although its word-wrapped labels have it: the dashboard gives
        this card a fixed band (250-300 px), and an item with height-for-width makes Qt's
        layouts squeeze the row above below its minimum (at 1440x960 the inventory card ran
        into this one). The labels wrap within the band they get."""
        return False

    def update_from(self, orders: OrderIntelligence | None, now: float) -> None:
        if orders is None or not orders.hour_starts:
            self.show_empty("No orders yet. Orders appear here as they arrive.")
            return
        self.show_body()
        if orders is self._orders and now == self._now:
            return
        self._orders = orders
        first = first_order_hour(orders)
        span = (
            f"since {when.clock(orders.hour_starts[first])}"
            if first > 0
            else f"last {len(orders.hour_starts)} h"
        )
        self.set_subtitle(
            f"{span} · {fmt.count(orders.order_count, 'order')} · "
            f"{fmt.money(orders.revenue)} revenue"
        )
        self.chart.update_from(orders)
        self.funnel.set_funnel(dict(orders.funnel))
        self.ring.set_share(orders.viral_revenue_share)
        self.ring_caption.setText(f"{fmt.money(orders.viral_revenue)} came from videos")
        self._near, self._now = orders.near_ship_by, now
        self._render_ship_list()

    def _render_ship_list(self) -> None:
        p = self._palette
        crit = p.critical if p else "#FF5468"
        warn = p.warning if p else "#FFB224"
        if not self._near:
            self.ship_list.setText("Nothing due soon.")
            return
        lines = []
        for order_id, ship_by in self._near[:5]:
            delta_h = (ship_by - self._now) / 3600
            if delta_h < 0:
                due = f"<span style='color:{crit}'>overdue {fmt.duration(-delta_h)}</span>"
            else:
                due = f"<span style='color:{warn}'>in {fmt.duration(delta_h)}</span>"
            lines.append(f"#{order_id[-6:]} · by {when.clock(ship_by)} · {due}")
        extra = len(self._near) - 5
        if extra > 0:
            lines.append(f"+ {extra} more")
        self.ship_list.setText("<br>".join(lines))

    def apply_palette(self, p: Palette) -> None:
        self._palette = p
        self.chart.apply_palette(p)
        self.funnel.apply_palette(p)
        self.ring.apply_palette(p)
        self._render_ship_list()
