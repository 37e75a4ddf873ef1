"""Reconciliation: webhooks can be lost, so polling stays the source of truth.

Each pass lists the orders updated since the last watermark minus an overlap (sorted by
`update_time`, through the normal lane), stores every one that is missing or older locally, and
re-reads the stock of every SKU. What it had to fix is counted: that number is how much the
real-time stream missed. The watermark moves in the same transaction as the orders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.store.catalog import product_ids, upsert_inventory, upsert_products
from app.store.orders import order_versions, upsert_orders
from app.store.progress import get_watermark, set_watermark
from app.store.types import StockCause
from app.sync.database import Database
from app.sync.shops import ShopContext
from app.tiktok.client import TikTokShopClient
from app.tiktok.models import InventorySearchResult, Order
from app.tiktok.ratelimit import Priority

__all__ = ["ORDERS_RESOURCE", "ReconcileResult", "Reconciler", "next_watermark"]

log = logging.getLogger(__name__)

ORDERS_RESOURCE = "orders"
MAX_INVENTORY_PRODUCTS = 100


@dataclass(frozen=True)
class ReconcileResult:
    orders_seen: int
    orders_corrected: int
    stock_corrected: int
    touched: frozenset[str]
    #: The orders written (new or rewritten), for insight to read in (#15).
    orders: frozenset[str] = frozenset()

    @property
    def corrected(self) -> int:
        return self.orders_corrected + self.stock_corrected


def next_watermark(watermark: int | None, orders: list[Order]) -> int | None:
    """The newest `update_time` actually observed, never the local clock.

    Our clock and TikTok's differ: a watermark taken from ours (when it runs ahead) would skip
    the orders TikTok updates between its time and ours. So a pass without orders keeps the
    old watermark, and a pass with orders moves it to the newest one seen (never backwards).
    """
    high = max((order.update_time for order in orders), default=None)
    if high is None:
        return watermark
    return high if watermark is None else max(watermark, high)


class Reconciler:
    def __init__(
        self,
        db: Database,
        api: TikTokShopClient,
        now: Callable[[], float],
        *,
        overlap: float = 300.0,
        priority: Priority = Priority.NORMAL,
    ) -> None:
        self._db = db
        self._api = api
        self._now = now
        self.overlap = overlap
        self.priority = priority

    async def run_once(self, ctx: ShopContext, *, full_stock: bool = True) -> ReconcileResult:
        shop = ctx.shop
        now = self._now()
        watermark = await self._db.read(lambda s: get_watermark(s, shop.id, ORDERS_RESOURCE))
        until = int(now) + 1
        filters: dict[str, int] = {"update_time_lt": until}
        if watermark is not None:
            filters["update_time_ge"] = max(0, int(watermark - self.overlap))
        orders: list[Order] = []
        async for order in self._api.iter_orders(
            shop,
            page_size=100,
            sort_field="update_time",
            sort_order="ASC",
            filters=filters,
            priority=self.priority,
        ):
            orders.append(order)
        ids = [order.id for order in orders]
        stored = await self._db.read(lambda s: order_versions(s, ids))
        corrected_orders = sum(
            1
            for order in orders
            if order.id not in stored or stored[order.id][0] < order.update_time
        )
        at = int(now)
        new_mark = next_watermark(watermark, orders)

        written: set[str] = set()

        def commit(session: Session) -> tuple[set[str], int]:
            touched: set[str] = set()
            written.clear()
            if orders:
                upsert = upsert_orders(session, shop.id, orders, at)
                touched.update(upsert.skus)
                written.update(upsert.inserted, upsert.updated)
            stock_fixed = 0
            if inventory is not None:
                changes = upsert_inventory(session, shop.id, inventory, at, StockCause.SYNC)
                stock_fixed = sum(1 for change in changes if change.before is not None)
                touched.update(change.sku_id for change in changes)
            if new_mark is not None:
                set_watermark(session, shop.id, ORDERS_RESOURCE, new_mark, now)
            return touched, stock_fixed

        inventory: InventorySearchResult | None = None
        # Stock has no version: its read and its commit happen under the shop's stock lock,
        # which the webhook path holds for the same span, so neither commits an older read
        # over a newer one.
        async with ctx.stock_lock:
            if full_stock:
                inventory = await self._all_inventory(ctx)
            touched, stock_fixed = await self._db.write(commit)
        if corrected_orders or stock_fixed:
            log.info(
                "reconciliation corrected %d orders and %d stock levels",
                corrected_orders,
                stock_fixed,
            )
        return ReconcileResult(
            len(orders), corrected_orders, stock_fixed, frozenset(touched), frozenset(written)
        )

    async def refresh_products(self, ctx: ShopContext) -> set[str]:
        """Re-read the whole catalogue (status, SKUs, prices, stock): after a `gap` a product
        event may be among what was missed, and orders polling does not cover products."""
        shop = ctx.shop
        async with ctx.stock_lock:  # products carry stock: same rule as `run_once`
            products = [
                product async for product in self._api.iter_products(shop, priority=self.priority)
            ]
            at = int(self._now())

            def commit(session: Session) -> set[str]:
                changes = upsert_products(session, shop.id, products, at, StockCause.SYNC)
                return {change.sku_id for change in changes}

            return await self._db.write(commit)

    async def _all_inventory(self, ctx: ShopContext) -> InventorySearchResult:
        shop_id = ctx.shop.id
        ids = await self._db.read(lambda s: product_ids(s, shop_id))
        result = []
        for start in range(0, len(ids), MAX_INVENTORY_PRODUCTS):
            part = ids[start : start + MAX_INVENTORY_PRODUCTS]
            found = await self._api.search_inventory(
                ctx.shop, product_ids=part, priority=self.priority
            )
            result.extend(found.inventory)
        return InventorySearchResult(inventory=result)
