"""The Qt side of the sync publisher: change callbacks in, throttled view models out.

`Publisher.add_listener` calls back on the asyncio loop, which under qasync is the Qt main
thread; the callback only records the latest snapshot and marks the adapter dirty. One QTimer
then rebuilds the view model at most `max_rate` times a second; a new insight result is
rebuilt on the next frame instead (`FRAME_MS`: every change of that frame coalesced into one
rebuild, never more than one in flight), so it reaches the screen without waiting for the
throttle (#15) (the store extras come from
`app.sync.dashboard_data`, read on the database's reader pool, so the Qt thread never waits on
SQLite). An escalation (`ALERT`)
skips the wait so the tray notice is not delayed by the throttle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.sync import memory
from app.sync.dashboard_data import DashboardData, HistoryCache, load_dashboard_data
from app.sync.engine import SyncEngine
from app.sync.first_paint import DashboardSaver, SavedDashboard
from app.sync.state import Change, ChangeKind, ShopSnapshot
from app.ui.mapping import LogBook, RateMeter, build_viewmodel, progress_of
from app.ui.viewmodel import DashboardViewModel, Progress

__all__ = ["FRAME_MS", "SnapshotAdapter"]

#: One frame at 60 Hz: changes arriving within it make one rebuild.
FRAME_MS = 16

log = logging.getLogger(__name__)


class SnapshotAdapter(QObject):
    """Signals: `viewmodel(DashboardViewModel)`, `progress(Progress | None)` (backfill),
    `alert(tuple of sku ids)` for every escalation."""

    viewmodel = Signal(object)
    progress = Signal(object)
    alert = Signal(object)

    def __init__(
        self,
        engine: SyncEngine,
        shop_id: str,
        *,
        demo: bool = False,
        budget_per_minute: int = 1000,
        max_rate: float = 4.0,
        slow_every: float = 10.0,
        saver: DashboardSaver | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        # Keeps the live dashboard on disk for the next start's first paint (#15).
        self.saver = saver
        self.engine = engine
        self.shop_id = shop_id
        self.demo = demo
        self.budget_per_minute = budget_per_minute
        self.logbook = LogBook()
        self.rates = RateMeter()
        self.cache = HistoryCache()
        self.data: DashboardData | None = None
        self.last: DashboardViewModel | None = None
        self.builds = 0
        self._snapshot: ShopSnapshot | None = None
        self._dirty = False
        self._extras_dirty = True
        self._slow_at = 0.0
        self._slow_every = slow_every
        self._task: asyncio.Task[None] | None = None
        self._progress_shown = False
        self._trimmed_for: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / max_rate))
        self._timer.timeout.connect(self._tick)
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self._tick)
        self._last_build = 0.0
        self._remove: Callable[[], None] | None = None

    def start(self) -> None:
        """Listen to the publisher and start the throttle timer (main thread, loop running)."""
        self._snapshot = self.engine.publisher.snapshot(self.shop_id)
        self._remove = self.engine.publisher.add_listener(self._on_change)
        self._dirty = True
        self._timer.start()

    async def stop(self) -> None:
        self._timer.stop()
        self._frame.stop()
        if self._remove is not None:
            self._remove()
            self._remove = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.saver is not None:
            await self.saver.close()

    def mark_extras_dirty(self) -> None:
        """Settings or stock changed outside the change stream: re-read on the next tick."""
        self._extras_dirty = True
        self._slow_at = 0.0
        self._dirty = True

    # --- change stream (loop thread == Qt thread under qasync) -----------------------------

    def _on_change(self, change: Change) -> None:
        if change.shop_id != self.shop_id:
            return
        self._snapshot = change.snapshot
        self.logbook.feed(change, self._name)
        kind = change.kind
        if kind is ChangeKind.METRICS:
            m = change.snapshot.metrics
            self.rates.add(m.webhooks_received, m.api_requests, m.api_429s)
        elif kind is ChangeKind.BACKFILL:
            self._show_progress(progress_of(change.snapshot.backfill))
        elif kind is ChangeKind.INSIGHT:
            self._extras_dirty = True
            if self._progress_shown and change.snapshot.backfill.finished:
                self._show_progress(None)
            self._dirty = True
            self._next_frame()
            return
        elif kind is ChangeKind.ALERT:
            self.alert.emit(change.sku_ids)
            self._dirty = True
            self._tick()  # no throttle for an escalation
            return
        self._dirty = True

    def _show_progress(self, progress: Progress | None) -> None:
        if progress is None and not self._progress_shown:
            return
        self._progress_shown = progress is not None
        self.progress.emit(progress)

    def _name(self, sku_id: str) -> str:
        snap = self._snapshot
        if snap is not None:
            for item in snap.skus:
                if item.sku_id == sku_id:
                    return (
                        f"{item.product_name} ({item.sku_name})"
                        if item.sku_name
                        else (item.product_name or sku_id)
                    )
        return sku_id

    # --- throttled rebuild -----------------------------------------------------------------

    def _tick(self) -> None:
        if not self._dirty or self._task is not None:
            return
        wait = self._last_build + FRAME_MS / 1000 - time.monotonic()
        if wait > 0:  # one rebuild per frame, whichever timer asked
            if not self._frame.isActive():
                self._frame.start(max(1, math.ceil(wait * 1000)))
            return
        self._dirty = False
        self._task = asyncio.ensure_future(self._refresh())
        self._task.add_done_callback(self._refreshed)

    def _next_frame(self) -> None:
        if not self._frame.isActive():
            self._frame.start()

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        self._task = None
        if not task.cancelled() and task.exception() is not None:
            log.error("dashboard refresh failed", exc_info=task.exception())
        if self._dirty and not task.cancelled():
            self._next_frame()  # what came in while it was built

    async def refresh_now(self) -> DashboardViewModel | None:
        """Rebuild immediately (tests, screenshots); returns what was applied."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        self._extras_dirty = True
        await self._refresh()
        return self.last

    async def _refresh(self) -> None:
        snap = self._snapshot
        if snap is None:
            return
        if self._extras_dirty or self.data is None:
            self._extras_dirty = False
            levels = {item.sku_id: item.available for item in snap.skus}
            now = snap.updated_at
            slow = time.monotonic() - self._slow_at >= self._slow_every
            first = self.data is None and bool(snap.skus)
            if first:
                # First paint with the shop's SKUs: the month-long aggregates (Analytics, long
                # chart ranges) are read on the next tick, after it (#15).
                slow = False
                self._extras_dirty = True
                self._dirty = True
            elif slow:
                self._slow_at = time.monotonic()
            previous, cache = self.data, self.cache
            self.data = await load_dashboard_data(
                self.engine, self.shop_id, now, levels, cache, slow=slow, previous=previous
            )
            snap = self._snapshot or snap
        runner = self.engine.insights.get(self.shop_id)
        projector = None
        if runner is not None and runner.last is not None:
            projector = runner.last.insight.projected_stock
        vm = build_viewmodel(
            snap,
            self.data,
            rates=self.rates.per_minute(),
            budget_per_minute=self.budget_per_minute,
            log=self.logbook.entries,
            corrections=self.logbook.corrections,
            projector=projector,
            demo=self.demo,
        )
        self.last = vm
        self.builds += 1
        self._last_build = time.monotonic()  # the next one waits a frame from here
        self.viewmodel.emit(vm)
        data = self.data
        if self.saver is not None and data is not None and snap.insight_at is not None:
            live = snap
            self.saver.offer(lambda: SavedDashboard.of(live, data))
        if snap.insight_at != self._trimmed_for:
            # The previous recompute's figures are off the screen now: give their memory
            # back to the system (app/sync/memory.py), off the UI thread.
            self._trimmed_for = snap.insight_at
            with contextlib.suppress(RuntimeError):  # the loop's executor is shutting down
                asyncio.get_running_loop().run_in_executor(None, memory.trim)
