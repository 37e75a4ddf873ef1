"""One SKU in plain words: its stock chart, why the forecast says what it says, what to reorder
and why, and the lead time and pack size the seller can change."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.insight import fmt
from app.insight.types import AlertLevel, SkuInsight, SkuSettings
from app.sync.dashboard_types import StockSeries
from app.ui.cards import sku_title
from app.ui.charts import StockFlowChart
from app.ui.plots import RepaintScheduler
from app.ui.theme import Palette
from app.ui.viewmodel import Projector
from app.ui.widgets import Card, Chip, KpiTile, muted


def forecast_words(item: SkuInsight) -> str:
    """The forecast explained to a seller, not a statistician."""
    fc = item.forecast
    v = item.velocity
    if item.available <= 0:
        return "This product is out of stock. Every order now is a sale lost or a late shipment."
    if fc.hours_left is None:
        return (
            f"You have {fmt.units(item.available)} in stock and no recent sales, so there is "
            "nothing to forecast from yet."
        )
    parts = [
        f"You have {fmt.units(item.available)} in stock. Right now it sells about "
        f"{fmt.rate(fc.rate_per_hour)} (last hour {fmt.rate(v.per_hour_1h)}, last day "
        f"{fmt.rate(v.per_hour_24h)}, last week {fmt.rate(v.per_hour_7d)})."
    ]
    if fc.trend_per_hour2 > 0.01:
        parts.append("Sales are speeding up, so the forecast assumes they keep rising.")
    elif fc.trend_per_hour2 < -0.01:
        parts.append("Sales are slowing down, which the forecast takes into account.")
    low, high = fc.hours_left_low, fc.hours_left_high
    span = ""
    if fc.band_is_narrow:
        span = f" (somewhere between {fmt.hours(low)} and {fmt.hours(high)})"
    elif low is not None:
        span = f" (at worst {fmt.hours(low)})"
    parts.append(f"At that pace it runs out in about {fmt.hours(fc.hours_left)}{span}.")
    if item.attribution is not None:
        title = item.attribution.title or item.attribution.video_id
        how = (
            "TikTok credits it with these orders"
            if item.attribution.method == "explicit"
            else "its views rise and fall with these sales"
        )
        parts.append(f"The video “{title}” is driving demand: {how}.")
    return " ".join(parts)


def reorder_words(item: SkuInsight) -> str:
    """The reorder suggestion as a worked sum."""
    r = item.reorder
    horizon_days = r.lead_time_hours / 24 + r.days_of_cover
    lines = [
        f"Expected sales over the next {fmt.duration(horizon_days * 24)} "
        f"({fmt.duration(r.lead_time_hours)} until a reorder arrives + "
        f"{fmt.duration(r.days_of_cover * 24)} it should last): "
        f"{fmt.count(r.demand_units, 'unit')}.",
        f"Plus safety stock: {fmt.units(r.safety_units)}. "
        f"Minus what you have ({fmt.units(r.available)}) and what is on its way "
        f"({fmt.units(r.incoming)}).",
    ]
    if r.quantity > 0:
        pack = f", rounded up to packs of {fmt.units(r.pack_size)}" if r.pack_size > 1 else ""
        lines.append(f"Reorder {fmt.count(r.quantity, 'unit')}{pack}.")
    else:
        lines.append("You have enough: no reorder needed now.")
    return "\n".join(lines)


class SkuView(QWidget):
    """The SKU page. `settings_changed(sku_id, SkuSettings)` fires when the seller saves."""

    settings_changed = Signal(str, object)
    back_requested = Signal()
    export_requested = Signal()

    def __init__(self, scheduler: RepaintScheduler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sku_id: str | None = None
        self._settings = SkuSettings()
        # Saved but not yet reflected by a snapshot: keep showing it, not the stale value.
        self._pending: SkuSettings | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 16, 20, 16)
        outer.setSpacing(12)
        top = QHBoxLayout()
        self.back_button = QPushButton("← Dashboard")
        self.back_button.setProperty("flat", True)
        self.back_button.clicked.connect(self.back_requested)
        top.addWidget(self.back_button)
        top.addStretch(1)
        self.export_button = QPushButton("Export reorder list…")
        self.export_button.clicked.connect(self.export_requested)
        top.addWidget(self.export_button)
        outer.addLayout(top)
        head = QHBoxLayout()
        self.title = QLabel("")
        self.title.setObjectName("ShopName")
        self.chip = Chip()
        head.addWidget(self.title)
        head.addWidget(self.chip)
        head.addStretch(1)
        self.headline = muted(wrap=True)
        outer.addLayout(head)
        outer.addWidget(self.headline)
        tiles = QHBoxLayout()
        tiles.setSpacing(10)
        self.tile_stock = KpiTile("In stock")
        self.tile_rate = KpiTile("Selling")
        self.tile_left = KpiTile("Runs out in")
        self.tile_risk = KpiTile("Sales at risk")
        for tile in (self.tile_stock, self.tile_rate, self.tile_left, self.tile_risk):
            tiles.addWidget(tile)
        outer.addLayout(tiles)
        body = QHBoxLayout()
        body.setSpacing(12)
        self.chart_card = Card("Stock flow", "history, projected depletion and forecast range")
        self.chart = StockFlowChart(scheduler)
        self.chart_card.body_layout.addWidget(self.chart)
        body.addWidget(self.chart_card, 3)
        side = QVBoxLayout()
        side.setSpacing(12)
        self.forecast_card = Card("Forecast")
        self.forecast_text = QLabel()
        self.forecast_text.setWordWrap(True)
        self.forecast_card.body_layout.addWidget(self.forecast_text)
        self.reorder_card = Card("Reorder suggestion")
        self.reorder_big = QLabel()
        self.reorder_big.setObjectName("KpiValue")
        self.reorder_text = QLabel()
        self.reorder_text.setWordWrap(True)
        self.reorder_card.body_layout.addWidget(self.reorder_big)
        self.reorder_card.body_layout.addWidget(self.reorder_text)
        self.settings_card = Card("Replenishment", "used for this product's alerts and reorder")
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.lead_time = QDoubleSpinBox()
        self.lead_time.setRange(0.5, 180)
        self.lead_time.setDecimals(1)
        self.lead_time.setSingleStep(0.5)
        self.lead_time.setSuffix(" days")
        self.pack_size = QSpinBox()
        self.pack_size.setRange(1, 100_000)
        self.pack_size.setSuffix(" units")
        form.addRow("Lead time", self.lead_time)
        form.addRow("Pack size", self.pack_size)
        self.settings_card.body_layout.addLayout(form)
        self.save_button = QPushButton("Save")
        self.save_button.setProperty("primary", True)
        self.save_button.clicked.connect(self._save)
        self.saved_label = muted()
        row = QHBoxLayout()
        row.addWidget(self.saved_label, 1)
        row.addWidget(self.save_button)
        self.settings_card.body_layout.addLayout(row)
        for card in (self.forecast_card, self.reorder_card, self.settings_card):
            side.addWidget(card)
        side.addStretch(1)
        body.addLayout(side, 2)
        outer.addLayout(body, 1)
        self.lead_time.valueChanged.connect(self._dirty)
        self.pack_size.valueChanged.connect(self._dirty)

    def show_sku(
        self,
        item: SkuInsight | None,
        history: StockSeries | None,
        settings: SkuSettings,
        now: float,
        sku_id: str | None = None,
        projector: Projector | None = None,
    ) -> None:
        """Fill the page; edits in progress are kept when the same SKU refreshes."""
        new_sku = (item.sku_id if item else sku_id) != self.sku_id
        self.sku_id = item.sku_id if item else sku_id
        if item is None:
            self.title.setText(self.sku_id or "")
            self.chip.set_level("unknown", "No data")
            self.headline.setText("This product has no stock data yet.")
            self.forecast_text.setText("")
            self.reorder_big.setText("")
            self.reorder_text.setText("")
        else:
            self.title.setText(sku_title(item))
            self.chip.set_level(item.level)
            self.headline.setText(item.headline)
            self.forecast_text.setText(forecast_words(item))
            fc = item.forecast
            self.tile_stock.set(
                fmt.units(item.available), f"{fmt.units(item.reorder.incoming)} on the way"
            )
            self.tile_rate.set(
                fmt.rate(fc.rate_per_hour),
                f"last hour {fmt.rate(item.velocity.per_hour_1h)}",
            )
            band = (
                f"{fmt.hours(fc.hours_left_low)} to {fmt.hours(fc.hours_left_high)}"
                if fc.band_is_narrow
                else (f"at worst {fmt.hours(fc.hours_left_low)}" if fc.hours_left_low else "")
            )
            self.tile_left.set(fmt.hours(fc.hours_left), band, str(item.level))
            self.tile_risk.set(
                fmt.money(item.revenue_at_risk),
                "before a reorder can arrive",
                "critical" if item.revenue_at_risk > 0 else "",
            )
            qty = item.reorder.quantity
            self.reorder_big.setText(fmt.count(qty, "unit") if qty else "Nothing to order")
            self.reorder_text.setText(reorder_words(item))
            if item.level is AlertLevel.CRITICAL and item.revenue_at_risk > 0:
                self.headline.setText(
                    f"{item.headline} · {fmt.money(item.revenue_at_risk)} of sales at risk"
                )
        if new_sku:
            self._pending = None
        if self._pending is not None and settings == self._pending:
            self._pending = None  # the snapshot caught up with what was saved
        if new_sku or (not self.save_button.isEnabled() and self._pending is None):
            self._load_settings(settings)
        self.chart.update_from(history, item, now, settings.lead_time_hours, projector)

    def _load_settings(self, settings: SkuSettings) -> None:
        self._settings = settings
        for box in (self.lead_time, self.pack_size):
            box.blockSignals(True)
        self.lead_time.setValue(settings.lead_time_hours / 24)
        self.pack_size.setValue(settings.pack_size)
        for box in (self.lead_time, self.pack_size):
            box.blockSignals(False)
        self.save_button.setEnabled(False)
        self.saved_label.setText("")

    def _dirty(self) -> None:
        self.save_button.setEnabled(True)
        self.saved_label.setText("Unsaved changes")

    def _save(self) -> None:
        if self.sku_id is None:
            return
        new = dataclasses.replace(
            self._settings,
            lead_time_hours=round(self.lead_time.value() * 24, 2),
            pack_size=self.pack_size.value(),
        )
        self._settings = new
        self._pending = new
        self.save_button.setEnabled(False)
        self.saved_label.setText("Saved. The forecast updates with the next recompute.")
        self.settings_changed.emit(self.sku_id, new)

    def apply_palette(self, p: Palette) -> None:
        self.chart.apply_palette(p)
