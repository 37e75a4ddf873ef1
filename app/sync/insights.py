"""Recompute insight for a shop, debounced, off the event loop.

Every committed change marks the shop dirty; the runner waits `debounce` seconds for more
changes (a burst of webhooks then costs one computation), but never longer than `max_delay`
after the first one, so a steady stream still refreshes the screen. Loading runs on the store's
read pool and the numpy work on a thread executor; only publishing happens on the loop.

Alert levels are remembered in the store (`alert_state`): the first computation starts from
the levels the last run left, and every change of level is written before the result is
published, so a restart does not announce every warning again as a new escalation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from app.insight.orders import order_intelligence
from app.insight.shop import compute_shop_insight
from app.insight.types import AlertLevel, OrderIntelligence, ShopInsight
from app.store.alerts import alert_levels, record_alert_levels
from app.store.errors import StorageError
from app.sync.database import Database
from app.sync.loader import ShopData, load_shop_data

__all__ = ["InsightResult", "InsightRunner", "compute"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InsightResult:
    shop_id: str
    insight: ShopInsight
    orders: OrderIntelligence
    escalated: tuple[str, ...]
    compute_ms: float


def compute(
    data: ShopData, previous: dict[str, AlertLevel]
) -> tuple[ShopInsight, OrderIntelligence]:
    """The pure part (runs on an executor thread)."""
    insight = compute_shop_insight(
        data.history,
        data.now,
        settings=data.settings,
        default=data.default,
        previous_levels=previous,
    )
    orders = order_intelligence(data.orders, data.now)
    return insight, orders


class InsightRunner:
    def __init__(
        self,
        db: Database,
        shop_id: str,
        now: Callable[[], float],
        on_result: Callable[[InsightResult], None],
        *,
        executor: Executor | None = None,
        debounce: float = 0.25,
        max_delay: float = 1.0,
    ) -> None:
        self._db = db
        self.shop_id = shop_id
        self._now = now
        self._on_result = on_result
        self._executor = executor
        self.debounce = debounce
        self.max_delay = max_delay
        self._dirty = asyncio.Event()
        self._first_dirty: float | None = None
        self.levels: dict[str, AlertLevel] = {}
        self._levels_loaded = False
        self.last: InsightResult | None = None
        self.runs = 0
        # sku_id -> (event time, hours left) of the first recomputation that found it critical:
        # the headless report checks that forecast against the sandbox's truth.
        self.first_critical: dict[str, tuple[float, float | None]] = {}

    def mark_dirty(self) -> None:
        if self._first_dirty is None:
            self._first_dirty = time.monotonic()
        self._dirty.set()

    async def run(self) -> None:
        while True:
            await self._dirty.wait()
            # Debounce: wait until changes pause, or max_delay after the first one. Not the
            # first computation: the dashboard waits for it at start (#15).
            while self.runs > 0:
                self._dirty.clear()
                first = self._first_dirty or time.monotonic()
                remaining = self.max_delay - (time.monotonic() - first)
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), min(self.debounce, remaining))
                if not self._dirty.is_set():
                    break
            self._first_dirty = None
            self._dirty.clear()
            try:
                await self.compute_now()
            except StorageError as exc:
                log.warning("insight not recomputed (%s); will retry on the next change", exc.kind)
            except Exception:
                log.exception("insight recompute failed; will retry on the next change")

    async def compute_now(self) -> InsightResult:
        started = time.perf_counter()
        now = self._now()
        if not self._levels_loaded:
            stored = await self._db.read(lambda s: alert_levels(s, self.shop_id))
            self.levels = stored
            self._levels_loaded = True
        data = await self._db.read(lambda s: load_shop_data(s, self.shop_id, now))
        loop = asyncio.get_running_loop()
        previous = dict(self.levels)
        insight, orders = await loop.run_in_executor(self._executor, compute, data, previous)
        escalated = tuple(
            item.sku_id
            for item in insight.skus
            if item.level.severity > previous.get(item.sku_id, AlertLevel.OK).severity
        )
        levels = insight.levels()
        changed = {
            sku_id: (level, "")
            for sku_id, level in levels.items()
            if previous.get(sku_id, AlertLevel.OK) != level
        }
        if changed:
            at = int(now)
            shop_id = self.shop_id
            await self._db.write(lambda s: record_alert_levels(s, shop_id, changed, at))
        self.levels = levels
        for item in insight.skus:
            if item.level is AlertLevel.CRITICAL and item.sku_id not in self.first_critical:
                self.first_critical[item.sku_id] = (now, item.forecast.hours_left)
        self.runs += 1
        result = InsightResult(
            self.shop_id, insight, orders, escalated, (time.perf_counter() - started) * 1000
        )
        self.last = result
        self._on_result(result)
        return result
