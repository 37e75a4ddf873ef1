"""Recompute insight for a shop, debounced, off the event loop.

Every committed change marks the shop dirty; the runner waits `debounce` seconds for more
changes (a burst of webhooks then costs one computation), but never longer than `max_delay`
after the first one, so a steady stream still refreshes the screen. Loading runs on the store's
read pool and the numpy work on a thread executor; only publishing happens on the loop.

Incremental (#15): the runner keeps the shop's rows in memory (`loader.ShopCache`). A change
that says what it touched (`Touched`: the SKUs and orders a webhook wrote) is read in by those
orders and SKUs only, and only those SKUs are recomputed (with the few a growing video drives,
whose track record is weighed together) and merged into the last result; the SKUs left out keep
theirs. Every `refresh` seconds of event time the whole shop is recomputed from memory (time
moves every SKU's windows), and a change that does not say what it touched (backfill, settings,
video views) reads the whole shop again, as before.

Alert levels are remembered in the store (`alert_state`): the first computation starts from
the levels the last run left, and every change of level is written before the result is
published, so a restart does not announce every warning again as a new escalation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from app.insight.orders import order_intelligence
from app.insight.shop import compute_columns, materialize, merge_insight
from app.insight.types import AlertLevel, OrderIntelligence, ShopInsight
from app.store.alerts import alert_levels, record_alert_levels
from app.store.errors import StorageError
from app.sync.database import Database
from app.sync.loader import Reload, ShopCache, ShopData, Touched

__all__ = ["InsightResult", "InsightRunner", "compute"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InsightResult:
    shop_id: str
    insight: ShopInsight
    orders: OrderIntelligence
    escalated: tuple[str, ...]
    compute_ms: float
    #: How many SKUs this computation recomputed (all of them on a full one).
    recomputed: int = 0
    full: bool = True
    #: The thread the numbers were computed on (never the event loop's: the UI's, #15).
    thread: str = ""


def compute(
    data: ShopData, previous: dict[str, AlertLevel]
) -> tuple[ShopInsight, OrderIntelligence]:
    """The pure part of a full computation (runs on an executor thread)."""
    insight, orders, _viral = compute_part(data, previous, None)
    return insight, orders


def compute_part(
    data: ShopData, previous: dict[str, AlertLevel], sku_ids: frozenset[str] | None
) -> tuple[ShopInsight, OrderIntelligence, frozenset[str]]:
    """Insight for the SKUs `sku_ids` (every SKU with None), the order intelligence, and
    the SKUs among them a growing video drives (the "viral rows")."""
    history = data.history if sku_ids is None else data.history.only(sku_ids)
    columns = compute_columns(
        history, data.now, settings=data.settings, default=data.default, previous_levels=previous
    )
    insight = materialize(history, columns)
    viral = frozenset(
        history.skus[row].sku_id
        for row in (columns.viral.rows.tolist() if columns.viral is not None else [])
    )
    orders = (
        data.tally.result(data.now)
        if data.tally is not None
        else order_intelligence(data.orders, data.now)
    )
    return insight, orders, viral


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
        refresh: float = 60.0,
    ) -> None:
        self._db = db
        self.shop_id = shop_id
        self.now = now
        self.on_result = on_result
        self._lock = asyncio.Lock()
        self._executor = executor
        self.debounce = debounce
        self.max_delay = max_delay
        self.refresh = refresh
        self._cache: ShopCache | None = None
        self._pending = Touched()
        self._reload = True
        self._full_at = 0.0
        self._viral: frozenset[str] = frozenset()
        # sku_id -> the level its current result was computed from (hysteresis' input), so
        # a test can redo the computation of every SKU at once and compare.
        self.levels_before: dict[str, AlertLevel] = {}
        self._dirty = asyncio.Event()
        self._first_dirty: float | None = None
        self.levels: dict[str, AlertLevel] = {}
        self._levels_loaded = False
        self.last: InsightResult | None = None
        self.runs = 0
        self.partial_runs = 0  # computations of only the SKUs a change touched
        self.cache_reads = 0  # full reads of the shop into memory
        # sku_id -> (event time, hours left) of the first recomputation that found it critical:
        # the headless report checks that forecast against the sandbox's truth.
        self.first_critical: dict[str, tuple[float, float | None]] = {}

    def mark_dirty(self, touched: Touched | None = None) -> None:
        """Something changed: `touched` says what (None: anything, read the shop again)."""
        if touched is None:
            self._reload = True
        else:
            self._pending = self._pending | touched
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

    async def _bring_up_to_date(self, now: float) -> tuple[ShopCache, frozenset[str] | None]:
        """The held rows brought up to date for `now`, and the SKUs to recompute (None: all,
        after a full read)."""
        pending, reload = self._pending, self._reload
        self._pending, self._reload = Touched(), False
        cache = self._cache
        self._cache = None  # until it is known to be whole again
        if cache is not None and not reload and cache.covers(now):
            try:
                held = cache
                dirty = (
                    await self._db.read(lambda s: held.update(s, pending))
                    if not pending.empty
                    else frozenset()
                )
            except Reload as why:
                log.debug("insight reads the shop again: %s", why)
            else:
                self._cache = cache
                return cache, dirty
        cache = await self._db.read(lambda s: ShopCache.load(s, self.shop_id, now))
        self._cache = cache
        self.cache_reads += 1
        return cache, None

    @property
    def idle(self) -> bool:
        """No change waiting and no computation running."""
        return not self._dirty.is_set() and not self._lock.locked()

    async def compute_now(self) -> InsightResult:
        """One computation now (the run loop's, or a caller's: they take turns)."""
        async with self._lock:
            return await self._compute_now()

    async def _compute_now(self) -> InsightResult:
        started = time.perf_counter()
        now = self.now()
        if not self._levels_loaded:
            stored = await self._db.read(lambda s: alert_levels(s, self.shop_id))
            self.levels = stored
            self._levels_loaded = True
        cache, dirty = await self._bring_up_to_date(now)
        last = self.last
        if last is None or now - self._full_at >= self.refresh:
            dirty = None
        elif dirty is not None and len(dirty) >= len(cache.skus):
            dirty = None  # everything moved (views): a full computation, from memory
        part = None if dirty is None else dirty | self._viral
        loop = asyncio.get_running_loop()
        previous = dict(self.levels)

        def work() -> tuple[ShopInsight, ShopInsight, OrderIntelligence, frozenset[str], str]:
            cache.advance(now)
            computed, orders, viral = compute_part(cache.data(now), previous, part)
            # The merge sorts every SKU: here too, not on the event loop (the UI thread).
            merged = (
                computed if part is None or last is None else merge_insight(last.insight, computed)
            )
            return merged, computed, orders, viral, threading.current_thread().name

        try:
            insight, computed, orders, viral, thread = await loop.run_in_executor(
                self._executor, work
            )
        except BaseException:
            # The held rows are up to date but these SKUs were not recomputed: the next run
            # must not take them for done (read and recompute the whole shop then).
            self._reload = True
            raise
        if part is not None:
            self.partial_runs += 1
        if part is None or last is None:
            self._viral = viral
            self._full_at = now
            self.levels_before = {item.sku_id: previous.get(item.sku_id, AlertLevel.OK)
                                  for item in computed.skus}  # fmt: skip
        else:
            self._viral = (self._viral - part) | viral
            self.levels_before.update(
                (item.sku_id, previous.get(item.sku_id, AlertLevel.OK)) for item in computed.skus
            )
        escalated = tuple(
            item.sku_id
            for item in computed.skus
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
        for item in computed.skus:
            if item.level is AlertLevel.CRITICAL and item.sku_id not in self.first_critical:
                self.first_critical[item.sku_id] = (now, item.forecast.hours_left)
        self.runs += 1
        result = InsightResult(
            self.shop_id,
            insight,
            orders,
            escalated,
            (time.perf_counter() - started) * 1000,
            len(computed.skus),
            part is None,
            thread,
        )
        self.last = result
        self.on_result(result)
        return result
