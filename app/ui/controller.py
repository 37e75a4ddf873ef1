"""The window's outgoing actions, carried out on the engine (through `app.sync.commands`).

- SKU settings and shop defaults are saved (`save_settings`: one write transaction each, then
  insight is recomputed) and the store extras re-read so the dashboard shows their effect;
- "Resync now" runs `engine.resync` with a progress strip that the seller can cancel;
- Cancel during the first sync stops the backfill task (it resumes from its watermarks on the
  next start);
- the adapter's view models go to `MainWindow.apply`, backfill progress to `show_progress`.

Every coroutine started here is tracked so `aclose()` can cancel and await it inside the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from app.insight.types import SkuSettings
from app.sync.commands import save_settings
from app.sync.engine import SyncEngine
from app.sync.first_paint import DashboardSaver
from app.ui.adapter import SnapshotAdapter
from app.ui.main_window import MainWindow
from app.ui.viewmodel import Progress

__all__ = ["DashboardController"]

log = logging.getLogger(__name__)


class DashboardController(QObject):
    def __init__(
        self,
        window: MainWindow,
        engine: SyncEngine,
        shop_id: str,
        *,
        demo: bool = False,
        budget_per_minute: int = 1000,
        save_to: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.engine = engine
        self.shop_id = shop_id
        self.adapter = SnapshotAdapter(
            engine,
            shop_id,
            demo=demo,
            budget_per_minute=budget_per_minute,
            saver=None if save_to is None else DashboardSaver(save_to),
            parent=self,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resync: asyncio.Task[None] | None = None
        self.saved = 0  # settings writes committed (tests wait on it)
        self._connections = [
            (self.adapter.viewmodel, window.apply),
            (self.adapter.progress, window.show_progress),
            (window.sku_settings_changed, self.save_sku_settings),
            (window.defaults_changed, self.save_defaults),
            (window.resync_requested, self.resync),
            (window.cancel_requested, self.cancel),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)

    def start(self) -> None:
        self.adapter.start()

    async def aclose(self) -> None:
        """Disconnect from the window, cancel and await every task (inside the loop), then
        delete this controller: it is the window's child, and a restarted engine gets a new
        one, so a closed controller must not live as long as the window."""
        for signal, slot in self._connections:
            # The window may already be gone (deleted before the loop's clean-up ran).
            with contextlib.suppress(RuntimeError, TypeError, SystemError):
                signal.disconnect(slot)
        await self.adapter.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RuntimeError):  # the window (its parent) may be gone already
            self.deleteLater()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    # --- settings --------------------------------------------------------------------------

    def save_sku_settings(self, sku_id: str, settings: SkuSettings) -> asyncio.Task[Any]:
        return self._spawn(self._save(sku_id, settings), "save-sku-settings")

    def save_defaults(self, settings: SkuSettings) -> asyncio.Task[Any]:
        return self._spawn(self._save(None, settings), "save-defaults")

    async def _save(self, sku_id: str | None, settings: SkuSettings) -> None:
        await save_settings(self.engine, self.shop_id, settings, sku_id)
        self.saved += 1
        what = "Default settings" if sku_id is None else "Settings"
        self.window.set_status(f"{what} saved; recomputing the forecast…", 4000)
        self.adapter.mark_extras_dirty()

    # --- resync and cancel -----------------------------------------------------------------

    def resync(self) -> asyncio.Task[None] | None:
        if self._resync is not None:
            return self._resync
        self.window.show_progress(
            Progress("Resyncing the shop", 0, None, "Re-reading products, stock and orders")
        )
        task = self._spawn(self.engine.resync(self.shop_id), "resync")
        task.add_done_callback(self._resynced)
        self._resync = task
        return task

    def _resynced(self, task: asyncio.Task[None]) -> None:
        """Runs however the resync ended (even when cancelled before it started)."""
        self._resync = None
        self.window.show_progress(None)
        self.adapter.mark_extras_dirty()
        if task.cancelled():
            self.window.set_status("Resync cancelled")
        elif task.exception() is not None:
            name = type(task.exception()).__name__
            self.window.set_status(f"Resync failed: {name}; the Sync page log has details")
        else:
            self.window.set_status("Resync finished: the shop matches TikTok again")

    def cancel(self) -> None:
        """Cancel the running resync, or the first sync (backfill; it resumes later)."""
        if self._resync is not None:
            self._resync.cancel()
            return
        if self.engine.cancel_backfill():
            self.window.show_progress(None)
            self.window.set_status("First sync paused; it continues at the next start")
