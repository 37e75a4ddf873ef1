"""World records as TikTok's JSON: field names from tiktok-shop-api.md, money as strings,
absent fields omitted (never null), since generated clients break on stray nulls."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.sandbox.state import OrderState, PackageState, ProductState, SkuState, VideoState
from app.sandbox.world import SHIPPING_PROVIDER_ID, SHIPPING_PROVIDER_NAME, World

__all__ = [
    "affiliate_order_json",
    "money",
    "order_json",
    "package_json",
    "product_json",
    "sku_inventory_json",
]

_ZERO = "0.00"
_HIDDEN_ADDRESS = ("UNPAID", "ON_HOLD")


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _payment(order: OrderState) -> dict[str, Any]:
    sub_total = order.sub_total
    return {
        "currency": "USD",
        "sub_total": money(sub_total),
        "shipping_fee": money(order.shipping_fee),
        "seller_discount": _ZERO,
        "platform_discount": _ZERO,
        "total_amount": money(sub_total + order.shipping_fee),
        "original_total_product_price": money(order.original_total),
        "original_shipping_fee": money(order.shipping_fee),
        "shipping_fee_seller_discount": _ZERO,
        "shipping_fee_platform_discount": _ZERO,
        "tax": _ZERO,
        "product_tax": _ZERO,
        "shipping_fee_tax": _ZERO,
    }


def _address(order: OrderState) -> dict[str, Any]:
    tail = order.user_id[-4:]
    line1 = f"{int(tail) % 900 + 100} Market St"
    return {
        "name": f"Buyer {tail}",
        "phone_number": f"(+1)*******{tail[-2:]}",
        "address_line1": line1,
        "postal_code": f"9{tail}",
        "region_code": "US",
        "full_address": f"{line1}, San Francisco, CA 9{tail}, US",
    }


def order_json(world: World, order: OrderState) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": order.id,
        "status": order.status,
        "create_time": order.create_time,
        "update_time": order.update_time,
        "user_id": order.user_id,
        "buyer_email": f"v{order.user_id[-8:]}@scs.tiktokw.us",
        "buyer_message": "",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "shipping_type": "TIKTOK",
        "delivery_type": "HOME_DELIVERY",
        "delivery_option_id": "7091146663229654789",
        "delivery_option_name": "Standard shipping",
        "warehouse_id": order.warehouse_id,
        "is_on_hold_order": order.on_hold,
        "is_sample_order": False,
        "is_cod": False,
        "is_buyer_request_cancel": order.buyer_requested_cancel,
        "order_type": "NORMAL",
        "commerce_platform": "TIKTOK_SHOP",
        "payment": _payment(order),
    }
    optional = {
        "paid_time": order.paid_time,
        "rts_sla_time": order.rts_sla_time,
        "tts_sla_time": order.tts_sla_time,
        "cancel_order_sla_time": order.cancel_order_sla_time,
        "rts_time": order.rts_time,
        "collection_time": order.collection_time,
        "delivery_time": order.delivery_time,
        "cancel_time": order.cancel_time,
        "cancel_reason": order.cancel_reason,
        "cancellation_initiator": order.cancellation_initiator,
        "tracking_number": order.tracking_number,
        "shipping_provider_id": order.shipping_provider_id,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    if order.shipping_provider_id is not None:
        data["shipping_provider"] = SHIPPING_PROVIDER_NAME
    if order.status not in _HIDDEN_ADDRESS:
        data["recipient_address"] = _address(order)
    package = world.packages.get(order.package_id) if order.package_id else None
    if package is not None:
        data["packages"] = [{"id": package.id}]
    items = []
    for item in order.line_items:
        sku = world.skus[item.sku_id]
        line: dict[str, Any] = {
            "id": item.id,
            "sku_id": item.sku_id,
            "product_id": item.product_id,
            "product_name": world.products[item.product_id].title,
            "sku_name": sku.name,
            "sku_image": f"https://p16-oec-va.ibyteimg.com/sandbox/{sku.id}.jpeg",
            "seller_sku": sku.seller_sku,
            "sale_price": money(item.sale_price),
            "original_price": money(item.original_price),
            "platform_discount": _ZERO,
            "seller_discount": _ZERO,
            "currency": "USD",
            "display_status": order.status,
            "is_gift": False,
        }
        if package is not None:
            line["package_id"] = package.id
            line["package_status"] = package.status
        if order.tracking_number is not None:
            line["tracking_number"] = order.tracking_number
            line["shipping_provider_id"] = SHIPPING_PROVIDER_ID
            line["shipping_provider_name"] = SHIPPING_PROVIDER_NAME
        if order.rts_time is not None:
            line["rts_time"] = order.rts_time
        if order.cancel_reason is not None:
            line["cancel_reason"] = order.cancel_reason
            line["cancel_user"] = order.cancellation_initiator or "SYSTEM"
        items.append(line)
    data["line_items"] = _combined(world, order, items)
    return data


def _combined(world: World, order: OrderState, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Some orders of two or more different SKUs were bought as a combined listing (a bundle):
    TikTok then sends one line item for the bundle, whose `combined_listing_skus` name the SKUs
    that ship and how many of each (Get Order Detail spec), and whose price is the bundle's.
    One in three such orders, chosen by id (no draw from the scenario stream)."""
    if len({item["sku_id"] for item in items}) < 2 or int(order.id) % 3:
        return items
    counts: dict[str, int] = {}
    for item in items:
        counts[item["sku_id"]] = counts.get(item["sku_id"], 0) + 1
    first = dict(items[0])
    first.update(
        sku_id=f"9{order.id[-17:]}",
        product_id=f"8{order.id[-17:]}",
        product_name="Bundle: " + " + ".join(str(item["product_name"]) for item in items),
        sku_name="Bundle",
        seller_sku="VS-BUNDLE",
        sale_price=money(sum((Decimal(str(item["sale_price"])) for item in items), Decimal(0))),
        original_price=money(
            sum((Decimal(str(item["original_price"])) for item in items), Decimal(0))
        ),
        combined_listing_skus=[
            {
                "sku_id": sku_id,
                "sku_count": count,
                "product_id": world.skus[sku_id].product_id,
                "seller_sku": world.skus[sku_id].seller_sku,
            }
            for sku_id, count in counts.items()
        ],
    )
    return [first]


def _sku_json(world: World, sku: SkuState, detail: bool) -> dict[str, Any]:
    price = money(sku.price)
    data: dict[str, Any] = {
        "id": sku.id,
        "seller_sku": sku.seller_sku,
        "price": {"currency": "USD", "sale_price": price, "tax_exclusive_price": price},
        "inventory": [
            {"warehouse_id": warehouse_id, "quantity": quantity}
            for warehouse_id, quantity in sku.available.items()
        ],
    }
    if detail:
        data["sales_attributes"] = [{"id": "100000", "name": "Variant", "value_name": sku.name}]
    return data


def product_json(world: World, product: ProductState, detail: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": product.id,
        "title": product.title,
        "status": product.status,
        "create_time": product.create_time,
        "update_time": product.update_time,
        "sales_regions": ["US"],
        "skus": [_sku_json(world, world.skus[sku_id], detail) for sku_id in product.sku_ids],
    }
    if detail:
        data["description"] = f"<p>{product.title}: the sandbox's finest.</p>"
        data["is_cod_allowed"] = False
    return data


def sku_inventory_json(sku: SkuState) -> dict[str, Any]:
    return {
        "id": sku.id,
        "seller_sku": sku.seller_sku,
        "total_available_quantity": sku.total_available,
        "total_committed_quantity": sku.total_committed,
        "warehouse_inventory": [
            {
                "warehouse_id": warehouse_id,
                "available_quantity": quantity,
                "committed_quantity": sku.committed.get(warehouse_id, 0),
            }
            for warehouse_id, quantity in sku.available.items()
        ],
        # Inventory Search splits the available units: campaign + creator + in shop.
        "total_available_inventory_distribution": {
            "campaign_inventory": (
                [{"quantity": sku.campaign_reserved, "campaign_name": "Sandbox Flash Sale"}]
                if sku.campaign_reserved
                else []
            ),
            "creator_inventory": (
                [{"quantity": sku.creator_reserved, "creator_name": "glowqueen"}]
                if sku.creator_reserved
                else []
            ),
            "in_shop_inventory": {"quantity": sku.sellable},
        },
    }


def package_json(world: World, package: PackageState) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": package.id,
        "status": package.status,
        "orders": [{"id": package.order_id}],
        "order_line_item_ids": list(package.line_item_ids),
        "create_time": package.create_time,
        "update_time": package.update_time,
    }
    if package.tracking_number is not None:
        data["tracking_number"] = package.tracking_number
        data["shipping_provider_id"] = package.shipping_provider_id
        data["shipping_provider_name"] = SHIPPING_PROVIDER_NAME
    if package.handover_method is not None:
        data["handover_method"] = package.handover_method
    return data


def affiliate_order_json(world: World, order: OrderState) -> dict[str, Any]:
    """Search Seller Affiliate Orders 202410: one entry per product, no sku_id (the spec has
    none); the app joins the order's line items to find the SKU."""
    by_product: dict[str, list[SkuState]] = {}
    for item in order.line_items:
        by_product.setdefault(item.product_id, []).append(world.skus[item.sku_id])
    skus = []
    for product_id, units in by_product.items():
        quantity = len(units)
        amount = sum((sku.price for sku in units), Decimal("0.00"))
        entry: dict[str, Any] = {
            "product_id": product_id,
            "quantity": quantity,
            "price": {"amount": money(units[0].price), "currency": "USD"},
            "content_type": order.content_type,
            "commission_rate": "1000",
            "estimated_paid_commission": {"amount": money(amount / 10), "currency": "USD"},
            "refunded_quantity": 0,
            "returned_quantity": 0,
        }
        if order.creator_username is not None:
            entry["creator_username"] = order.creator_username
        if order.content_id is not None:
            entry["content_id"] = order.content_id
        skus.append(entry)
    status = "CANCELLED" if order.status == "CANCELLED" else "PROCESSING"
    if order.status == "COMPLETED":
        status = "COMPLETED"
    data: dict[str, Any] = {
        "id": order.id,
        "status": status,
        "create_time": order.create_time,
        "skus": skus,
    }
    if order.delivery_time is not None:
        data["delivery_time"] = order.delivery_time
    return data


def video_json(
    world: World, video: VideoState, views: int, orders: list[OrderState]
) -> dict[str, Any]:
    gmv = sum((o.sub_total for o in orders), Decimal("0.00"))
    units = sum(len(o.line_items) for o in orders)
    sku_orders = sum(len({item.sku_id for item in o.line_items}) for o in orders)
    product = world.products[video.product_id]
    ctr = Decimal(units * 100) / Decimal(views) if views else Decimal(0)
    return {
        "id": video.id,
        "title": video.title,
        "username": video.username,
        "gmv": {"amount": money(gmv), "currency": "USD"},
        "sku_orders": sku_orders,
        "units_sold": units,
        "views": views,
        "click_through_rate": str(ctr.quantize(Decimal("0.0001"))),
        "products": [{"id": product.id, "name": product.title}],
        # A datetime string in the shop's time zone (the sandbox's shops keep UTC), as in
        # TikTok's example "2025-01-01 00:00:00"; not epoch digits.
        "video_post_time": datetime.fromtimestamp(video.post_time, UTC).strftime(
            "%Y-%m-%d %H:%M:%S"
        ),
    }
