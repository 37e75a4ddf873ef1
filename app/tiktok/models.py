"""Pydantic models of the TikTok Shop API objects that ViralStock reads.

Webhooks (envelopes, topic numbers, owners, typed topics) live in `app.tiktok.webhooks`.

Field names follow TikTok's JSON (tiktok-shop-api.md sections 2, 4, 6 and 7) so that a response
validates as it arrives. Three rules run through every model:

- ids are strings, even when TikTok sends a large id as a JSON number (no float on the way);
- money is `Decimal` parsed from TikTok's strings, never a float: a JSON number is converted
  from its own text (exactly), a Python `float` or a boolean is refused;
- unknown fields are ignored and optional ones may be missing, because TikTok adds fields
  monthly, but a malformed value raises `PayloadError` naming the field.

These rules are pydantic-core schemas (`_id_schema`, `_money_schema`, `OrderStatus._missing_`)
rather than Python validators: a 50-order page holds about a thousand ids and amounts, and
validating them natively keeps parsing it well under a millisecond. Parse raw response bytes
with `validate_json` (or `parse_json`), which never lets a JSON number reach money as a float.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    SecretStr,
    ValidationError,
)
from pydantic_core import core_schema

__all__ = [
    "AffiliateOrder",
    "AffiliateOrderPage",
    "AffiliateSku",
    "AllocatedInventory",
    "AvailableDistribution",
    "CombinedListingSku",
    "InShopInventory",
    "InventoryProduct",
    "InventorySearchResult",
    "InventorySku",
    "InventoryUpdateError",
    "InventoryUpdateResult",
    "LineItem",
    "Money",
    "Order",
    "OrderPage",
    "OrderStatus",
    "Package",
    "PackagePage",
    "PayloadError",
    "Payment",
    "Product",
    "ProductPage",
    "Shop",
    "Sku",
    "SkuPrice",
    "TokenSet",
    "VideoPage",
    "VideoPerformance",
    "WarehouseInventory",
    "WarehouseStock",
    "loads",
    "parse",
    "parse_json",
    "validate_json",
]


class PayloadError(ValueError):
    """A TikTok payload that does not fit its model.

    The message names every offending field but never echoes the values, which may hold tokens
    or buyer data.
    """

    def __init__(self, model: str, errors: list[str]) -> None:
        self.model = model
        self.errors = errors
        super().__init__(f"malformed {model}: " + "; ".join(errors))

    @classmethod
    def from_validation(cls, model: str, exc: ValidationError) -> PayloadError:
        problems = [
            f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
        return cls(model, problems)


def _id_schema(what: str) -> core_schema.CoreSchema:
    """A string as is, or a JSON integer of any size as its exact decimal text.

    Validated natively by pydantic-core: the string case (what TikTok usually sends) never
    enters Python, and an integer costs one call to the builtin `str`. Floats (precision already
    lost) and booleans are refused with an error naming the field.
    """
    return core_schema.union_schema(
        [
            core_schema.str_schema(strict=True),
            core_schema.no_info_after_validator_function(str, core_schema.int_schema(strict=True)),
        ],
        mode="left_to_right",
        custom_error_type=f"{what}_type",
        custom_error_message=f"{what} must be a string or an integer, not a float or boolean",
    )


def _money_schema() -> core_schema.CoreSchema:
    """`Decimal` from a decimal string or an integer, natively, and never through a float.

    From JSON text a number with a fraction or exponent is refused here with the error type
    `money_type`; `validate_json` then re-reads the same bytes with `loads` (a `Decimal` from
    the number's own text) and validates that, so such a number is converted exactly. From
    Python data a `Decimal` is taken as is, and a `float` (already rounded to binary) or a
    boolean is refused. Non-finite values are refused too.
    """

    def accepted(*kinds: core_schema.CoreSchema) -> core_schema.CoreSchema:
        return core_schema.chain_schema(
            [
                core_schema.union_schema(
                    [
                        *kinds,
                        core_schema.str_schema(strict=True),
                        core_schema.int_schema(strict=True),
                    ],
                    mode="left_to_right",
                    custom_error_type="money_type",
                    custom_error_message="money must be a decimal string or an integer, not a"
                    " float or boolean",
                ),
                core_schema.decimal_schema(allow_inf_nan=False),
            ]
        )

    return core_schema.json_or_python_schema(
        json_schema=accepted(),
        python_schema=accepted(core_schema.is_instance_schema(Decimal)),
    )


class _IdType:
    """Marker for `Annotated[str, _IdType]`: see `_id_schema`."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _id_schema("id")


class _IntTextType:
    """Marker for text that TikTok may also send as a JSON integer (times, dates)."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _id_schema("value")


class _AmountType:
    """Marker for `Annotated[Decimal, _AmountType]`: see `_money_schema`."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _money_schema()


Id = Annotated[str, _IdType]
IntText = Annotated[str, _IntTextType]
Amount = Annotated[Decimal, _AmountType]
Timestamp = int


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


# --- authorization -----------------------------------------------------------------------------


class Shop(_Model):
    id: Id
    name: str = ""
    region: str = ""
    cipher: str
    seller_type: str | None = None
    code: str | None = None


class TokenSet(_Model):
    """Token data as TikTok returns it. The `*_expire_in` fields are absolute epoch seconds."""

    access_token: SecretStr
    access_token_expire_in: Timestamp
    refresh_token: SecretStr
    refresh_token_expire_in: Timestamp
    open_id: str | None = None
    seller_name: str | None = None
    seller_base_region: str | None = None
    user_type: int | None = None
    granted_scopes: list[str] = Field(default_factory=list)

    def access_expires_within(self, seconds: float, now: float) -> bool:
        return self.access_token_expire_in - now <= seconds

    def to_secret_dict(self) -> dict[str, Any]:
        """The token data with the secrets revealed, for the keyring and nowhere else."""
        data = self.model_dump()
        data["access_token"] = self.access_token.get_secret_value()
        data["refresh_token"] = self.refresh_token.get_secret_value()
        return data


# --- orders ------------------------------------------------------------------------------------


class OrderStatus(enum.StrEnum):
    UNPAID = "UNPAID"
    ON_HOLD = "ON_HOLD"
    AWAITING_SHIPMENT = "AWAITING_SHIPMENT"
    PARTIALLY_SHIPPING = "PARTIALLY_SHIPPING"
    AWAITING_COLLECTION = "AWAITING_COLLECTION"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"

    @classmethod
    def _missing_(cls, value: object) -> OrderStatus | None:
        # Webhooks say CANCEL where the Order API says CANCELLED (tiktok-shop-api.md section
        # 6.4). pydantic-core's enum validator calls this hook only for a value that matched
        # no member, so the usual statuses are validated natively.
        if isinstance(value, str) and value.upper() == "CANCEL":
            return cls.CANCELLED
        return None


Status = OrderStatus


class Payment(_Model):
    currency: str = ""
    sub_total: Amount | None = None
    shipping_fee: Amount | None = None
    seller_discount: Amount | None = None
    platform_discount: Amount | None = None
    total_amount: Amount | None = None
    original_total_product_price: Amount | None = None
    original_shipping_fee: Amount | None = None
    tax: Amount | None = None


class CombinedListingSku(_Model):
    """A SKU that actually ships for a combined-listing line item, with how many of it
    (Get Order Detail `line_items[].combined_listing_skus[]`: sku_id, sku_count, product_id,
    seller_sku; orders/get-order-detail spec)."""

    sku_id: Id
    sku_count: int = 1
    product_id: Id | None = None
    seller_sku: str = ""


class LineItem(_Model):
    """One unit of one SKU: two identical T-shirts are two line items with the same sku_id.

    A combined listing sells a bundle under one line item; the units that leave the shelf are
    its `combined_listing_skus` (each `sku_count` times), not the line item's own `sku_id`.
    """

    id: Id
    sku_id: Id
    product_id: Id
    product_name: str = ""
    sku_name: str = ""
    seller_sku: str = ""
    sale_price: Amount = Decimal(0)
    original_price: Amount | None = None
    currency: str = ""
    display_status: str | None = None
    package_id: Id | None = None
    cancel_reason: str | None = None
    is_gift: bool = False
    combined_listing_skus: list[CombinedListingSku] = Field(default_factory=list)

    def units(self) -> Counter[str]:
        """Units per sku_id that this line item takes from stock."""
        if self.combined_listing_skus:
            counted: Counter[str] = Counter()
            for part in self.combined_listing_skus:
                counted[part.sku_id] += part.sku_count
            return counted
        return Counter({self.sku_id: 1})


class PackageRef(_Model):
    id: Id


class Order(_Model):
    id: Id
    status: Status
    create_time: Timestamp
    update_time: Timestamp
    paid_time: Timestamp | None = None
    user_id: Id | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    payment: Payment = Field(default_factory=Payment)
    fulfillment_type: str | None = None
    shipping_type: str | None = None
    warehouse_id: Id | None = None
    packages: list[PackageRef] = Field(default_factory=list)
    tracking_number: str | None = None
    rts_sla_time: Timestamp | None = None
    tts_sla_time: Timestamp | None = None
    cancel_order_sla_time: Timestamp | None = None
    cancel_reason: str | None = None
    cancellation_initiator: str | None = None
    is_on_hold_order: bool = False
    is_sample_order: bool = False
    order_type: str | None = None

    def units_by_sku(self) -> Counter[str]:
        """Units ordered per sku_id: the number of line items carrying it, where a
        combined-listing line item counts the SKUs it ships (`LineItem.units`)."""
        counted: Counter[str] = Counter()
        for item in self.line_items:
            counted.update(item.units())
        return counted


class OrderPage(_Model):
    orders: list[Order] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0


# --- products and inventory --------------------------------------------------------------------


class SkuPrice(_Model):
    currency: str = ""
    sale_price: Amount | None = None
    tax_exclusive_price: Amount | None = None


class WarehouseStock(_Model):
    warehouse_id: Id
    quantity: int = 0
    backorder_quantity: int | None = None
    handling_time: int | None = None


class Sku(_Model):
    id: Id
    seller_sku: str = ""
    price: SkuPrice = Field(default_factory=SkuPrice)
    inventory: list[WarehouseStock] = Field(default_factory=list)

    @property
    def total_quantity(self) -> int:
        return sum(stock.quantity for stock in self.inventory)


class Product(_Model):
    id: Id
    title: str = ""
    status: str = ""
    create_time: Timestamp | None = None
    update_time: Timestamp | None = None
    sales_regions: list[str] = Field(default_factory=list)
    skus: list[Sku] = Field(default_factory=list)


class ProductPage(_Model):
    products: list[Product] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0


class WarehouseInventory(_Model):
    warehouse_id: Id
    available_quantity: int = 0
    committed_quantity: int = 0


class AllocatedInventory(_Model):
    quantity: int = 0
    campaign_name: str | None = None
    creator_name: str | None = None


class InShopInventory(_Model):
    quantity: int = 0


class AvailableDistribution(_Model):
    """Inventory Search `total_available_inventory_distribution`: how the total available
    units split into units allocated to campaigns, units allocated to creators, and
    `in_shop_inventory`, "the remaining inventory available for the shop after deducting those
    allocated for campaigns and creators" (products/inventory-search spec; its example:
    100 available = 30 campaign + 20 creator + 50 in shop)."""

    campaign_inventory: list[AllocatedInventory] = Field(default_factory=list)
    creator_inventory: list[AllocatedInventory] = Field(default_factory=list)
    in_shop_inventory: InShopInventory | None = None


class InventorySku(_Model):
    id: Id
    seller_sku: str = ""
    total_available_quantity: int = 0
    total_committed_quantity: int = 0
    warehouse_inventory: list[WarehouseInventory] = Field(default_factory=list)
    total_available_inventory_distribution: AvailableDistribution | None = None

    @property
    def reserved_quantity(self) -> int:
        """Available units set aside for campaigns and creators: not sellable in the shop.

        From `in_shop_inventory` when TikTok sends it (available minus in shop), else the sum
        of the allocations; 0 without a distribution."""
        dist = self.total_available_inventory_distribution
        if dist is None:
            return 0
        if dist.in_shop_inventory is not None:
            return max(0, self.total_available_quantity - dist.in_shop_inventory.quantity)
        allocated = dist.campaign_inventory + dist.creator_inventory
        return sum(part.quantity for part in allocated)


class InventoryProduct(_Model):
    product_id: Id
    skus: list[InventorySku] = Field(default_factory=list)


class InventorySearchResult(_Model):
    inventory: list[InventoryProduct] = Field(default_factory=list)


class InventoryExtraError(_Model):
    warehouse_id: Id | None = None
    code: int | None = None
    message: str = ""


class InventoryErrorDetail(_Model):
    sku_id: Id | None = None
    extra_errors: list[InventoryExtraError] = Field(default_factory=list)


class InventoryUpdateError(_Model):
    code: int
    message: str = ""
    detail: InventoryErrorDetail = Field(default_factory=InventoryErrorDetail)


class InventoryUpdateResult(_Model):
    """Update Inventory answers code 0 even when some SKUs failed: they are listed here."""

    errors: list[InventoryUpdateError] = Field(default_factory=list)


# --- fulfillment -------------------------------------------------------------------------------


class PackageOrder(_Model):
    id: Id


class Package(_Model):
    id: Id
    status: str = ""
    orders: list[PackageOrder] = Field(default_factory=list)
    order_line_item_ids: list[Id] = Field(default_factory=list)
    tracking_number: str | None = None
    shipping_provider_id: Id | None = None
    create_time: Timestamp | None = None
    update_time: Timestamp | None = None


class PackagePage(_Model):
    packages: list[Package] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0


# --- videos and affiliate attribution ----------------------------------------------------------


class Money(_Model):
    amount: Amount
    currency: str = ""


class VideoProduct(_Model):
    id: Id
    name: str = ""


class VideoPerformance(_Model):
    id: Id
    title: str = ""
    username: str = ""
    gmv: Money | None = None
    sku_orders: int = 0
    units_sold: int = 0
    views: int = 0
    click_through_rate: Amount | None = None
    products: list[VideoProduct] = Field(default_factory=list)
    #: "2025-01-01 00:00:00" in TikTok's example (analytics/get-shop-video-performance-list
    #: spec); see `posted_at`.
    video_post_time: IntText | None = None

    def posted_at(self, utc_offset: int = 0) -> int | None:
        """`video_post_time` as epoch seconds, or None if it is missing or unreadable.

        The string has no zone. The same endpoint's dates (`start_date_ge`, `end_date_lt`)
        are in the shop's local time zone, so the post time is read as shop-local too:
        `utc_offset` is the shop's offset from UTC in seconds (0 when unknown, which is what
        the sandbox uses). Epoch digits are accepted as they are."""
        text = (self.video_post_time or "").strip()
        if not text:
            return None
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            return None
        return int(moment.timestamp()) - utc_offset


class VideoPage(_Model):
    videos: list[VideoPerformance] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0
    latest_available_date: str | None = None


class AffiliateSku(_Model):
    """One product of an affiliate order (Search Seller Affiliate Orders 202410 `skus[]`).

    It has no `sku_id`, only `product_id` (affiliate-seller/search-seller-affiliate-orders
    spec): the SKU is found by joining the order id to the Order API's line items.
    """

    product_id: Id
    quantity: int = 1
    price: Money | None = None
    creator_username: str | None = None
    content_type: str | None = None
    content_id: Id | None = None
    refunded_quantity: int = 0
    returned_quantity: int = 0
    open_collaboration_id: Id | None = None
    target_collaboration_id: Id | None = None
    campaign_id: Id | None = None


class AffiliateOrder(_Model):
    id: Id
    status: str | None = None
    create_time: Timestamp | None = None
    delivery_time: Timestamp | None = None
    skus: list[AffiliateSku] = Field(default_factory=list)

    def video_ids(self) -> set[str]:
        """Videos that sold a unit of this order, from content_type VIDEO entries."""
        return {
            sku.content_id for sku in self.skus if sku.content_type == "VIDEO" and sku.content_id
        }


class AffiliateOrderPage(_Model):
    orders: list[AffiliateOrder] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int = 0


# --- parsing -----------------------------------------------------------------------------------


def loads(raw: bytes | str) -> Any:
    """JSON with exact numbers: big integers stay integers and decimals become `Decimal`."""
    return json.loads(raw, parse_float=Decimal)


def parse[M: BaseModel](model: type[M], data: Any) -> M:
    """Validate `data` (already decoded JSON) as `model`, raising `PayloadError` on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError.from_validation(model.__name__, exc) from None


def validate_json[M: BaseModel](model: type[M], raw: bytes | str) -> M:
    """Validate raw JSON as `model` natively; raises pydantic's `ValidationError`.

    The fast path is `model_validate_json`. Only when a money field met something other than a
    string or an integer (a JSON number with a fraction or exponent, which the JSON parser has
    already made a binary float, or a malformed value) is the text read again with `loads`,
    where such a number is a `Decimal` of its exact text, and validated as Python data. A value
    that is wrong either way raises the error of that second pass, naming the field.
    """
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if not any(error["type"] == "money_type" for error in exc.errors(include_url=False)):
            raise
        first = exc
    try:
        data = loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise first from None
    return model.model_validate(data)


def parse_json[M: BaseModel](model: type[M], raw: bytes | str) -> M:
    """`validate_json`, raising `PayloadError` (field names, never values) on failure."""
    try:
        return validate_json(model, raw)
    except ValidationError as exc:
        raise PayloadError.from_validation(model.__name__, exc) from None
