"""What the dashboard shows, as plain Qt-free data: the composition root maps the sync snapshot
into a `DashboardViewModel` and hands it to `MainWindow.apply` on the main thread.

Insight results (`SkuInsight`, `OrderIntelligence`, `SkuSettings`) are used as they are; the rest
is the little the UI needs beyond them. Times are UTC epoch seconds, money is Decimal. Arrays are
numpy float64 so charts can copy them into their preallocated buffers without conversion.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.insight.types import OrderIntelligence, SkuInsight, SkuSettings, StockProjection
from app.sync.dashboard_types import OrderHours, SkuSalesWindow, StockSeries, VideoSummary
from app.sync.state import LinkState

FloatArray = npt.NDArray[np.float64]
# `ShopInsight.projected_stock`: (sku_id, hours ahead) -> expected, busy and quiet stock.
Projector = Callable[[str, Sequence[float]], StockProjection]


@dataclass(frozen=True, slots=True)
class ShopHeader:
    """The header line: which shop, is it connected, how fresh is the data."""

    shop_name: str = ""
    # The engine's own states; `app.ui.header.STATE_LEVEL` says how each looks.
    api_state: LinkState = LinkState.IDLE
    relay_state: LinkState = LinkState.IDLE
    sku_count: int = 0
    last_sync: float | None = None
    api_detail: str = ""
    relay_detail: str = ""
    demo: bool = False
    # Set while the local database cannot be written (disk full, read-only...): what to fix.
    storage_problem: str = ""
    # Set while the window shows the dashboard saved by the last session (`app.sync.
    # first_paint`): when those figures were computed. None: the figures are live.
    saved_at: float | None = None


@dataclass(frozen=True, slots=True)
class SyncPerformance:
    """How well the live path works. None means "no sample yet" (shown as an em dash)."""

    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    success_rate: float | None = None  # 0..1 over recent API calls and webhook handling
    budget_used: float = 0.0  # 0..1 of the per-minute API budget
    budget_per_minute: int = 1000
    queue_depth: int = 0
    events_per_minute: float = 0.0


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the webhook and sync log. `seq` increases; the view appends entries it has
    not seen, so the snapshot can carry a bounded tail without the UI re-reading it all."""

    seq: int
    time: float
    level: LogLevel
    source: str  # "webhook", "sync", "api", "relay", "app"
    message: str


@dataclass(frozen=True, slots=True)
class Correction:
    """A reconciliation fix: polling found a value the webhook stream had missed or got wrong."""

    time: float
    sku_id: str
    what: str  # e.g. "available", "order status"
    local_value: str
    remote_value: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class DashboardViewModel:
    """Everything the window shows, in one immutable snapshot."""

    header: ShopHeader = field(default_factory=ShopHeader)
    performance: SyncPerformance = field(default_factory=SyncPerformance)
    # Insight for every SKU; the UI sorts and filters for each card.
    insights: tuple[SkuInsight, ...] = ()
    # Stock history per sku_id (only SKUs the seller may open need one). Keep passing the same
    # StockSeries object while a SKU's history is unchanged: charts re-copy only new objects.
    histories: Mapping[str, StockSeries] = field(default_factory=dict)
    # The projected depletion and band for the stock-flow chart: pass
    # `shop_insight.projected_stock`. Without it the chart approximates from the forecast.
    projector: Projector | None = field(default=None, compare=False)
    orders: OrderIntelligence | None = None
    # Orders and revenue per hour over the last year (the orders chart's long ranges).
    order_hours: OrderHours | None = field(default=None, compare=False)
    videos: tuple[VideoSummary, ...] = ()
    sku_sales: tuple[SkuSalesWindow, ...] = ()
    log: tuple[LogEntry, ...] = ()
    corrections: tuple[Correction, ...] = ()
    # The settings in effect per SKU (absent: `default_settings`).
    sku_settings: Mapping[str, SkuSettings] = field(default_factory=dict)
    default_settings: SkuSettings = field(default_factory=SkuSettings)
    now: float = 0.0

    def settings_for(self, sku_id: str) -> SkuSettings:
        """The replenishment settings of a SKU."""
        return self.sku_settings.get(sku_id, self.default_settings)

    def insight_for(self, sku_id: str) -> SkuInsight | None:
        """The insight of a SKU, if it is in the snapshot."""
        for item in self.insights:
            if item.sku_id == sku_id:
                return item
        return None


@dataclass(frozen=True, slots=True)
class Progress:
    """Long work (backfill, resync): how far, for the progress bar with time left."""

    title: str
    done: int
    total: int | None  # None: indeterminate
    detail: str = ""
