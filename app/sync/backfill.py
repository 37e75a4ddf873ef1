"""First-connection backfill: products, SKUs and stock, then the last 30 days of orders.

Everything goes through the client's low lane, so real-time work (the high and normal lanes)
never waits behind it. Progress (done/total, rate, time left) is reported after every page.
The 30-day window is cut into a few create_time ranges read concurrently (each one oldest
first), so the backfill runs at the pace of the rate limit rather than of one round trip at a
time. After each page, the page's orders and its range's highest `create_time` are committed
together, so after a crash or quit the next run resumes every range at its watermark
(re-reading the boundary second is harmless: upserts are idempotent) instead of starting over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.store.catalog import upsert_inventory, upsert_products
from app.store.orders import upsert_orders
from app.store.progress import get_watermark, set_watermark
from app.store.types import StockCause
from app.sync.database import Database
from app.sync.handlers import fetch_inventory
from app.sync.shops import ShopContext
from app.sync.state import BackfillProgress
from app.tiktok.client import TikTokShopClient
from app.tiktok.models import (
    InventoryProduct,
    InventorySearchResult,
    Order,
    OrderPage,
    Product,
)
from app.tiktok.ratelimit import Priority

__all__ = ["BACKFILL_DAYS", "Backfill", "BackfillResult"]

log = logging.getLogger(__name__)

BACKFILL_DAYS = 30
PRODUCTS_DONE = "backfill_products"
ORDERS_FROM = "backfill_orders"  # per slice (":i"): the create_time to resume from
ORDERS_SLICE_DONE = "backfill_slice_done"
ORDERS_UNTIL = "backfill_until"  # the fixed end of the window, chosen at the first run
ORDERS_DONE = "backfill_done"
ORDERS_RESOURCE = "orders"  # the reconciler's watermark


@dataclass(frozen=True)
class BackfillResult:
    products: int
    orders: int
    resumed: bool
    seconds: float
    touched: frozenset[str]


class _Meter:
    """done/total, items per second and time left for one phase.

    Time left is the larger of the pace so far and what the rate limit allows for the items
    still to fetch (`pace`: items per second the budget allows now). Why: the budget starts
    full, so the first pages come at once, and the pace so far alone promised the seller 8 s
    where 13 s were left at a tenth done (`python -m tests.benchmarks sync`, backfill part).
    """

    def __init__(
        self,
        phase: str,
        report: Callable[[BackfillProgress], None],
        total: int = 0,
        pace: Callable[[], float] | None = None,
    ) -> None:
        self.phase = phase
        self.report = report
        self.total = total
        self.pace = pace
        self.done = 0
        self.started = time.monotonic()

    def add(self, count: int) -> None:
        self.done += count
        self.total = max(self.total, self.done)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        remaining = self.total - self.done
        left = remaining / rate if rate > 0 else None
        allowed = self.pace() if self.pace is not None else 0.0
        if allowed > 0:
            left = max(left or 0.0, remaining / allowed)
        self.report(BackfillProgress(self.phase, self.done, self.total, rate, left, False))


class Backfill:
    def __init__(
        self,
        db: Database,
        api: TikTokShopClient,
        now: Callable[[], float],
        report: Callable[[BackfillProgress], None],
        *,
        days: int = BACKFILL_DAYS,
        page_size: int = 100,
        priority: Priority = Priority.LOW,
        slices: int = 4,
    ) -> None:
        self._db = db
        self._api = api
        self._now = now
        self._report = report
        self.days = days
        self.page_size = page_size
        self.priority = priority
        self.slices = slices

    async def done(self, shop_id: str) -> bool:
        return await self._db.read(lambda s: get_watermark(s, shop_id, ORDERS_DONE)) is not None

    async def run(self, ctx: ShopContext) -> BackfillResult:
        started = time.monotonic()
        shop = ctx.shop
        touched: set[str] = set()
        state = await self._db.read(lambda s: _state(s, shop.id))
        resumed = any(value is not None for value in state.values())
        if state[ORDERS_DONE] is not None:
            self._report(BackfillProgress("done", 0, 0, 0.0, 0.0, True))
            return BackfillResult(0, 0, True, 0.0, frozenset())
        products = 0
        if state[PRODUCTS_DONE] is None:
            products, skus = await self._products(ctx)
            touched |= skus
        now = self._now()
        until = state[ORDERS_UNTIL]
        if until is None:
            until = int(now) + 1
        start = int(until) - self.days * 86_400
        orders, order_skus = await self._orders(ctx, int(start), int(until))
        touched |= order_skus
        await self._stock_after_orders(ctx, order_skus)

        def finish(session: Session) -> None:
            set_watermark(session, shop.id, ORDERS_DONE, int(until), self._now())
            # Reconciliation takes over from where the backfill's window ended.
            if get_watermark(session, shop.id, ORDERS_RESOURCE) is None:
                set_watermark(session, shop.id, ORDERS_RESOURCE, int(until), self._now())

        await self._db.write(finish)
        seconds = time.monotonic() - started
        self._report(BackfillProgress("done", orders, orders, 0.0, 0.0, True))
        return BackfillResult(products, orders, resumed, seconds, frozenset(touched))

    async def _products(self, ctx: ShopContext) -> tuple[int, set[str]]:
        shop = ctx.shop
        meter = _Meter("products", self._report)
        count = 0
        touched: set[str] = set()
        token: str | None = None
        while True:
            page = await self._api.search_products_page(
                shop, page_size=self.page_size, page_token=token, priority=self.priority
            )
            meter.total = max(meter.total, page.total_count)
            batch: list[Product] = list(page.products)
            # Products report each warehouse's available units, which include units TikTok
            # allocated to campaigns and creators; Inventory Search says how many (see
            # app/store/catalog.py `upsert_inventory`), so the first stock shown is sellable.
            sku_ids = {sku.id for product in batch for sku in product.skus}
            inventory = await fetch_inventory(self._api, shop, sku_ids, self.priority)
            at = int(self._now())
            last = not page.next_page_token

            def commit(
                session: Session,
                batch: list[Product] = batch,
                last: bool = last,
                at: int = at,
                inventory: list[InventoryProduct] = inventory,
            ) -> None:
                upsert_products(session, shop.id, batch, at, StockCause.SYNC)
                if inventory:
                    result = InventorySearchResult(inventory=inventory)
                    upsert_inventory(session, shop.id, result, at, StockCause.SYNC)
                if last:
                    set_watermark(session, shop.id, PRODUCTS_DONE, at, self._now())

            await self._db.write(commit)
            touched.update(sku.id for product in batch for sku in product.skus)
            count += len(batch)
            meter.add(len(batch))
            if last:
                return count, touched
            token = page.next_page_token

    async def _stock_after_orders(self, ctx: ShopContext, sku_ids: set[str]) -> None:
        """Read again the stock of the SKUs the stored orders sell.

        The stock read with the products predates every order created while the orders were
        paged in, and an order stored here counts as seen when its webhook comes, which then
        re-reads no stock (`handlers.moves_stock`): without this read those SKUs kept the
        earlier, higher stock until the next reconciliation (1-5 SKUs one or two units high
        after a live benchmark's short storm). Every stored order predates this read, and any
        order after it is new to the webhook path, which re-reads its SKUs."""
        if not sku_ids:
            return
        inventory = await fetch_inventory(self._api, ctx.shop, sku_ids, self.priority)
        if not inventory:
            return
        at = int(self._now())

        def commit(session: Session) -> None:
            result = InventorySearchResult(inventory=inventory)
            upsert_inventory(session, ctx.shop.id, result, at, StockCause.SYNC)

        await self._db.write(commit)

    async def _orders(self, ctx: ShopContext, start: int, until: int) -> tuple[int, set[str]]:
        """The window is cut into `slices` create_time ranges paged concurrently: paging is
        sequential within a range (page tokens), so one range alone would run at the pace of
        a round trip plus parsing, not at the pace of the rate limit."""
        slices = max(1, self.slices)
        bounds = [start + (until - start) * i // slices for i in range(slices + 1)]
        meter = _Meter(
            "orders",
            self._report,
            pace=lambda: self._api.budget_rate(ctx.shop) * self.page_size,
        )
        states = await self._db.read(lambda s: _slice_state(s, ctx.id, slices))
        results = await asyncio.gather(
            *(
                self._slice(ctx, i, bounds[i], bounds[i + 1], until, states[i], meter)
                for i in range(slices)
            )
        )
        touched: set[str] = set()
        for _, skus in results:
            touched |= skus
        return sum(count for count, _ in results), touched

    async def _slice(
        self,
        ctx: ShopContext,
        index: int,
        low: int,
        high: int,
        until: int,
        state: tuple[int | None, int | None],
        meter: _Meter,
    ) -> tuple[int, set[str]]:
        """One create_time range, oldest first; the next page is fetched while the previous
        one is committed together with the range's resume point."""
        shop = ctx.shop
        resume, done = state
        if done is not None or low >= high:
            return 0, set()
        low = max(low, resume) if resume is not None else low
        filters = {"create_time_ge": low, "create_time_lt": high}
        count = 0
        touched: set[str] = set()
        mark = low
        resource = f"{ORDERS_FROM}:{index}"
        finished = f"{ORDERS_SLICE_DONE}:{index}"

        async def fetch(token: str | None) -> OrderPage:
            return await self._api.search_orders_page(
                shop,
                page_size=self.page_size,
                page_token=token,
                sort_field="create_time",
                sort_order="ASC",
                filters=filters,
                priority=self.priority,
            )

        page = await fetch(None)
        meter.total += page.total_count
        while True:
            orders = list(page.orders)
            if orders:
                mark = max(mark, max(order.create_time for order in orders))
            at = int(self._now())
            last = not page.next_page_token

            def commit(
                session: Session,
                orders: list[Order] = orders,
                resume_at: int = mark,
                at: int = at,
                last: bool = last,
            ) -> None:
                if orders:
                    upsert_orders(session, shop.id, orders, at)
                set_watermark(session, shop.id, resource, resume_at, self._now())
                set_watermark(session, shop.id, ORDERS_UNTIL, until, self._now())
                if last:
                    set_watermark(session, shop.id, finished, high, self._now())

            writing = asyncio.ensure_future(self._db.write(commit))
            following: asyncio.Future[OrderPage] | None = None
            if not last:
                following = asyncio.ensure_future(fetch(page.next_page_token))
            try:
                await writing
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            touched.update(item.sku_id for order in orders for item in order.line_items)
            count += len(orders)
            meter.add(len(orders))
            if following is None:
                return count, touched
            page = await following


def _slice_state(
    session: Session, shop_id: str, slices: int
) -> list[tuple[int | None, int | None]]:
    return [
        (
            get_watermark(session, shop_id, f"{ORDERS_FROM}:{i}"),
            get_watermark(session, shop_id, f"{ORDERS_SLICE_DONE}:{i}"),
        )
        for i in range(slices)
    ]


def _state(session: Session, shop_id: str) -> dict[str, int | None]:
    state = {
        name: get_watermark(session, shop_id, name)
        for name in (PRODUCTS_DONE, ORDERS_UNTIL, ORDERS_DONE)
    }
    state[ORDERS_FROM] = get_watermark(session, shop_id, f"{ORDERS_FROM}:0")
    return state
