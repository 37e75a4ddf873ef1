"""The simulated shop's state: plain mutable records, guarded by the world's single lock.

Stock bookkeeping is the contract the truth file rests on: `available` is what a buyer can still
order (TikTok's available_quantity), `committed` is units in orders not yet shipped. Placing an
order moves a unit from available to committed, cancelling before shipment moves it back, and
shipping removes it from committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "LineItemState",
    "OrderState",
    "PackageState",
    "ProductState",
    "ShopState",
    "SkuState",
    "VideoState",
    "Warehouse",
]


@dataclass
class Warehouse:
    id: str
    name: str


@dataclass
class ShopState:
    id: str
    name: str
    region: str
    cipher: str
    code: str
    seller_type: str
    warehouses: list[Warehouse]


@dataclass
class SkuState:
    id: str
    product_id: str
    shop_id: str
    seller_sku: str
    name: str
    price: Decimal
    available: dict[str, int]
    committed: dict[str, int]
    popularity: float
    units_sold: int = 0
    stockout_at: int | None = None
    out_of_stock_since: int | None = None
    inventory_status: str = "SUFFICIENT_STOCK"
    restock_pending: bool = False
    # Available units TikTok allocates to a campaign and to creators: counted in `available`
    # (Inventory Search's total_available_quantity) but not for sale in the shop.
    campaign_reserved: int = 0
    creator_reserved: int = 0

    @property
    def total_available(self) -> int:
        return sum(self.available.values())

    @property
    def reserved(self) -> int:
        return self.campaign_reserved + self.creator_reserved

    @property
    def sellable(self) -> int:
        """What a shopper can buy: available minus the campaign and creator allocations."""
        return max(0, self.total_available - self.reserved)

    @property
    def total_committed(self) -> int:
        return sum(self.committed.values())


@dataclass
class ProductState:
    id: str
    shop_id: str
    title: str
    status: str
    create_time: int
    update_time: int
    sku_ids: list[str]


@dataclass
class VideoState:
    id: str
    shop_id: str
    title: str
    username: str
    product_id: str
    post_time: int
    base_views: int
    views_per_second: float
    viral: bool = False


@dataclass
class LineItemState:
    id: str
    sku_id: str
    product_id: str
    warehouse_id: str
    sale_price: Decimal
    original_price: Decimal


@dataclass
class OrderState:
    id: str
    shop_id: str
    status: str
    create_time: int
    update_time: int
    user_id: str
    line_items: list[LineItemState]
    warehouse_id: str
    shipping_fee: Decimal
    content_type: str | None = None
    content_id: str | None = None
    creator_username: str | None = None
    paid_time: int | None = None
    on_hold: bool = False
    package_id: str | None = None
    tracking_number: str | None = None
    shipping_provider_id: str | None = None
    rts_sla_time: int | None = None
    tts_sla_time: int | None = None
    cancel_order_sla_time: int | None = None
    rts_time: int | None = None
    collection_time: int | None = None
    delivery_time: int | None = None
    cancel_time: int | None = None
    cancel_reason: str | None = None
    cancellation_initiator: str | None = None
    buyer_requested_cancel: bool = False
    return_id: str | None = None
    return_status: str | None = None
    shipped: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def sub_total(self) -> Decimal:
        return sum((item.sale_price for item in self.line_items), Decimal("0.00"))

    @property
    def original_total(self) -> Decimal:
        return sum((item.original_price for item in self.line_items), Decimal("0.00"))


@dataclass
class PackageState:
    id: str
    shop_id: str
    order_id: str
    status: str
    create_time: int
    update_time: int
    line_item_ids: list[str]
    order_pay_time: int
    tracking_number: str | None = None
    shipping_provider_id: str | None = None
    handover_method: str | None = None
