"""Sync snapshot -> dashboard view model, and the Sync page's log from the change stream.

Qt-free and synchronous: the adapter calls `build_viewmodel` on the Qt thread with the latest
`ShopSnapshot`, the store read `app.sync.dashboard_data.DashboardData` (used as it is: no mirror
type, so a series the reader kept is the very object the charts cached) and the rates a
`RateMeter` measured. Link states are the engine's `app.sync.state.LinkState`; only their
details (what the seller should do) are worded here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.insight.types import SkuSettings
from app.sync.state import BackfillProgress, Change, ChangeKind, LinkState, LinkStatus, ShopSnapshot
from app.ui.viewmodel import (
    Correction,
    DashboardViewModel,
    LogEntry,
    LogLevel,
    Progress,
    Projector,
    ShopHeader,
    SyncPerformance,
)

if TYPE_CHECKING:  # the saved dashboard is mapped before the store is imported (#15)
    from app.sync.dashboard_data import DashboardData
    from app.sync.first_paint import SavedDashboard

__all__ = [
    "LogBook",
    "RateMeter",
    "build_viewmodel",
    "link_detail",
    "progress_of",
    "saved_viewmodel",
]

_DETAILS: dict[LinkState, str] = {
    LinkState.DEAUTHORIZED: "authorization revoked: reconnect the shop",
    LinkState.EXPIRING: "authorization expires soon: reconnect the shop",
    LinkState.RECONNECTING: "reconnecting",
}


def link_detail(status: LinkStatus) -> str:
    """A short detail for one connection: what the seller should do about it."""
    if status.state is LinkState.DEAUTHORIZED:
        return _DETAILS[LinkState.DEAUTHORIZED]
    return status.detail or _DETAILS.get(status.state, "")


def progress_of(backfill: BackfillProgress) -> Progress | None:
    """The progress strip for a running backfill; None when there is nothing to show."""
    if backfill.finished or backfill.phase in ("idle", "done", ""):
        return None
    left = ""
    if backfill.seconds_left is not None and backfill.rate_per_s > 0:
        left = f" · {backfill.rate_per_s:,.0f}/s"
    return Progress(
        title=f"First sync: {backfill.phase}",
        done=backfill.done,
        total=backfill.total or None,
        detail=f"{backfill.done:,} of {backfill.total:,}{left}" if backfill.total else "",
    )


@dataclass
class RateMeter:
    """Per-minute rates of the counters in `SyncMetrics`, over the last `window` real seconds."""

    window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _samples: deque[tuple[float, int, int, int]] = field(default_factory=deque)

    def add(self, received: int, requests: int, rate_limited: int) -> None:
        now = self.clock()
        self._samples.append((now, received, requests, rate_limited))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def per_minute(self) -> tuple[float, float, float]:
        """(webhooks, API requests, 429s) per minute; zeros until two samples exist."""
        if len(self._samples) < 2:
            return 0.0, 0.0, 0.0
        t0, r0, q0, l0 = self._samples[0]
        t1, r1, q1, l1 = self._samples[-1]
        span = max(t1 - t0, 1.0)
        scale = 60.0 / span
        return (r1 - r0) * scale, (q1 - q0) * scale, (l1 - l0) * scale


class LogBook:
    """The webhook and sync log the Sync page shows, written from the change stream.

    Webhook traffic is summarised (one line per batch the metrics tick reports) so a viral
    burst of 50 events a second is a readable log, not a flood. Bounded to `size` entries.
    """

    def __init__(self, size: int = 500, clock: Callable[[], float] = time.time) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=size)
        self._corrections: deque[Correction] = deque(maxlen=200)
        self._seq = 0
        self._clock = clock
        self._received = 0
        self._applied = 0
        self._duplicates = 0
        self._reconciled = 0
        self._resyncs = 0
        self._api: LinkState | None = None
        self._relay: LinkState | None = None
        self._storage: LinkState | None = None
        self._phase = ""

    @property
    def entries(self) -> tuple[LogEntry, ...]:
        return tuple(self._entries)

    @property
    def corrections(self) -> tuple[Correction, ...]:
        return tuple(self._corrections)

    def add(self, source: str, message: str, level: LogLevel = LogLevel.INFO) -> None:
        self._seq += 1
        self._entries.append(LogEntry(self._seq, self._clock(), level, source, message))

    def feed(self, change: Change, names: Callable[[str], str] = str) -> None:
        snap = change.snapshot
        if change.kind is ChangeKind.CONNECTION:
            self._links(snap)
        elif change.kind is ChangeKind.METRICS:
            self._metrics(snap)
        elif change.kind is ChangeKind.BACKFILL:
            phase = snap.backfill.phase
            if phase != self._phase:
                self._phase = phase
                word = "finished" if snap.backfill.finished else f"{phase}…"
                self.add("sync", f"First sync {word}")
        elif change.kind is ChangeKind.ALERT:
            for sku_id in change.sku_ids:
                item = next((s for s in snap.skus if s.sku_id == sku_id), None)
                if item is None:
                    continue
                level = LogLevel.ERROR if item.level.severity == 2 else LogLevel.WARNING
                self.add(
                    "sync", f"{item.level.value.upper()}: {names(sku_id)}: {item.headline}", level
                )

    def _links(self, snap: ShopSnapshot) -> None:
        for source, status, attr in (
            ("api", snap.api, "_api"),
            ("relay", snap.relay, "_relay"),
            ("storage", snap.storage, "_storage"),
        ):
            if getattr(self, attr) is status.state:
                continue
            if source == "storage" and getattr(self, attr) is None and not status.detail:
                setattr(self, attr, status.state)  # the database's first "fine" is not news
                continue
            setattr(self, attr, status.state)
            label = {"api": "TikTok Open API", "relay": "Webhook relay"}.get(source, "Database")
            bad = status.state in (LinkState.ERROR, LinkState.DEAUTHORIZED)
            detail = f" ({status.detail})" if status.detail else ""
            self.add(
                source,
                f"{label}: {status.state.value}{detail}",
                LogLevel.ERROR if bad else LogLevel.INFO,
            )

    def _metrics(self, snap: ShopSnapshot) -> None:
        m = snap.metrics
        new = m.webhooks_received - self._received
        if new > 0:
            applied = m.webhooks_applied - self._applied
            dups = m.duplicates_ignored - self._duplicates
            extra = f", {dups} duplicate{'s' if dups != 1 else ''} ignored" if dups else ""
            p50 = m.webhook_to_store_ms_p50
            latency = f" · p50 {p50:.0f} ms to the store" if p50 is not None else ""
            self.add(
                "webhook",
                f"{new} webhook{'s' if new != 1 else ''} received, "
                f"{applied} applied{extra}{latency}",
            )
        if m.reconciled > self._reconciled:
            fixed = m.reconciled - self._reconciled
            self.add(
                "sync",
                f"Reconciliation corrected {fixed} item{'s' if fixed != 1 else ''} "
                "the webhook stream had missed",
                LogLevel.WARNING,
            )
            self._corrections.append(
                Correction(
                    time=self._clock(),
                    sku_id="(several)",
                    what="orders, stock",
                    local_value=f"{fixed} stale",
                    remote_value="re-read",
                    note="scheduled poll by update_time",
                )
            )
        if m.resyncs > self._resyncs:
            self.add(
                "relay",
                "Relay reported a gap: the shop was re-read through the Open API",
                LogLevel.WARNING,
            )
        self._received = m.webhooks_received
        self._applied = m.webhooks_applied
        self._duplicates = m.duplicates_ignored
        self._reconciled = m.reconciled
        self._resyncs = m.resyncs


def build_viewmodel(
    snap: ShopSnapshot,
    data: DashboardData | None,
    *,
    rates: tuple[float, float, float] = (0.0, 0.0, 0.0),
    budget_per_minute: int = 1000,
    log: Iterable[LogEntry] = (),
    corrections: Iterable[Correction] = (),
    projector: Projector | None = None,
    demo: bool = False,
) -> DashboardViewModel:
    """The whole view model of one shop."""
    m = snap.metrics
    events, requests, _limited = rates
    success = None
    if m.api_requests:
        success = max(0.0, 1.0 - m.api_429s / m.api_requests)
    header = ShopHeader(
        shop_name=snap.shop.name or snap.shop.id,
        api_state=snap.api.state,
        relay_state=snap.relay.state,
        sku_count=snap.sku_count,
        last_sync=m.last_sync_at or snap.insight_at,
        api_detail=link_detail(snap.api),
        relay_detail=link_detail(snap.relay),
        demo=demo,
        storage_problem=(
            snap.storage.detail or "the local database cannot be written"
            if snap.storage.state is LinkState.ERROR
            else ""
        ),
    )
    performance = SyncPerformance(
        latency_p50_ms=m.webhook_to_store_ms_p50,
        # The engine keeps p50 and p99; p99 is shown in the p95 slot as its upper bound.
        latency_p95_ms=m.webhook_to_store_ms_p99,
        success_rate=success,
        budget_used=min(1.0, requests / budget_per_minute) if budget_per_minute else 0.0,
        budget_per_minute=budget_per_minute,
        queue_depth=m.queue_depth,
        events_per_minute=events,
    )
    return DashboardViewModel(
        header=header,
        performance=performance,
        insights=snap.skus,
        histories=data.histories if data else {},
        projector=projector,
        orders=snap.orders,
        videos=data.videos if data else (),
        sku_sales=data.sku_sales if data else (),
        order_hours=data.order_hours if data else None,
        log=tuple(log),
        corrections=tuple(corrections),
        sku_settings=data.sku_settings if data else {},
        default_settings=data.default_settings if data else SkuSettings(),
        now=snap.insight_at or snap.updated_at,
    )


def saved_viewmodel(saved: SavedDashboard) -> DashboardViewModel:
    """The dashboard the last session saved, for the first paint: its figures as they were at
    `saved.computed_at` (the header says so), the links still connecting, no sync counters."""
    return DashboardViewModel(
        header=ShopHeader(
            shop_name=saved.shop_name or saved.shop_id,
            api_state=LinkState.CONNECTING,
            relay_state=LinkState.CONNECTING,
            sku_count=len(saved.skus),
            last_sync=saved.last_sync,
            saved_at=saved.computed_at,
        ),
        insights=saved.skus,
        histories=saved.histories,
        orders=saved.orders,
        order_hours=saved.order_hours,
        sku_settings=saved.sku_settings,
        default_settings=saved.default_settings,
        now=saved.computed_at,
    )
