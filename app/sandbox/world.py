"""The scenario engine: a discrete-event simulation of one or more shops.

Every random draw comes from one `random.Random` seeded from the run's seed, and events run in
(time, sequence) order from a heap, so the world at simulated time T is the same whether it got
there in one jump or in a thousand ticks: two runs with one seed produce the same orders. API
calls (shipping a package, updating stock) change the world like a seller would, at the
current simulated time, and never draw from the scenario's random stream.

All state lives behind `World.lock`; callers hold it while reading or changing anything.
"""

from __future__ import annotations

import heapq
import math
import random
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from app.sandbox.catalog import ViralPlan, build_catalog
from app.sandbox.config import SandboxConfig
from app.sandbox.curves import SHAPES
from app.sandbox.state import (
    LineItemState,
    OrderState,
    PackageState,
    ProductState,
    ShopState,
    SkuState,
    VideoState,
)

__all__ = ["LOW_STOCK", "Notify", "World"]

Notify = Callable[[str, int, dict[str, Any]], None]

HOUR = 3_600.0
DAY = 86_400.0
LOW_STOCK = 10
SHIPPING_PROVIDER_ID = "6617675021119438849"
SHIPPING_PROVIDER_NAME = "USPS"
_WEBHOOK_STATUS = {"CANCELLED": "CANCEL"}  # the webhook vocabulary differs (api.md 6.4)


def _logistic(x: float) -> float:
    if x < -60:
        return 0.0
    if x > 60:
        return 1.0
    return 1.0 / (1.0 + math.exp(-x))


def _shape_grid(shape: str, params: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A family shape's (grid hours, cumulative share, density / peak) over 48 hours."""
    grid = np.arange(0.0, 48.0, 0.01)
    density = SHAPES[shape](grid, params)
    cumulative = np.cumsum(density) * 0.01
    return grid, cumulative / max(float(cumulative[-1]), 1e-12), density / float(density.max())


def seasonality(t: float) -> float:
    """Daily demand multiplier in [0.3, 1.7], peaking at 20:00 shop time (UTC)."""
    hour = (t % DAY) / HOUR
    return 1.0 + 0.7 * math.cos(2.0 * math.pi * (hour - 20.0) / 24.0)


class World:
    """Shops, catalog, orders and packages, advanced lazily to the simulated clock."""

    def __init__(self, config: SandboxConfig, notify: Notify | None = None) -> None:
        self.config = config
        self.lock = threading.RLock()
        catalog = build_catalog(config)
        self.shops: dict[str, ShopState] = {shop.id: shop for shop in catalog.shops}
        self.shop_by_cipher = {shop.cipher: shop for shop in catalog.shops}
        self.products: dict[str, ProductState] = catalog.products
        self.skus: dict[str, SkuState] = catalog.skus
        self.videos: dict[str, VideoState] = catalog.videos
        self.viral: ViralPlan | None = catalog.viral
        # For a family-shaped scenario: (hours since onset, share of the views gained,
        # order intensity relative to the peak) on a grid.
        self._shape: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if self.viral is not None and self.viral.shape != "logistic":
            self._shape = _shape_grid(self.viral.shape, self.viral.params)
        self.orders: dict[str, OrderState] = {}
        self.orders_by_shop: dict[str, list[OrderState]] = {sid: [] for sid in self.shops}
        self.packages: dict[str, PackageState] = {}
        self.packages_by_shop: dict[str, list[PackageState]] = {sid: [] for sid in self.shops}
        self.notify: Notify = notify or (lambda shop_id, kind, data: None)
        self.now = config.epoch
        self.lost_demand = 0
        self._rng = random.Random(f"viralstock-sandbox:{config.seed}:events")
        self._heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self._seq = 0
        self._counters: dict[str, int] = {}
        self._pick: dict[str, tuple[list[str], list[float]]] = {}
        self._video_of_product: dict[str, VideoState] = {}
        for video in sorted(self.videos.values(), key=lambda v: v.id):
            if not video.viral:
                self._video_of_product.setdefault(video.product_id, video)
        for shop_id in self.shops:
            ids = [sku.id for sku in self.skus.values() if sku.shop_id == shop_id]
            weights = [self.skus[sku_id].popularity for sku_id in ids]
            self._pick[shop_id] = (ids, weights)
            self._schedule(self.now, "arrival", shop_id)
            self._schedule(self.now + self._rng.uniform(6, 14) * HOUR, "product_pause", shop_id)
        for sku in self.skus.values():
            # Every fifth SKU (by id, no draw from the scenario stream) has units allocated to
            # a campaign and to creators, which TikTok reports but shoppers cannot buy.
            if int(sku.id) % 5 == 0 and sku.total_available >= 40:
                sku.campaign_reserved, sku.creator_reserved = 5, 3
            sku.inventory_status = self._stock_status(sku)
            if sku.sellable == 0:
                sku.stockout_at = sku.out_of_stock_since = int(self.now)
        if self.viral is not None:
            self._schedule(self.viral.onset, "viral_arrival", self.viral.shop_id)

    # --- clock ---------------------------------------------------------------------------------

    def advance_to(self, t: float) -> None:
        """Run every event due at or before simulated time `t` (callers hold the lock)."""
        heap = self._heap
        while heap and heap[0][0] <= t:
            when, _, kind, args = heapq.heappop(heap)
            self.now = when
            getattr(self, "_on_" + kind)(*args)
        if t > self.now:
            self.now = t

    def _schedule(self, when: float, kind: str, *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, args))

    def next_id(self, kind: str, prefix: str) -> str:
        """Deterministic TikTok-looking ids: a per-kind counter behind a fixed prefix."""
        count = self._counters.get(kind, 0) + 1
        self._counters[kind] = count
        return f"{prefix}{count * 7_919 + 104_729:0{19 - len(prefix)}d}"

    # --- webhooks ------------------------------------------------------------------------------

    def _order_webhook(self, order: OrderState) -> None:
        self.notify(
            order.shop_id,
            1,
            {
                "order_id": order.id,
                "order_status": _WEBHOOK_STATUS.get(order.status, order.status),
                "is_on_hold_order": order.on_hold,
                "update_time": order.update_time,
            },
        )

    def _set_status(self, order: OrderState, status: str) -> None:
        order.status = status
        order.update_time = int(self.now)
        self._order_webhook(order)

    # --- stock ---------------------------------------------------------------------------------

    @staticmethod
    def _stock_status(sku: SkuState) -> str:
        total = sku.sellable
        if total <= 0:
            return "OUT_OF_STOCK"
        return "LOW_STOCK" if total <= LOW_STOCK else "SUFFICIENT_STOCK"

    def set_stock(self, sku_id: str, warehouse_id: str, quantity: int) -> None:
        """The seller sets a SKU's stock in one warehouse in Seller Center."""
        sku = self.skus[sku_id]
        sku.available[warehouse_id] = quantity
        self.products[sku.product_id].update_time = int(self.now)
        self.stock_changed(sku)

    def stock_changed(self, sku: SkuState, reason: str = "REALTIME") -> None:
        """Keeps stock-out times and the inventory status (webhook 27) in step with stock."""
        now = int(self.now)
        total = sku.sellable
        if total <= 0:
            if sku.out_of_stock_since is None:
                sku.out_of_stock_since = now
            if sku.stockout_at is None:
                sku.stockout_at = now
            if not sku.restock_pending:
                sku.restock_pending = True
                # No draw from the scenario stream here: an API call can empty a SKU too.
                viral = self.viral is not None and sku.id in self.viral.sku_ids
                delay = 2 * DAY if viral else (1 + (int(sku.id) % 997) / 997) * DAY
                self._schedule(self.now + delay, "restock", sku.id)
        else:
            sku.out_of_stock_since = None
        status = self._stock_status(sku)
        if status != sku.inventory_status:
            sku.inventory_status = status
            self.notify(
                sku.shop_id,
                27,
                {
                    "product_id": sku.product_id,
                    "sku_id": sku.id,
                    "current_inventory_status": status,
                    "trigger_reason": {"alert_type": reason},
                    # total = available + creator + campaign reserved + committed (type 27 page)
                    "inventory_distribution": {
                        "total_quantity": total + sku.reserved + sku.total_committed,
                        "available_quantity": total,
                        "creator_reserved_quantity": sku.creator_reserved,
                        "campaign_reserved_quantity": sku.campaign_reserved,
                        "committed_quantity": sku.total_committed,
                    },
                    "update_time": now,
                },
            )

    def _take_unit(self, sku: SkuState) -> str | None:
        if sku.sellable <= 0:  # what is left is allocated to a campaign or creators
            return None
        best: str | None = None
        for warehouse_id, quantity in sku.available.items():
            if quantity > 0 and (best is None or quantity > sku.available[best]):
                best = warehouse_id
        if best is not None:
            sku.available[best] -= 1
            sku.committed[best] += 1
            sku.units_sold += 1
        return best

    def _release_units(self, order: OrderState) -> None:
        touched: dict[str, SkuState] = {}
        for item in order.line_items:
            sku = self.skus[item.sku_id]
            if not order.shipped:
                sku.committed[item.warehouse_id] -= 1
                sku.available[item.warehouse_id] += 1
            sku.units_sold -= 1
            touched[sku.id] = sku
        for sku in touched.values():
            self.stock_changed(sku)

    # --- views ---------------------------------------------------------------------------------

    def views(self, video: VideoState, t: float) -> int:
        if t < video.post_time:
            return 0
        value = video.base_views + video.views_per_second * (t - video.post_time)
        plan = self.viral
        if plan is not None and video.id == plan.video_id and t > plan.onset:
            if self._shape is not None:
                share = float(np.interp((t - plan.onset) / HOUR, *self._shape[:2]))
                return int(value + plan.max_views * share)
            start = _logistic((plan.onset - plan.midpoint) / plan.tau)
            value += plan.max_views * (_logistic((t - plan.midpoint) / plan.tau) - start)
        return int(value)

    # --- orders --------------------------------------------------------------------------------

    def _place(
        self, shop_id: str, wanted: list[SkuState], attribution: tuple[str, str, str] | None
    ) -> OrderState | None:
        now = int(self.now)
        order_id = self.next_id("order", "5764")
        items: list[LineItemState] = []
        touched: dict[str, SkuState] = {}
        for sku in wanted:
            if self.products[sku.product_id].status != "ACTIVATE":
                continue
            warehouse_id = self._take_unit(sku)
            if warehouse_id is None:
                continue
            touched[sku.id] = sku
            items.append(
                LineItemState(
                    id=self.next_id("line_item", "5765"),
                    sku_id=sku.id,
                    product_id=sku.product_id,
                    warehouse_id=warehouse_id,
                    sale_price=sku.price,
                    original_price=sku.price,
                )
            )
        if not items:
            self.lost_demand += 1
            return None
        order = OrderState(
            id=order_id,
            shop_id=shop_id,
            status="UNPAID",
            create_time=now,
            update_time=now,
            user_id=f"7494{self._rng.randrange(10**15):015d}",
            line_items=items,
            warehouse_id=items[0].warehouse_id,
            shipping_fee=Decimal("0.00") if len(items) > 1 else Decimal("3.99"),
        )
        if attribution is not None:
            order.content_type, order.content_id, order.creator_username = attribution
        self.orders[order.id] = order
        self.orders_by_shop[shop_id].append(order)
        self._order_webhook(order)
        for sku in touched.values():
            self.stock_changed(sku)
        if self._rng.random() < 0.03:
            self._schedule(self.now + 2 * HOUR, "unpaid_timeout", order.id)
        else:
            self._schedule(self.now + self._rng.uniform(20, 600), "pay", order.id)
        return order

    def _on_arrival(self, shop_id: str) -> None:
        rate_max = self.config.orders_per_hour * 1.7 / HOUR
        self._schedule(self.now + self._rng.expovariate(rate_max), "arrival", shop_id)
        if self._rng.random() >= seasonality(self.now) / 1.7:
            return
        ids, weights = self._pick[shop_id]
        sku = self.skus[self._rng.choices(ids, weights)[0]]
        roll = self._rng.random()
        wanted = [sku] * (1 if roll < 0.8 else 2 if roll < 0.95 else 3)
        siblings = self.products[sku.product_id].sku_ids
        if len(siblings) > 1 and self._rng.random() < 0.1:
            wanted.append(self.skus[self._rng.choice(siblings)])
        attribution: tuple[str, str, str] | None = None
        video = self._video_of_product.get(sku.product_id)
        roll = self._rng.random()
        if video is not None and roll < 0.3:
            attribution = ("VIDEO", video.id, video.username)
        elif roll > 0.95:
            attribution = ("LIVE", f"7381{self._rng.randrange(10**15):015d}", "livewithkim")
        self._place(shop_id, wanted, attribution)

    def _on_viral_arrival(self, shop_id: str) -> None:
        plan = self.viral
        assert plan is not None
        rate_max = plan.peak_orders_per_hour / HOUR
        following = self.now + self._rng.expovariate(rate_max)
        if self._shape is not None:
            # A family shape: orders follow its density, scaled to the peak rate.
            grid, _, intensity = self._shape
            if following < plan.onset + grid[-1] * HOUR:
                self._schedule(following, "viral_arrival", shop_id)
            if self._rng.random() >= float(
                np.interp((self.now - plan.onset) / HOUR, grid, intensity)
            ):
                return
        else:
            if following < plan.midpoint + 6 * plan.tau:
                self._schedule(following, "viral_arrival", shop_id)
            level = _logistic((self.now - plan.midpoint) / plan.tau)
            if self._rng.random() >= 4.0 * level * (1.0 - level):
                return
        sku = self.skus[self._rng.choices(plan.sku_ids, plan.sku_weights)[0]]
        wanted = [sku] * (1 if self._rng.random() < 0.85 else 2)
        video = self.videos[plan.video_id]
        self._place(shop_id, wanted, ("VIDEO", video.id, video.username))

    def _on_unpaid_timeout(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status == "UNPAID":
            self.cancel(order, "Payment overdue", "SYSTEM")

    def _on_pay(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status != "UNPAID":
            return
        order.paid_time = int(self.now)
        order.on_hold = True
        self._set_status(order, "ON_HOLD")
        if self._rng.random() < 0.04:
            self._schedule(self.now + self._rng.uniform(60, 3_000), "buyer_cancel", order.id)
        else:
            self._schedule(self.now + HOUR, "release", order.id)

    def _on_buyer_cancel(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status in ("UNPAID", "ON_HOLD"):
            order.buyer_requested_cancel = True
            self.cancel(order, "No longer needed", "BUYER")

    def _on_release(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status != "ON_HOLD":
            return
        now = int(self.now)
        order.on_hold = False
        order.rts_sla_time = now + 2 * int(DAY)
        order.tts_sla_time = now + 3 * int(DAY)
        order.cancel_order_sla_time = now + 3 * int(DAY)
        package = PackageState(
            id=self.next_id("package", "1153"),
            shop_id=order.shop_id,
            order_id=order.id,
            status="TO_FULFILL",
            create_time=now,
            update_time=now,
            line_item_ids=[item.id for item in order.line_items],
            order_pay_time=order.paid_time or now,
        )
        order.package_id = package.id
        self.packages[package.id] = package
        self.packages_by_shop[order.shop_id].append(package)
        self._set_status(order, "AWAITING_SHIPMENT")
        if self._rng.random() < 0.015:
            self._schedule(self.now + self._rng.uniform(1, 10) * HOUR, "seller_cancel", order.id)
        else:
            self._schedule(self.now + self._rng.uniform(2, 30) * HOUR, "auto_ship", order.id)

    def _on_seller_cancel(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status == "AWAITING_SHIPMENT":
            self.cancel(order, "Out of stock", "SELLER")

    def _on_auto_ship(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status == "AWAITING_SHIPMENT" and order.package_id is not None:
            self.ship(self.packages[order.package_id], "DROP_OFF")

    def cancel(self, order: OrderState, reason: str, initiator: str) -> None:
        now = int(self.now)
        order.cancel_reason = reason
        order.cancellation_initiator = initiator
        order.cancel_time = now
        order.on_hold = False
        self._release_units(order)
        if order.package_id is not None:
            package = self.packages[order.package_id]
            package.status = "CANCELLED"
            package.update_time = now
        if initiator in ("BUYER", "SELLER"):
            self.notify(
                order.shop_id,
                11,
                {
                    "order_id": order.id,
                    "cancellations_role": initiator,
                    "cancel_status": "CANCELLATION_REQUEST_COMPLETE",
                    "cancel_id": self.next_id("cancel", "4036"),
                    "create_time": now,
                },
            )
        self._set_status(order, "CANCELLED")

    def ship(self, package: PackageState, handover_method: str) -> None:
        """The seller hands the package over: stock leaves the warehouse."""
        order = self.orders[package.order_id]
        now = int(self.now)
        package.status = "PROCESSING"
        package.update_time = now
        package.handover_method = handover_method
        package.tracking_number = f"9400{int(package.id) % 10**18:018d}"
        package.shipping_provider_id = SHIPPING_PROVIDER_ID
        order.tracking_number = package.tracking_number
        order.shipping_provider_id = SHIPPING_PROVIDER_ID
        order.rts_time = now
        order.shipped = True
        for item in order.line_items:
            self.skus[item.sku_id].committed[item.warehouse_id] -= 1
        self.notify(
            order.shop_id,
            4,
            {
                "role_type": "SELLER",
                "package_list": [{"package_id": package.id, "order_id_list": [order.id]}],
                "update_time": now,
            },
        )
        self._set_status(order, "AWAITING_COLLECTION")
        self._schedule(self.now + self._rng_delay(2, 12), "collect", order.id)

    def _rng_delay(self, low_hours: float, high_hours: float) -> float:
        # Shipping can be triggered by an API call, so its follow-up delays must not consume the
        # scenario stream: derive them from the current time instead.
        spread = (math.sin(self.now * 12.9898) * 43_758.5453) % 1.0
        return (low_hours + (high_hours - low_hours) * spread) * HOUR

    def _on_collect(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status != "AWAITING_COLLECTION":
            return
        order.collection_time = int(self.now)
        self._package_status(order, "FULFILLING")
        self._set_status(order, "IN_TRANSIT")
        self._schedule(self.now + self._rng_delay(24, 96), "deliver", order.id)

    def _package_status(self, order: OrderState, status: str) -> None:
        if order.package_id is not None:
            package = self.packages[order.package_id]
            package.status = status
            package.update_time = int(self.now)

    def _on_deliver(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status != "IN_TRANSIT":
            return
        order.delivery_time = int(self.now)
        self._package_status(order, "COMPLETED")
        self._set_status(order, "DELIVERED")
        spread = (math.sin(self.now * 78.233) * 43_758.5453) % 1.0
        if spread < 0.03:
            self._schedule(self.now + (6 + 60 * spread) * HOUR, "return_request", order.id)
        self._schedule(self.now + 7 * DAY, "complete", order.id)

    def _on_complete(self, order_id: str) -> None:
        order = self.orders[order_id]
        if order.status == "DELIVERED":
            self._set_status(order, "COMPLETED")

    def _return_webhook(self, order: OrderState) -> None:
        self.notify(
            order.shop_id,
            12,
            {
                "order_id": order.id,
                "return_role": "BUYER",
                "return_type": "RETURN_AND_REFUND",
                "return_status": order.return_status,
                "return_id": order.return_id,
                "create_time": order.extra.get("return_create_time", int(self.now)),
                "update_time": int(self.now),
            },
        )

    def _on_return_request(self, order_id: str) -> None:
        order = self.orders[order_id]
        order.return_id = self.next_id("return", "4035")
        order.return_status = "RETURN_OR_REFUND_REQUEST_PENDING"
        order.extra["return_create_time"] = str(int(self.now))
        order.update_time = int(self.now)
        self._return_webhook(order)
        self._schedule(self.now + DAY, "return_complete", order.id)

    def _on_return_complete(self, order_id: str) -> None:
        order = self.orders[order_id]
        order.return_status = "RETURN_OR_REFUND_REQUEST_COMPLETE"
        order.update_time = int(self.now)
        self._return_webhook(order)

    # --- catalog events ------------------------------------------------------------------------

    def _on_restock(self, sku_id: str) -> None:
        sku = self.skus[sku_id]
        sku.restock_pending = False
        first = next(iter(sku.available))
        sku.available[first] += 100 + int(sku.id) % 201
        self.products[sku.product_id].update_time = int(self.now)
        self.stock_changed(sku)
        # The inbound lands in a Fulfilled-by-TikTok warehouse: TikTok's FBT inventory webhook
        # (24), which names the seller by seller_open_id only (the dispatcher sets it).
        self.notify(
            sku.shop_id,
            24,
            {
                "goods_id": f"7323{sku.id}",
                "sku_id": sku.id,
                "fbt_warehouse_inventory": [
                    {
                        "fbt_warehouse_id": first,
                        "on_hand_detail": {
                            "total_quantity": sku.available[first] + sku.committed[first],
                            "reserved_quantity": sku.committed[first],
                            "available_quantity": sku.available[first],
                        },
                    }
                ],
                "update_time": int(self.now),
            },
        )

    def _product_webhook(self, product: ProductState) -> None:
        product.update_time = int(self.now)
        data: dict[str, Any] = {
            "product_id": product.id,
            "status": product.status,
            "update_time": product.update_time,
        }
        self.notify(product.shop_id, 5, data)

    def _on_product_pause(self, shop_id: str) -> None:
        self._schedule(self.now + self._rng.uniform(8, 20) * HOUR, "product_pause", shop_id)
        viral_product = self.viral.product_id if self.viral is not None else None
        candidates = [
            p
            for p in self.products.values()
            if p.shop_id == shop_id and p.status == "ACTIVATE" and p.id != viral_product
        ]
        if not candidates:
            return
        product = candidates[self._rng.randrange(len(candidates))]
        product.status = "SELLER_DEACTIVATED"
        self._product_webhook(product)
        self._schedule(self.now + self._rng.uniform(1, 4) * HOUR, "product_resume", product.id)

    def _on_product_resume(self, product_id: str) -> None:
        product = self.products[product_id]
        if product.status == "SELLER_DEACTIVATED":
            product.status = "ACTIVATE"
            self._product_webhook(product)

    # --- ground truth --------------------------------------------------------------------------

    def truth(self, counters: dict[str, int]) -> dict[str, Any]:
        """The exact state the sync layer must reproduce (issue 3's truth JSON)."""
        live = [o for o in self.orders.values() if o.status != "CANCELLED"]
        revenue = sum((o.sub_total for o in live), Decimal("0.00"))
        return {
            "now": int(self.now),
            "skus": [
                {
                    "sku_id": sku.id,
                    "product_id": sku.product_id,
                    "shop_id": sku.shop_id,
                    "available": sku.sellable,
                    "reserved": sku.reserved,
                    "committed": sku.total_committed,
                    "units_sold": sku.units_sold,
                    "stockout_at": sku.stockout_at,
                    "out_of_stock_since": sku.out_of_stock_since,
                }
                for sku in self.skus.values()
            ],
            "videos": [
                {"video_id": video.id, "views": self.views(video, self.now)}
                for video in self.videos.values()
            ],
            "orders": {
                "count": len(self.orders),
                "revenue": str(revenue),
                "cancelled": len(self.orders) - len(live),
                "units": sum(len(o.line_items) for o in live),
                "lost_demand": self.lost_demand,
            },
            "counters": dict(counters),
        }
