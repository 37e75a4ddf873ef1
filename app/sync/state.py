"""The published state of each shop: one immutable snapshot plus a stream of changes.

The engine is the only writer; any number of readers (the Qt UI through a thin adapter, the
headless report, tests) either read `Publisher.snapshot(shop_id)` or follow the changes through
an asyncio queue (`Publisher.subscribe()`) or a plain callback (`Publisher.add_listener`).
Nothing here knows about Qt: a UI adapter turns a callback into a signal on the main thread.

Snapshots are frozen dataclasses that share their unchanged parts, so publishing one costs a
`dataclasses.replace`, and a reader can keep one as long as it likes without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from app.insight.types import OrderIntelligence, SkuInsight

__all__ = [
    "BackfillProgress",
    "Change",
    "ChangeKind",
    "LinkState",
    "LinkStatus",
    "Publisher",
    "ShopRef",
    "ShopSnapshot",
    "SyncMetrics",
]

log = logging.getLogger(__name__)


class LinkState(enum.StrEnum):
    """The state of one connection (Open API or relay) as the header shows it."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    # The seller revoked the app (webhook 6 or API 105001): nothing works until re-authorized.
    DEAUTHORIZED = "deauthorized"
    # Authorization expires soon (webhook 7); still works, the UI asks to re-authorize.
    EXPIRING = "expiring"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    state: LinkState = LinkState.IDLE
    detail: str = ""
    since: float = 0.0
    # For EXPIRING: when authorization ends (epoch seconds), when known.
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class ShopRef:
    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """First-connection backfill: `done` of `total` items of `phase` at `rate_per_s`."""

    phase: str = "idle"
    done: int = 0
    total: int = 0
    rate_per_s: float = 0.0
    seconds_left: float | None = None
    finished: bool = False


@dataclass(frozen=True, slots=True)
class SyncMetrics:
    """Counters of the sync path; names match the headless report's `sync` object."""

    webhooks_received: int = 0
    webhooks_applied: int = 0
    duplicates_ignored: int = 0
    reconciled: int = 0
    api_requests: int = 0
    api_429s: int = 0
    webhook_to_store_ms_p50: float | None = None
    webhook_to_store_ms_p99: float | None = None
    resyncs: int = 0
    reconnects: int = 0
    queue_depth: int = 0
    last_sync_at: float | None = None
    # Webhooks recorded as processed with an error (TikTok refused their re-read for good).
    webhooks_failed: int = 0
    # Batches whose apply failed and will be replayed (retryable errors, storage failures).
    apply_failures: int = 0


@dataclass(frozen=True, slots=True)
class ShopSnapshot:
    """Everything a reader needs to draw one shop, consistent as of `updated_at` (shop time)."""

    shop: ShopRef
    api: LinkStatus = field(default_factory=LinkStatus)
    relay: LinkStatus = field(default_factory=LinkStatus)
    # The local database: CONNECTED when writes succeed, ERROR with the reason (e.g. "Disk
    # full: ViralStock can't save new orders") while they fail; sync pauses meanwhile.
    storage: LinkStatus = field(default_factory=LinkStatus)
    skus: tuple[SkuInsight, ...] = ()
    orders: OrderIntelligence | None = None
    order_count: int = 0
    revenue: Decimal = Decimal(0)
    metrics: SyncMetrics = field(default_factory=SyncMetrics)
    backfill: BackfillProgress = field(default_factory=BackfillProgress)
    insight_at: float | None = None
    updated_at: float = 0.0

    @property
    def sku_count(self) -> int:
        return len(self.skus)


class ChangeKind(enum.StrEnum):
    SHOP = "shop"
    CONNECTION = "connection"
    INSIGHT = "insight"
    METRICS = "metrics"
    BACKFILL = "backfill"
    # A SKU's alert level rose (ok -> warning -> critical): the tray notifies once per escalation.
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    shop_id: str
    snapshot: ShopSnapshot
    # For ALERT: the SKU ids whose level escalated.
    sku_ids: tuple[str, ...] = ()


Listener = Callable[[Change], Any]


class Publisher:
    """Holds the latest snapshot per shop and fans changes out to listeners.

    Queues are bounded; a reader that falls behind loses its oldest changes rather than growing
    memory (it can always read the latest snapshot). Callbacks run synchronously on the engine's
    loop, so they must be quick (a Qt adapter only emits a signal).
    """

    def __init__(self, queue_size: int = 1000) -> None:
        self._snapshots: dict[str, ShopSnapshot] = {}
        self._queues: set[asyncio.Queue[Change]] = set()
        self._listeners: list[Listener] = []
        self._queue_size = queue_size

    # --- reading ---------------------------------------------------------------------------

    def snapshot(self, shop_id: str) -> ShopSnapshot:
        return self._snapshots[shop_id]

    def snapshots(self) -> list[ShopSnapshot]:
        return list(self._snapshots.values())

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(change)` on every change; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Change]]:
        """A queue that receives every change while the `with` block runs."""
        queue: asyncio.Queue[Change] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    # --- writing (the engine) --------------------------------------------------------------

    def ensure_shop(self, shop: ShopRef, now: float) -> ShopSnapshot:
        current = self._snapshots.get(shop.id)
        if current is None:
            current = ShopSnapshot(shop=shop, updated_at=now)
            self._snapshots[shop.id] = current
            self._emit(Change(ChangeKind.SHOP, shop.id, current))
        elif current.shop != shop:
            self.update(shop.id, ChangeKind.SHOP, now, shop=shop)
        return self._snapshots[shop.id]

    def update(
        self,
        shop_id: str,
        kind: ChangeKind,
        now: float,
        sku_ids: tuple[str, ...] = (),
        **fields: Any,
    ) -> ShopSnapshot:
        """Replace some fields of a shop's snapshot and tell every listener."""
        snapshot = replace(self._snapshots[shop_id], updated_at=now, **fields)
        self._snapshots[shop_id] = snapshot
        self._emit(Change(kind, shop_id, snapshot, sku_ids))
        return snapshot

    def _emit(self, change: Change) -> None:
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(change)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("a state listener failed; it stays subscribed")
