"""SQLAlchemy 2 models of the current schema (version `migrations.CURRENT_VERSION`).

The tables themselves are created by the frozen SQL in `migrations.py`; these classes map them.
A test keeps the two in step. Conventions: ids are TEXT (TikTok ids overflow a float and some
exceed 64 bits), times are UTC epoch seconds (INTEGER, or REAL where sub-second latency
matters), money is `MoneyType` (exact decimal text). No column holds a token or a secret.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.store.types import MoneyType

__all__ = [
    "AlertRow",
    "AlertStateRow",
    "ApiCallRow",
    "AttributionRow",
    "Base",
    "LineItemRow",
    "OrderRow",
    "OrdersHourlyRow",
    "ProductRow",
    "RelayCursorRow",
    "SalesHourlyRow",
    "ShopRow",
    "ShopSettingsRow",
    "SkuRow",
    "SkuSettingsRow",
    "StockHistoryRow",
    "SyncStateRow",
    "VideoProductRow",
    "VideoRow",
    "VideoViewRow",
    "WarehouseStockRow",
    "WebhookEventRow",
]

_SHOP_FK = "shops.id"


def _shop_fk() -> ForeignKey:
    return ForeignKey(_SHOP_FK, ondelete="CASCADE")


class Base(DeclarativeBase):
    type_annotation_map = {Decimal: MoneyType(), str: String(), int: Integer()}


class ShopRow(Base):
    __tablename__ = "shops"
    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(server_default="")
    region: Mapped[str] = mapped_column(server_default="")
    # The shop cipher is a routing identifier TikTok returns with the shop, not a credential.
    cipher: Mapped[str] = mapped_column(server_default="")
    seller_type: Mapped[str | None]
    code: Mapped[str | None]
    added_at: Mapped[int]
    updated_at: Mapped[int]
    deauthorized_at: Mapped[int | None]


class ProductRow(Base):
    __tablename__ = "products"
    id: Mapped[str] = mapped_column(primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    title: Mapped[str] = mapped_column(server_default="")
    status: Mapped[str] = mapped_column(server_default="")
    create_time: Mapped[int | None]
    update_time: Mapped[int | None]
    synced_at: Mapped[int]
    __table_args__ = (Index("ix_products_shop", "shop_id"),)


class SkuRow(Base):
    __tablename__ = "skus"
    id: Mapped[str] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    seller_sku: Mapped[str] = mapped_column(server_default="")
    currency: Mapped[str] = mapped_column(server_default="")
    sale_price: Mapped[Decimal | None]
    #: What the shop can sell: the sum of `warehouse_stock.quantity` (TikTok's available units)
    #: minus `reserved_quantity`. Shown as stock and used by the forecast.
    quantity: Mapped[int] = mapped_column(server_default="0")
    #: Available units TikTok has allocated to campaigns and creators (Inventory Search
    #: `total_available_inventory_distribution`): not for sale in the shop, so not in
    #: `quantity`. Kept across product reads, which do not report it.
    reserved_quantity: Mapped[int] = mapped_column(server_default="0")
    synced_at: Mapped[int]
    __table_args__ = (Index("ix_skus_shop", "shop_id"), Index("ix_skus_product", "product_id"))


class WarehouseStockRow(Base):
    __tablename__ = "warehouse_stock"
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    warehouse_id: Mapped[str] = mapped_column(primary_key=True)
    quantity: Mapped[int]
    backorder_quantity: Mapped[int | None]
    handling_time: Mapped[int | None]
    updated_at: Mapped[int]


class StockHistoryRow(Base):
    """One row per change of a SKU's total stock: the new level, the change, and why."""

    __tablename__ = "stock_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    at: Mapped[int]
    quantity: Mapped[int]
    #: None for the first observation of a SKU (there was no previous level).
    delta: Mapped[int | None]
    cause: Mapped[str]
    #: What caused it when known: an order id, a webhook notification id.
    ref: Mapped[str | None]
    __table_args__ = (Index("ix_stock_history_sku_at", "sku_id", "at"),)


class OrderRow(Base):
    __tablename__ = "orders"
    id: Mapped[str] = mapped_column(primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    status: Mapped[str]
    create_time: Mapped[int]
    update_time: Mapped[int]
    paid_time: Mapped[int | None]
    currency: Mapped[str] = mapped_column(server_default="")
    sub_total: Mapped[Decimal | None]
    shipping_fee: Mapped[Decimal | None]
    seller_discount: Mapped[Decimal | None]
    platform_discount: Mapped[Decimal | None]
    tax: Mapped[Decimal | None]
    total_amount: Mapped[Decimal | None]
    fulfillment_type: Mapped[str | None]
    shipping_type: Mapped[str | None]
    warehouse_id: Mapped[str | None]
    tracking_number: Mapped[str | None]
    rts_sla_time: Mapped[int | None]
    tts_sla_time: Mapped[int | None]
    cancel_order_sla_time: Mapped[int | None]
    cancel_reason: Mapped[str | None]
    cancellation_initiator: Mapped[str | None]
    is_on_hold_order: Mapped[bool] = mapped_column(server_default="0")
    is_sample_order: Mapped[bool] = mapped_column(server_default="0")
    order_type: Mapped[str | None]
    first_seen_at: Mapped[int]
    synced_at: Mapped[int]
    unit_count: Mapped[int] = mapped_column(server_default="0")
    __table_args__ = (
        # Covers the sales reads (schema v6): they never touch the wide order rows.
        Index("ix_orders_shop_create", "shop_id", "create_time", "status", "id"),
        Index("ix_orders_shop_status", "shop_id", "status"),
    )


class LineItemRow(Base):
    """One unit of one SKU. `sku_id` has no foreign key: orders may name SKUs not synced yet."""

    __tablename__ = "line_items"
    id: Mapped[str] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    sku_id: Mapped[str]
    product_id: Mapped[str]
    product_name: Mapped[str] = mapped_column(server_default="")
    sku_name: Mapped[str] = mapped_column(server_default="")
    seller_sku: Mapped[str] = mapped_column(server_default="")
    sale_price: Mapped[Decimal]
    original_price: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(server_default="")
    display_status: Mapped[str | None]
    package_id: Mapped[str | None]
    cancel_reason: Mapped[str | None]
    is_gift: Mapped[bool] = mapped_column(server_default="0")
    __table_args__ = (
        Index("ix_line_items_order", "order_id", "sku_id", "display_status", "sale_price"),
        Index("ix_line_items_sku", "sku_id"),
    )


class WebhookEventRow(Base):
    """Every webhook delivered by the relay, once, keyed by TikTok's notification id."""

    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    tts_notification_id: Mapped[str] = mapped_column(unique=True)
    cursor: Mapped[str | None]
    type: Mapped[int]
    payload: Mapped[str]
    received_at: Mapped[float]
    processed_at: Mapped[float | None]
    # Set when the event was recorded as processed although its re-read failed for good.
    error_kind: Mapped[str | None]
    __table_args__ = (
        Index("ix_webhook_events_shop", "shop_id", "id"),
        Index(
            "ix_webhook_events_unprocessed",
            "shop_id",
            "id",
            sqlite_where=text("processed_at IS NULL"),
        ),
        Index(
            "ix_webhook_events_failed",
            "shop_id",
            "id",
            sqlite_where=text("error_kind IS NOT NULL"),
        ),
    )


class RelayCursorRow(Base):
    __tablename__ = "relay_cursors"
    shop_id: Mapped[str] = mapped_column(_shop_fk(), primary_key=True)
    cursor: Mapped[str]
    updated_at: Mapped[float]


class ShopSettingsRow(Base):
    """Per-shop defaults in `app.insight.types.SkuSettings` names and units; NULL means the
    built-in default (`settings.BUILT_IN`)."""

    __tablename__ = "shop_settings"
    shop_id: Mapped[str] = mapped_column(_shop_fk(), primary_key=True)
    lead_time_hours: Mapped[float | None]
    days_of_cover: Mapped[float | None]
    safety_days: Mapped[float | None]
    critical_hours: Mapped[float | None]
    pack_size: Mapped[int | None]
    updated_at: Mapped[int]


class SkuSettingsRow(Base):
    """Per-SKU overrides; NULL means the shop's default."""

    __tablename__ = "sku_settings"
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    lead_time_hours: Mapped[float | None]
    days_of_cover: Mapped[float | None]
    safety_days: Mapped[float | None]
    critical_hours: Mapped[float | None]
    pack_size: Mapped[int | None]
    incoming_units: Mapped[int | None]
    updated_at: Mapped[int]
    __table_args__ = (Index("ix_sku_settings_shop", "shop_id"),)


class VideoRow(Base):
    __tablename__ = "videos"
    id: Mapped[str] = mapped_column(primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    title: Mapped[str] = mapped_column(server_default="")
    username: Mapped[str] = mapped_column(server_default="")
    posted_at: Mapped[int | None]
    views: Mapped[int] = mapped_column(server_default="0")
    units_sold: Mapped[int] = mapped_column(server_default="0")
    sku_orders: Mapped[int] = mapped_column(server_default="0")
    gmv: Mapped[Decimal | None]
    gmv_currency: Mapped[str] = mapped_column(server_default="")
    click_through_rate: Mapped[Decimal | None]
    first_seen_at: Mapped[int]
    updated_at: Mapped[int]
    __table_args__ = (Index("ix_videos_shop", "shop_id"),)


class VideoProductRow(Base):
    __tablename__ = "video_products"
    video_id: Mapped[str] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = mapped_column(primary_key=True)
    __table_args__ = (Index("ix_video_products_product", "product_id"),)


class VideoViewRow(Base):
    """A video's cumulative views and units at one observation, kept when they change."""

    __tablename__ = "video_views"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    at: Mapped[int]
    views: Mapped[int]
    units_sold: Mapped[int]
    __table_args__ = (Index("ix_video_views_video_at", "video_id", "at"),)


class AttributionRow(Base):
    """Units of an order's SKU credited to a video: `method` is "explicit" or "correlated".

    No foreign keys to orders or videos: an affiliate order can arrive before the order sync
    and name a creator's video that the shop's analytics never list.
    """

    __tablename__ = "attributions"
    order_id: Mapped[str] = mapped_column(primary_key=True)
    sku_id: Mapped[str] = mapped_column(primary_key=True)
    video_id: Mapped[str] = mapped_column(primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    units: Mapped[int]
    method: Mapped[str]
    creator_username: Mapped[str | None]
    recorded_at: Mapped[int]
    __table_args__ = (
        Index("ix_attributions_video", "video_id"),
        Index("ix_attributions_shop", "shop_id"),
    )


class AlertStateRow(Base):
    """The current alert level of each SKU, to tell an escalation from a repeat."""

    __tablename__ = "alert_state"
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    level: Mapped[str]
    since: Mapped[int]


class AlertRow(Base):
    """Every change of a SKU's alert level; escalations carry `notified_at` once shown."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[str] = mapped_column(_shop_fk())
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    at: Mapped[int]
    level: Mapped[str]
    previous_level: Mapped[str]
    escalation: Mapped[bool]
    reason: Mapped[str] = mapped_column(server_default="")
    notified_at: Mapped[int | None]
    __table_args__ = (
        Index("ix_alerts_shop_at", "shop_id", "at"),
        Index(
            "ix_alerts_unnotified",
            "shop_id",
            "id",
            sqlite_where=text("escalation = 1 AND notified_at IS NULL"),
        ),
    )


class ApiCallRow(Base):
    """One Open API call: the path without its query (so never a signature), timing, outcome."""

    __tablename__ = "api_calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[str | None]
    at: Mapped[float]
    method: Mapped[str]
    path: Mapped[str]
    http_status: Mapped[int | None]
    api_code: Mapped[int | None]
    duration_ms: Mapped[float]
    priority: Mapped[str] = mapped_column(server_default="normal")
    attempt: Mapped[int] = mapped_column(server_default="1")
    error_kind: Mapped[str | None]
    __table_args__ = (Index("ix_api_calls_at", "at"),)


class SyncStateRow(Base):
    """Incremental-sync progress per shop and resource ("orders", "products", "videos")."""

    __tablename__ = "sync_state"
    shop_id: Mapped[str] = mapped_column(_shop_fk(), primary_key=True)
    resource: Mapped[str] = mapped_column(primary_key=True)
    #: The highest `update_time` fully stored; the next poll starts a little before it.
    watermark: Mapped[int | None]
    last_success_at: Mapped[float | None]
    last_attempt_at: Mapped[float | None]
    last_error_kind: Mapped[str | None]


class SalesHourlyRow(Base):
    """Live units and revenue of one SKU per UTC hour of order creation (app/store/hourly.py
    keeps it in step with the orders on every write)."""

    __tablename__ = "sales_hourly"
    shop_id: Mapped[str] = mapped_column(_shop_fk(), primary_key=True)
    hour: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[str] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(primary_key=True, server_default="")
    units: Mapped[int] = mapped_column(server_default="0")
    #: Revenue in millionths of the currency unit: exact sums without decimal text.
    revenue_micros: Mapped[int] = mapped_column(server_default="0")
    __table_args__ = (Index("ix_sales_hourly_sku", "shop_id", "sku_id", "hour"),)


class OrdersHourlyRow(Base):
    """The shop's live orders, units and revenue per UTC hour of order creation."""

    __tablename__ = "orders_hourly"
    shop_id: Mapped[str] = mapped_column(_shop_fk(), primary_key=True)
    hour: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(primary_key=True, server_default="")
    orders: Mapped[int] = mapped_column(server_default="0")
    units: Mapped[int] = mapped_column(server_default="0")
    revenue_micros: Mapped[int] = mapped_column(server_default="0")
