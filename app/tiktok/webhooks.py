"""TikTok Shop webhooks on the wire: the one place that knows a webhook's shape.

Everything that reads a webhook goes through here: the relay (`parse_envelope`: is it a
well-formed envelope, and whom does it belong to), the desktop's handlers (`parse_webhook`:
the typed event of each documented topic) and the sandbox (which emits these shapes). Topic
numbers are `WebhookType` members, never bare integers elsewhere.

Facts relied on, with where they are documented (Partner Center webhook topic pages, mirrored
in `lazykern/ecommerce-api-docs` under `data/processed/tiktok/guides/webhooks/`, see
`shared/tiktok-shop-api.md` S12):

- The envelope is `{type, tts_notification_id, <owner>, timestamp, data}`; `type` and
  `timestamp` (Unix seconds) are integers; `tts_notification_id` is missing from some examples
  (type 3), so it is optional.
- The owner is named by one of three fields, per topic: `shop_id` for shop topics (1, 3, 4, 5,
  6, 7, 11, 12, 13, 14, 15, 16, 18, 25, 27, 33, 36-39, 42, 46, 51), `seller_open_id` for
  Fulfilled-by-TikTok and seller-level topics (21, 22, 23, 24 "FBT inventory update", 19, 35,
  52), `creator_open_id` for creator topics (17, 20, 55). `OWNER_FIELDS` lists them. A
  seller's or creator's open_id is the `open_id` of the token data TikTok returns when the
  authorization code is exchanged or the token refreshed (authorization-overview-202407.md);
  no Open API endpoint returns it.
- Some examples put big ids as JSON numbers (type 5 and 16 `product_id` 576486316948490000):
  ids are parsed as exact integers and kept as their decimal text.
- Type 27 `inventory_distribution`: `total_quantity = available_quantity +
  creator_reserved_quantity + campaign_reserved_quantity + committed_quantity`, and
  `available_quantity` is "the total number of SKUs available for ordering"
  (product/27-inventory-status-change.md). Type 24 `on_hand_detail.available_quantity` "does
  not include reserved units" (fulfilled-by-tiktok/24-fbt-inventory-update.md).
- Type 71 (inventory changed by shop) is listed only in third-party SDK enums
  (`tiktok-shop-api` 0.1.0, EcomPHP `EventType::INVENTORY_CHANGED_BY_SHOP = 71`); TikTok's
  mirrored pages do not document its fields, so only `sku_id` and `product_id`, the fields the
  handlers need, are modelled, and everything else is kept in the stored payload.

A body whose envelope repeats a key (two `shop_id`s, two `type`s) is refused as malformed:
JSON parsers disagree on which one wins, so the relay could route by one value while the
desktop reads the other.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from app.tiktok.models import (
    Id,
    IntText,
    OrderStatus,
    PayloadError,
    Timestamp,
    _Model,
    parse,
)

__all__ = [
    "OWNER_FIELDS",
    "CancellationStatusChange",
    "CreatorDeauthorization",
    "Envelope",
    "FbtInventoryUpdate",
    "InventoryChangedByShop",
    "InventoryDistribution",
    "InventoryStatusChange",
    "OrderStatusChange",
    "Owner",
    "PackageUpdate",
    "ProductCreation",
    "ProductInformationChange",
    "ProductStatusChange",
    "RecipientAddressUpdate",
    "References",
    "ReturnStatusChange",
    "SellerDeauthorization",
    "UnknownWebhookEvent",
    "UpcomingAuthorizationExpiration",
    "WebhookEvent",
    "WebhookType",
    "decode",
    "parse_envelope",
    "parse_webhook",
    "references",
]


class WebhookType(enum.IntEnum):
    """Every topic number TikTok documents (webhook topic pages; 2, 50-71 from SDK enums)."""

    ORDER_STATUS_CHANGE = 1
    REVERSE_STATUS_UPDATE = 2
    RECIPIENT_ADDRESS_UPDATE = 3
    PACKAGE_UPDATE = 4
    PRODUCT_STATUS_CHANGE = 5
    SELLER_DEAUTHORIZATION = 6
    UPCOMING_AUTHORIZATION_EXPIRATION = 7
    CANCELLATION_STATUS_CHANGE = 11
    RETURN_STATUS_CHANGE = 12
    NEW_CONVERSATION = 13
    NEW_MESSAGE = 14
    PRODUCT_INFORMATION_CHANGE = 15
    PRODUCT_CREATION = 16
    SHOPPABLE_CONTENT_POSTING = 17
    PRODUCT_CATEGORY_CHANGE = 18
    SIZE_CHART_CHANGE = 19
    CREATOR_DEAUTHORIZATION = 20
    INBOUND_FBT_ORDER_STATUS_CHANGE = 21
    FBT_MERCHANT_ONBOARDING = 22
    GOODS_MATCH = 23
    FBT_INVENTORY_UPDATE = 24
    OPPORTUNITY_MATCHING_STATUS_CHANGE = 25
    INVENTORY_STATUS_CHANGE = 27
    NEW_MESSAGE_LISTENER = 33
    TOKOPEDIA_MIRROR_STATUS_CHANGE = 35
    INVOICE_STATUS_CHANGE = 36
    PRODUCT_AUDIT_STATUS_CHANGE = 37
    STRIKETHROUGH_PRICE_EXPIRED = 38
    ACTIVITY_STATUS_CHANGE = 39
    COMBINED_LISTING_CHANGE = 42
    IMAGE_TRANSLATION_COMPLETED = 46
    SKU_STATUS_CHANGE = 50
    GLOBAL_REPLICATION_STATUS_CHANGE = 51
    GLOBAL_LISTING_METHOD_CHANGE = 52
    VIDEO_PRECHECK_RESULT = 55
    INVENTORY_CHANGED = 68
    INVENTORY_CHANGED_BY_SHOP = 71


class Owner(enum.StrEnum):
    """The envelope field that names whom a webhook belongs to."""

    SHOP = "shop_id"
    SELLER = "seller_open_id"
    CREATOR = "creator_open_id"


_SELLER_TOPICS = (19, 21, 22, 23, 24, 35, 52)
_CREATOR_TOPICS = (17, 20, 55)
#: The documented owner field of each topic; an unlisted topic may use any of the three.
OWNER_FIELDS: dict[int, Owner] = {
    **{int(kind): Owner.SHOP for kind in WebhookType},
    **dict.fromkeys(_SELLER_TOPICS, Owner.SELLER),
    **dict.fromkeys(_CREATOR_TOPICS, Owner.CREATOR),
}


# --- decoding ----------------------------------------------------------------------------------


class _Repeated(dict[str, Any]):
    """A JSON object in which some key appeared twice (the last value kept, as json does)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    built = dict(pairs)
    return _Repeated(built) if len(built) != len(pairs) else built


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: `json.loads` with options builds a new one each time.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_float=Decimal, parse_constant=_no_constants
)


def decode(raw: bytes | str) -> dict[str, Any]:
    """A webhook body as a JSON object with exact numbers, or `PayloadError`.

    Refused: invalid UTF-8 or JSON, NaN/Infinity, anything but an object at the top, and an
    envelope that repeats a key.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = _DECODER.decode(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        problem = f"<root>: not valid JSON ({exc.__class__.__name__})"
        raise PayloadError("webhook", [problem]) from None
    if not isinstance(data, dict):
        raise PayloadError("webhook", ["<root>: expected a JSON object"])
    if isinstance(data, _Repeated):
        raise PayloadError("webhook", ["<root>: a key appears twice in the envelope"])
    return data


# --- the envelope ------------------------------------------------------------------------------


class _OwnerIdType:
    """An id the relay can use as a storage key, validated natively (this is the relay's hot
    path): a string of 1-128 characters that encodes as UTF-8 (pydantic-core refuses a str
    holding a lone surrogate, which a JSON escape such as "\\ud800" decodes to and no storage
    can encode), or a non-negative JSON integer of any size as its exact decimal text."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.union_schema(
            [
                core_schema.str_schema(strict=True, min_length=1, max_length=128),
                core_schema.no_info_after_validator_function(
                    str, core_schema.int_schema(strict=True, ge=0)
                ),
            ],
            mode="left_to_right",
            custom_error_type="owner_id_type",
            custom_error_message="id must be 1-128 characters or a non-negative integer",
        )


OwnerId = Annotated[str, _OwnerIdType]
NotificationId = OwnerId


class Envelope(_Model):
    """What every webhook carries around its topic data; unknown topics keep `data` whole."""

    TYPE: ClassVar[int] = 0
    type: int = Field(strict=True)
    tts_notification_id: NotificationId | None = None
    shop_id: OwnerId | None = None
    seller_open_id: OwnerId | None = None
    creator_open_id: OwnerId | None = None
    timestamp: Timestamp = Field(strict=True)
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def owner(self) -> tuple[Owner, str] | None:
        """(field, id) of whom this webhook belongs to: the topic's documented field when
        present, else the first of shop_id, seller_open_id, creator_open_id that is."""
        for field, name in _OWNER_ORDER.get(self.type, _ANY_OWNER):
            value = getattr(self, name)
            if value is not None:
                return field, value
        return None


# Where to look for the owner, per topic: its documented field first (precomputed: this runs
# on the relay's hot path for every webhook).
_ANY_OWNER = tuple((field, field.value) for field in Owner)
_OWNER_ORDER = {
    kind: ((documented, documented.value), *(p for p in _ANY_OWNER if p[0] is not documented))
    for kind, documented in OWNER_FIELDS.items()
}


def parse_envelope(raw: bytes | str) -> Envelope:
    """The envelope of a webhook body (topic data unchecked), or `PayloadError`.

    The relay's check: it forwards the body as sent and must not refuse, and so lose, a webhook
    because TikTok added a field or an enum value; the desktop validates topics with
    `parse_webhook`. A body that names no owner at all is malformed.
    """
    envelope = parse(Envelope, decode(raw))
    if envelope.owner is None:
        raise PayloadError("webhook", ["<root>: no shop_id, seller_open_id or creator_open_id"])
    return envelope


# --- topics ------------------------------------------------------------------------------------


class OrderStatusData(_Model):
    order_id: Id
    order_status: OrderStatus
    is_on_hold_order: bool = False
    update_time: Timestamp


class OrderStatusChange(Envelope):
    TYPE: ClassVar[int] = 1
    type: Literal[1]
    data: OrderStatusData  # type: ignore[assignment]


class RecipientAddressData(_Model):
    order_id: Id
    update_time: Timestamp | None = None


class RecipientAddressUpdate(Envelope):
    TYPE: ClassVar[int] = 3
    type: Literal[3]
    data: RecipientAddressData  # type: ignore[assignment]


class PackageListEntry(_Model):
    package_id: Id
    order_id_list: list[Id] = Field(default_factory=list)


class PackageUpdateData(_Model):
    sc_type: str | None = None
    role_type: str | None = None
    package_list: list[PackageListEntry] = Field(default_factory=list)
    update_time: Timestamp | None = None


class PackageUpdate(Envelope):
    TYPE: ClassVar[int] = 4
    type: Literal[4]
    data: PackageUpdateData  # type: ignore[assignment]


class ProductStatusData(_Model):
    product_id: Id
    status: str = ""
    suspended_reason: str | None = None
    update_time: Timestamp | None = None


class ProductStatusChange(Envelope):
    TYPE: ClassVar[int] = 5
    type: Literal[5]
    data: ProductStatusData  # type: ignore[assignment]


class DeauthorizationData(_Model):
    message: str = ""


class SellerDeauthorization(Envelope):
    TYPE: ClassVar[int] = 6
    type: Literal[6]
    data: DeauthorizationData = Field(default_factory=DeauthorizationData)  # type: ignore[assignment]


class ExpirationData(_Model):
    message: str = ""
    expiration_time: IntText | None = None


class UpcomingAuthorizationExpiration(Envelope):
    TYPE: ClassVar[int] = 7
    type: Literal[7]
    data: ExpirationData = Field(default_factory=ExpirationData)  # type: ignore[assignment]


class CancellationData(_Model):
    order_id: Id
    cancellations_role: str | None = None
    cancel_status: str = ""
    cancel_id: Id | None = None
    create_time: Timestamp | None = None


class CancellationStatusChange(Envelope):
    TYPE: ClassVar[int] = 11
    type: Literal[11]
    data: CancellationData  # type: ignore[assignment]


class ReturnData(_Model):
    order_id: Id
    return_role: str | None = None
    return_type: str | None = None
    return_status: str = ""
    return_id: Id | None = None
    create_time: Timestamp | None = None
    update_time: Timestamp | None = None


class ReturnStatusChange(Envelope):
    TYPE: ClassVar[int] = 12
    type: Literal[12]
    data: ReturnData  # type: ignore[assignment]


class ProductInformationData(_Model):
    product_id: Id
    change_source: str | None = None
    changed_fields: list[str] = Field(default_factory=list)
    update_time: Timestamp | None = None


class ProductInformationChange(Envelope):
    TYPE: ClassVar[int] = 15
    type: Literal[15]
    data: ProductInformationData  # type: ignore[assignment]


class ProductCreationData(_Model):
    product_id: Id
    product_types: list[str] = Field(default_factory=list)
    update_time: Timestamp | None = None


class ProductCreation(Envelope):
    TYPE: ClassVar[int] = 16
    type: Literal[16]
    data: ProductCreationData  # type: ignore[assignment]


class CreatorDeauthorizationData(_Model):
    # Documented as a string ("1644412885"), shown as a number in the example.
    cancel_time: IntText | None = None


class CreatorDeauthorization(Envelope):
    TYPE: ClassVar[int] = 20
    type: Literal[20]
    data: CreatorDeauthorizationData = Field(default_factory=CreatorDeauthorizationData)  # type: ignore[assignment]


class OnHandDetail(_Model):
    total_quantity: int | None = None
    #: Units reserved for confirmed orders and yet to be outbound.
    reserved_quantity: int | None = None
    #: Units available for sale; reserved units are not included.
    available_quantity: int | None = None


class FbtWarehouseInventory(_Model):
    fbt_warehouse_id: Id
    on_hand_detail: OnHandDetail = Field(default_factory=OnHandDetail)


class FbtInventoryData(_Model):
    goods_id: Id | None = None
    sku_id: Id
    fbt_warehouse_inventory: list[FbtWarehouseInventory] = Field(default_factory=list)
    update_time: Timestamp | None = None


class FbtInventoryUpdate(Envelope):
    """Type 24: names the seller by `seller_open_id`; there is no `shop_id`."""

    TYPE: ClassVar[int] = 24
    type: Literal[24]
    data: FbtInventoryData  # type: ignore[assignment]


class TriggerReason(_Model):
    alert_type: str | None = None
    lead_days: int | None = None
    low_stock_threshold: int | None = None


class InventoryDistribution(_Model):
    """`total = available + creator_reserved + campaign_reserved + committed` (type 27)."""

    total_quantity: int | None = None
    available_quantity: int | None = None
    creator_reserved_quantity: int | None = None
    campaign_reserved_quantity: int | None = None
    committed_quantity: int | None = None

    @property
    def reserved_quantity(self) -> int:
        """Units set aside for creators and campaigns: not for sale to other buyers."""
        return (self.creator_reserved_quantity or 0) + (self.campaign_reserved_quantity or 0)


class InventoryStatusData(_Model):
    product_id: Id
    sku_id: Id
    current_inventory_status: str = ""
    trigger_reason: TriggerReason = Field(default_factory=TriggerReason)
    inventory_distribution: InventoryDistribution = Field(default_factory=InventoryDistribution)
    update_time: Timestamp | None = None


class InventoryStatusChange(Envelope):
    TYPE: ClassVar[int] = 27
    type: Literal[27]
    data: InventoryStatusData  # type: ignore[assignment]


class InventoryChangedData(_Model):
    sku_id: Id
    product_id: Id | None = None


class InventoryChangedByShop(Envelope):
    TYPE: ClassVar[int] = 71
    type: Literal[71]
    data: InventoryChangedData  # type: ignore[assignment]


class UnknownWebhookEvent(Envelope):
    """Any topic not modelled above, kept whole so nothing TikTok sends is ever dropped."""


WebhookEvent = (
    OrderStatusChange
    | RecipientAddressUpdate
    | PackageUpdate
    | ProductStatusChange
    | SellerDeauthorization
    | UpcomingAuthorizationExpiration
    | CancellationStatusChange
    | ReturnStatusChange
    | ProductInformationChange
    | ProductCreation
    | CreatorDeauthorization
    | FbtInventoryUpdate
    | InventoryStatusChange
    | InventoryChangedByShop
    | UnknownWebhookEvent
)

_TOPICS: dict[int, type[Envelope]] = {
    model.TYPE: model
    for model in (
        OrderStatusChange,
        RecipientAddressUpdate,
        PackageUpdate,
        ProductStatusChange,
        SellerDeauthorization,
        UpcomingAuthorizationExpiration,
        CancellationStatusChange,
        ReturnStatusChange,
        ProductInformationChange,
        ProductCreation,
        CreatorDeauthorization,
        FbtInventoryUpdate,
        InventoryStatusChange,
        InventoryChangedByShop,
    )
}


# --- what a webhook points at ------------------------------------------------------------------


_ORDER_TOPICS = frozenset(
    {
        WebhookType.ORDER_STATUS_CHANGE,
        WebhookType.RECIPIENT_ADDRESS_UPDATE,
        WebhookType.CANCELLATION_STATUS_CHANGE,
        WebhookType.RETURN_STATUS_CHANGE,
    }
)
_PRODUCT_TOPICS = frozenset(
    {
        WebhookType.PRODUCT_STATUS_CHANGE,
        WebhookType.PRODUCT_INFORMATION_CHANGE,
        WebhookType.PRODUCT_CREATION,
    }
)
_SKU_TOPICS = frozenset(
    {
        WebhookType.FBT_INVENTORY_UPDATE,
        WebhookType.INVENTORY_STATUS_CHANGE,
        WebhookType.INVENTORY_CHANGED_BY_SHOP,
    }
)


@dataclass(frozen=True, slots=True)
class References:
    """The ids a webhook names, as raw JSON values (unchecked: the caller decides which are
    safe to send to the Open API), and the expiry a type 7 announces."""

    kind: int
    orders: tuple[object, ...] = ()
    products: tuple[object, ...] = ()
    skus: tuple[object, ...] = ()
    expiration_time: object = None


def references(webhook: Mapping[str, Any]) -> References:
    """What a decoded webhook points at, read leniently from the fields the topic models name.

    Deliberately not through the typed models: a webhook whose data a model refuses (an enum
    value TikTok added, a field of an unexpected type) must still lead to a re-read of the
    order, product or SKU it names, because the re-read, not the webhook, is the truth. A body
    with no usable type points at nothing (kind 0)."""
    kind = webhook.get("type")
    if isinstance(kind, bool) or not isinstance(kind, int):
        return References(0)
    raw = webhook.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if kind in _ORDER_TOPICS:
        return References(kind, orders=(data.get("order_id"),))
    if kind == WebhookType.PACKAGE_UPDATE:
        packages = data.get("package_list")
        orders: list[object] = []
        for package in packages if isinstance(packages, list) else []:
            listed = package.get("order_id_list") if isinstance(package, Mapping) else None
            orders.extend(listed if isinstance(listed, list) else [])
        return References(kind, orders=tuple(orders))
    if kind in _PRODUCT_TOPICS:
        return References(kind, products=(data.get("product_id"),))
    if kind in _SKU_TOPICS:
        return References(kind, skus=(data.get("sku_id"),))
    if kind == WebhookType.UPCOMING_AUTHORIZATION_EXPIRATION:
        return References(kind, expiration_time=data.get("expiration_time"))
    return References(kind)


def parse_webhook(payload: bytes | str | dict[str, Any]) -> WebhookEvent:
    """A webhook body (raw bytes or decoded JSON) as its typed event.

    Modelled topics get their model; any other topic becomes `UnknownWebhookEvent` with its
    raw data. A body that is not a JSON object, repeats an envelope key, or is a modelled topic
    with malformed fields raises `PayloadError`.
    """
    data = decode(payload) if isinstance(payload, bytes | str) else payload
    if not isinstance(data, dict):
        raise PayloadError("webhook", ["<root>: expected a JSON object"])
    kind = data.get("type")
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise PayloadError("webhook", ["type: expected an integer topic number"])
    model = _TOPICS.get(kind, UnknownWebhookEvent)
    return parse(model, data)  # type: ignore[return-value]
