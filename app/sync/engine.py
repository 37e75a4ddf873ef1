"""The sync engine: one object that keeps a live, exact local picture of the shops.

It composes the parts (each in its own module) and owns their tasks:
- backfill on first connection (low lane, resumable);
- the relay consumer feeding the webhook handlers (real time, cursor + data in one commit);
- reconciliation on a schedule (orders by update_time with overlap, stock), and on `gap`;
- video and affiliate polling (attribution inputs);
- insight recomputed, debounced, off the loop;
- the published state (`Publisher`), which the UI and the headless report read.

No Qt here: the desktop wires `publisher` to signals, the headless mode reads it directly.
The clock is injected (`Clock`): the sandbox's simulated clock in the demo, the wall clock for
real shops. Scheduling intervals are real seconds (they pace our work), data windows are shop
time (they select TikTok's data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from app.insight.types import AlertLevel
from app.store.catalog import SkuStock, current_stock, upsert_shop
from app.store.errors import StorageError
from app.store.metrics import prune_api_calls, record_api_calls
from app.store.webhooks import prune_webhooks
from app.sync.backfill import Backfill, BackfillResult
from app.sync.clock import Clock
from app.sync.consumer import RelayConsumer
from app.sync.counters import SyncCounters
from app.sync.database import Database
from app.sync.handlers import WebhookSink
from app.sync.insights import InsightResult, InsightRunner
from app.sync.loader import OrderTotals, Touched, load_order_totals
from app.sync.reconcile import Reconciler, ReconcileResult
from app.sync.shops import RequestCounter, ShopContext
from app.sync.state import (
    BackfillProgress,
    ChangeKind,
    LinkState,
    LinkStatus,
    Publisher,
    ShopRef,
    ShopSnapshot,
)
from app.sync.videos import VideoPoller
from app.tiktok.backoff import Backoff
from app.tiktok.client import TikTokShopClient
from app.tiktok.errors import ReauthorizationRequired, TikTokError
from app.tiktok.models import Shop

__all__ = ["EngineSettings", "RelayLink", "SyncEngine"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayLink:
    """Where the relay stream is and the subscriber token that opens it."""

    stream_url: str
    token: str

    def __repr__(self) -> str:
        return f"RelayLink(stream_url={self.stream_url!r}, token=<redacted>)"


@dataclass(frozen=True)
class EngineSettings:
    # Real seconds between scheduled passes.
    reconcile_interval: float = 60.0
    video_interval: float = 30.0
    metrics_interval: float = 0.5
    # Real seconds between stores of the API call log and prunes of old rows.
    housekeeping_interval: float = 10.0
    # Processed webhooks and API call rows older than this (wall seconds) are deleted; at least
    # the relay's dedupe retention (48 h), so a redelivered notification is still recognised.
    retention: float = 7 * 86400.0
    # Cap of the backoff of scheduled work that keeps failing (e.g. while the disk is full).
    failure_backoff_cap: float = 300.0
    # Shop seconds of overlap when polling orders by update_time.
    reconcile_overlap: float = 300.0
    # A burst of changes waits this long for a pause, at most max_delay after its first.
    # Shorter (0.1 / 0.3 s) was tried on the 1M shop's storm (#15): more computations, more
    # contention for the two cores and the GIL; the UI's lag and webhook -> screen got worse.
    insight_debounce: float = 0.25
    insight_max_delay: float = 1.0
    # Seconds of event time after which the whole shop is recomputed (from memory) even when
    # the changes named only a few SKUs: time moves every SKU's windows (#15).
    insight_refresh: float = 60.0
    backfill: bool = True
    backfill_days: int = 30
    # A SKU is "hot" (its orders go to the high lane) when its alert is not ok, or when its
    # fast rate is this many times its 24 h rate (and at least `hot_min_rate` units/hour).
    hot_ratio: float = 2.0
    hot_min_rate: float = 2.0


class SyncEngine:
    def __init__(
        self,
        *,
        db: Database,
        api: TikTokShopClient,
        shops: Sequence[Shop],
        clock: Clock,
        relay: RelayLink | None = None,
        publisher: Publisher | None = None,
        requests: RequestCounter | None = None,
        settings: EngineSettings | None = None,
    ) -> None:
        self.db = db
        self.api = api
        self.clock = clock
        self.settings = settings or EngineSettings()
        self.publisher = publisher or Publisher()
        self.requests = requests or RequestCounter()
        self.counters = SyncCounters()
        self.shops: dict[str, ShopContext] = {shop.id: ShopContext(shop) for shop in shops}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="viralstock-insight")
        self._tasks: list[asyncio.Task[Any]] = []
        self._backfill_task: asyncio.Task[Any] | None = None
        self.backfill_results: dict[str, BackfillResult] = {}
        self.backfill_done = asyncio.Event()
        s = self.settings
        self.sink = WebhookSink(
            db,
            api,
            self.shops,
            clock.now,
            self.counters,
            on_changed=self._changed,
            on_link=self._api_link,
            resync=self.resync,
        )
        self.reconciler = Reconciler(db, api, clock.now, overlap=s.reconcile_overlap)
        self.videos = VideoPoller(db, api, clock.now)
        self.backfill = Backfill(
            db, api, clock.now, self._backfill_progress_for_all, days=s.backfill_days
        )
        self.insights = {
            shop_id: InsightRunner(
                db,
                shop_id,
                clock.now,
                self._insight_result,
                executor=self._executor,
                debounce=s.insight_debounce,
                max_delay=s.insight_max_delay,
                refresh=s.insight_refresh,
            )
            for shop_id in self.shops
        }
        self.consumer: RelayConsumer | None = None
        if relay is not None:
            self.consumer = RelayConsumer(
                relay.stream_url,
                relay.token,
                list(self.shops),
                self.sink,
                on_state=self._relay_link,
            )
        now = clock.now()
        for ctx in self.shops.values():
            self.publisher.ensure_shop(ShopRef(ctx.id, ctx.shop.name), now)
        db.on_storage(self._storage_link)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Store the shops, then run every part in the background."""
        now = int(self.clock.now())
        shops = [ctx.shop for ctx in self.shops.values()]

        def store_shops(session: Session) -> None:
            for shop in shops:
                upsert_shop(session, shop, now)

        await self.db.write(store_shops)
        self._storage_link(None)
        await self.sink.load_cursors()
        for ctx in self.shops.values():
            self._api_link(ctx.id, LinkState.CONNECTING, "", None)
        self._backfill_task = self._spawn(self._backfill_all(), "backfill")
        # However it ends: a task cancelled before its first step never runs its `finally`,
        # and the scheduled work below waits on this.
        self._backfill_task.add_done_callback(lambda _task: self.backfill_done.set())
        if self.consumer is not None:
            self._spawn(self.consumer.run(), "relay-consumer")
        for runner in self.insights.values():
            self._spawn(runner.run(), f"insight-{runner.shop_id}")
            runner.mark_dirty()
        self._spawn(self._every(self.settings.reconcile_interval, self._reconcile_all), "reconcile")
        self._spawn(self._every(self.settings.video_interval, self._videos_all), "videos")
        self._spawn(self._every(self.settings.metrics_interval, self._publish_metrics), "metrics")
        self._spawn(
            self._every(self.settings.housekeeping_interval, self._housekeeping), "housekeeping"
        )

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._executor.shutdown(wait=True)
        for ctx in self.shops.values():
            self._api_link(ctx.id, LinkState.STOPPED, "", None)

    async def drain_and_reconcile(self, quiet: float = 0.5, limit: float = 60.0) -> None:
        """The end of a run: let the relay stream go quiet, then reconcile every shop and
        recompute insight, so the local picture is complete as of the clock's current time."""
        await self.backfill_done.wait()
        if self.consumer is not None:
            await self.consumer.drained(quiet=quiet, limit=limit)
        for ctx in self.shops.values():
            if ctx.deauthorized:
                continue
            await self._reconcile(ctx)
            with contextlib.suppress(TikTokError):
                polled = await self.videos.run_once(ctx)
                if polled.views_moved or polled.attributions:
                    self._changed(
                        ctx.id, Touched(orders=polled.orders, views=bool(polled.views_moved))
                    )
        if self.consumer is not None:
            await self.consumer.drained(quiet=0.05, limit=limit)
        for runner in self.insights.values():
            await runner.compute_now()
        await self._publish_metrics()

    async def resync(self, shop_id: str) -> None:
        """The relay no longer holds what we missed (`gap`): re-read the shop via the API."""
        ctx = self.shops.get(shop_id)
        if ctx is None or ctx.deauthorized:
            return
        log.info("relay reported a gap; resyncing the shop through the Open API")
        try:
            await self.reconciler.refresh_products(ctx)
        except ReauthorizationRequired:
            self._deauthorized(ctx.id)
            return
        except TikTokError as exc:
            self._api_link(ctx.id, LinkState.ERROR, type(exc).__name__, None)
            raise
        self._changed(ctx.id)
        await self._reconcile(ctx)

    # --- reading ---------------------------------------------------------------------------

    def snapshot(self, shop_id: str) -> ShopSnapshot:
        return self.publisher.snapshot(shop_id)

    async def order_totals(self, shop_id: str) -> OrderTotals:
        return await self.db.read(lambda s: load_order_totals(s, shop_id))

    async def report(self) -> dict[str, Any]:
        """The headless report (issue 6's schema), from the store and the latest insight."""
        shops: list[dict[str, Any]] = []
        skus: list[dict[str, Any]] = []
        count = 0
        revenue: Any = 0
        video_revenue: Any = 0
        for ctx in self.shops.values():
            shops.append({"id": ctx.id, "name": ctx.shop.name})
            stock = await self.db.read(partial(_stock, shop_id=ctx.id))
            runner = self.insights[ctx.id]
            by_sku = runner.last.insight.by_sku if runner.last else {}
            for row in stock:
                item = by_sku.get(row.sku_id)
                critical_at, critical_hours = runner.first_critical.get(row.sku_id, (None, None))
                skus.append(
                    {
                        "sku_id": row.sku_id,
                        "product_id": row.product_id,
                        "product_name": row.product_title,
                        "available": row.quantity,
                        "velocity_per_hour": _round(item.velocity.ewma_per_hour if item else 0.0),
                        "hours_left": _round(item.forecast.hours_left) if item else None,
                        "alert_level": item.level.value if item else AlertLevel.OK.value,
                        "reorder_quantity": item.reorder.quantity if item else 0,
                        "viral_video_id": (
                            item.attribution.video_id if item and item.attribution else None
                        ),
                        # The first critical alert: when (event time) and the hours left then.
                        "first_critical_at": critical_at,
                        "first_critical_hours_left": _round(critical_hours),
                    }
                )
            totals = await self.order_totals(ctx.id)
            count += totals.count
            revenue += totals.revenue
            video_revenue += totals.video_revenue
        metrics = self._metrics()
        return {
            "shops": shops,
            "skus": skus,
            "orders": {
                "count": count,
                "revenue": str(revenue),
                "viral_revenue_share": (
                    round(float(video_revenue / revenue), 6) if revenue else 0.0
                ),
            },
            "sync": {
                "webhooks_received": metrics.webhooks_received,
                "webhooks_applied": metrics.webhooks_applied,
                "duplicates_ignored": metrics.duplicates_ignored,
                "reconciled": metrics.reconciled,
                "api_requests": metrics.api_requests,
                "api_429s": metrics.api_429s,
                "webhook_to_store_ms_p50": _round(metrics.webhook_to_store_ms_p50),
                "webhook_to_store_ms_p99": _round(metrics.webhook_to_store_ms_p99),
            },
        }

    # --- background work -------------------------------------------------------------------

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        return task

    def cancel_backfill(self) -> bool:
        """Cancel the running first sync (it resumes from its watermarks at the next start).
        True when there was one to cancel."""
        task = self._backfill_task
        if task is None or task.done():
            return False
        task.cancel()
        return True

    @staticmethod
    def _task_done(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("sync task %s failed", task.get_name(), exc_info=task.exception())

    async def _every(self, interval: float, work: Any) -> None:
        """Run `work` every `interval` s; while it keeps failing, wait twice as long each time
        (up to `failure_backoff_cap`), so a full disk or a TikTok outage is not hammered."""
        await self.backfill_done.wait()
        cap = max(interval, self.settings.failure_backoff_cap)
        pause = Backoff(base=interval, cap=cap, jitter=False)
        failures = 0
        while True:
            await pause.wait(failures)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except StorageError as exc:
                failures += 1
                log.warning("scheduled sync work paused: %s (%s)", exc.text, exc.kind)
            except Exception:
                failures += 1
                if failures == 1:
                    log.exception("scheduled sync work failed; retrying with backoff")
                else:
                    log.warning("scheduled sync work failed again; retrying with backoff")
            else:
                failures = 0

    async def _housekeeping(self) -> None:
        """Store the API call log (path only, never the query) and prune what is past
        `retention`: processed webhooks and old API call rows."""
        calls = self.requests.take_calls()
        cutoff = time.time() - self.settings.retention

        def work(session: Session) -> None:
            record_api_calls(session, calls)
            prune_webhooks(session, cutoff)
            prune_api_calls(session, cutoff)

        try:
            await self.db.write(work)
        except Exception:
            self.requests.restore_calls(calls)
            raise

    async def _backfill_all(self) -> None:
        try:
            for ctx in self.shops.values():
                if not self.settings.backfill:
                    break
                try:
                    result = await self.backfill.run(ctx)
                except ReauthorizationRequired:
                    self._deauthorized(ctx.id)
                    continue
                except TikTokError as exc:
                    # Resumable: the next start continues from the stored watermarks.
                    log.warning("backfill stopped: %s", type(exc).__name__)
                    self._api_link(ctx.id, LinkState.ERROR, type(exc).__name__, None)
                    continue
                self.backfill_results[ctx.id] = result
                self._api_link(ctx.id, LinkState.CONNECTED, "", None)
                self._changed(ctx.id)
            for ctx in self.shops.values():
                if not ctx.deauthorized:
                    with contextlib.suppress(TikTokError):
                        await self.videos.run_once(ctx, full=True)
                    self._api_link(ctx.id, LinkState.CONNECTED, "", None)
                    self._changed(ctx.id)
        finally:
            self.backfill_done.set()

    async def _reconcile_all(self) -> None:
        for ctx in self.shops.values():
            if not ctx.deauthorized:
                await self._reconcile(ctx)

    async def _reconcile(self, ctx: ShopContext) -> ReconcileResult | None:
        try:
            result = await self.reconciler.run_once(ctx)
        except ReauthorizationRequired:
            self._deauthorized(ctx.id)
            return None
        except TikTokError as exc:
            # The client already retried what can be retried: show it, try again next time.
            self._api_link(ctx.id, LinkState.ERROR, type(exc).__name__, None)
            raise
        self._api_link(ctx.id, LinkState.CONNECTED, "", None)
        self.counters.reconciled += result.corrected
        self.counters.last_sync_at = self.clock.now()
        if result.corrected or result.touched or result.orders:
            self._changed(ctx.id, Touched(result.touched, result.orders))
        return result

    async def _videos_all(self) -> None:
        for ctx in self.shops.values():
            if not ctx.deauthorized:
                result = await self.videos.run_once(ctx)
                if result.attributions or result.views_moved:
                    # The credited orders and the views read in; views move every SKU's
                    # correlation, so then the shop is recomputed (from memory).
                    self._changed(
                        ctx.id, Touched(orders=result.orders, views=bool(result.views_moved))
                    )

    # --- publishing ------------------------------------------------------------------------

    def _metrics(self) -> Any:
        depth = self.consumer.queue_depth if self.consumer is not None else 0
        if self.consumer is not None:
            self.counters.reconnects = max(0, self.consumer.connects - 1)
        failures = self.consumer.apply_failures if self.consumer is not None else 0
        return self.counters.metrics(
            self.requests.requests, self.requests.rate_limited, depth, failures
        )

    async def _publish_metrics(self) -> None:
        metrics = self._metrics()
        now = self.clock.now()
        for shop_id in self.shops:
            if self.publisher.snapshot(shop_id).metrics != metrics:
                self.publisher.update(shop_id, ChangeKind.METRICS, now, metrics=metrics)

    def _changed(self, shop_id: str, touched: Touched | None = None) -> None:
        """The shop's data changed: recompute its insight (debounced). `touched` names the
        SKUs and orders written, and only those are read in and recomputed; without it the
        shop is read again whole (backfill, resync, video views)."""
        runner = self.insights.get(shop_id)
        if runner is not None:
            runner.mark_dirty(touched)

    def _insight_result(self, result: InsightResult) -> None:
        insight = result.insight
        ctx = self.shops[result.shop_id]
        s = self.settings
        ctx.hot_skus = {
            item.sku_id
            for item in insight.skus
            if item.level is not AlertLevel.OK
            or (
                item.velocity.ewma_per_hour >= s.hot_min_rate
                and item.velocity.ewma_per_hour >= s.hot_ratio * item.velocity.per_hour_24h
            )
        }
        now = self.clock.now()
        self.publisher.update(
            result.shop_id,
            ChangeKind.INSIGHT,
            now,
            skus=insight.skus,
            orders=result.orders,
            order_count=result.orders.order_count,
            revenue=result.orders.revenue,
            insight_at=insight.computed_at,
        )
        if result.escalated:
            self.publisher.update(result.shop_id, ChangeKind.ALERT, now, sku_ids=result.escalated)

    def _backfill_progress_for_all(self, progress: BackfillProgress) -> None:
        now = self.clock.now()
        for shop_id in self.shops:
            self.publisher.update(shop_id, ChangeKind.BACKFILL, now, backfill=progress)

    def _api_link(
        self, shop_id: str, state: LinkState, detail: str, expires_at: float | None
    ) -> None:
        current = self.publisher.snapshot(shop_id).api
        if current.state is LinkState.DEAUTHORIZED and state is not LinkState.STOPPED:
            return  # only re-authorizing clears it (a new engine)
        if current.state is LinkState.EXPIRING and state is LinkState.CONNECTED:
            return  # still connected, but the warning stays until re-authorized
        status = LinkStatus(state, detail, self.clock.now(), expires_at)
        if status.state != current.state or status.expires_at != current.expires_at:
            self.publisher.update(shop_id, ChangeKind.CONNECTION, status.since, api=status)

    def _storage_link(self, error: StorageError | None) -> None:
        """Publish the database's state: what the user must fix (e.g. free disk space)."""
        now = self.clock.now()
        if error is None:
            status = LinkStatus(LinkState.CONNECTED, "", now)
        else:
            status = LinkStatus(LinkState.ERROR, error.text, now)
        for shop_id in self.shops:
            current = self.publisher.snapshot(shop_id).storage
            if current.state != status.state or current.detail != status.detail:
                self.publisher.update(shop_id, ChangeKind.CONNECTION, now, storage=status)

    def _deauthorized(self, shop_id: str) -> None:
        self.shops[shop_id].deauthorized = True
        self._api_link(shop_id, LinkState.DEAUTHORIZED, "authorization revoked", None)

    def _relay_link(self, state: LinkState, detail: str) -> None:
        now = self.clock.now()
        for shop_id in self.shops:
            current = self.publisher.snapshot(shop_id).relay
            if current.state != state or current.detail != detail:
                self.publisher.update(
                    shop_id, ChangeKind.CONNECTION, now, relay=LinkStatus(state, detail, now)
                )


def _stock(session: Session, shop_id: str) -> list[SkuStock]:
    return current_stock(session, shop_id)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)
