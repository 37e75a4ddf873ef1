"""Builders of TikTok models for the store tests.

They go through `app.tiktok.models.parse` on JSON-shaped dicts, so the store is fed exactly
what the API client will hand it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.tiktok.models import AffiliateOrder, Order, Product, Shop, VideoPerformance, parse

SHOP_ID = "7495540735365777507"
NOW = 1_718_300_000


def shop(shop_id: str = SHOP_ID, name: str = "Glow Lab") -> Shop:
    return parse(Shop, {"id": shop_id, "name": name, "region": "US", "cipher": "ROW_abc"})


def order(
    order_id: str,
    *,
    status: str = "AWAITING_SHIPMENT",
    create_time: int = NOW,
    update_time: int | None = None,
    skus: dict[str, int] | None = None,
    price: str = "12.99",
    currency: str = "USD",
    total: str | None = None,
    **extra: Any,
) -> Order:
    """An order with `skus` {sku_id: units}; each unit is one line item at `price`."""
    units = skus if skus is not None else {"sku-1": 1}
    items = [
        {
            "id": f"{order_id}-{sku_id}-{n}",
            "sku_id": sku_id,
            "product_id": f"p-{sku_id}",
            "product_name": "Serum",
            "sale_price": price,
            "currency": currency,
        }
        for sku_id, count in units.items()
        for n in range(count)
    ]
    data: dict[str, Any] = {
        "id": order_id,
        "status": status,
        "create_time": create_time,
        "update_time": update_time if update_time is not None else create_time,
        "line_items": items,
        "payment": {"currency": currency, "total_amount": total or price},
        **extra,
    }
    return parse(Order, data)


def product(
    product_id: str,
    stock: dict[str, dict[str, int]],
    *,
    update_time: int | None = NOW,
    price: str = "12.99",
    title: str = "Serum",
) -> Product:
    """A product with SKUs `stock` = {sku_id: {warehouse_id: quantity}}."""
    return parse(
        Product,
        {
            "id": product_id,
            "title": title,
            "status": "ACTIVATE",
            "create_time": NOW - 86_400,
            "update_time": update_time,
            "skus": [
                {
                    "id": sku_id,
                    "seller_sku": f"SS-{sku_id}",
                    "price": {"currency": "USD", "sale_price": price},
                    "inventory": [
                        {"warehouse_id": wid, "quantity": qty} for wid, qty in warehouses.items()
                    ],
                }
                for sku_id, warehouses in stock.items()
            ],
        },
    )


def video(video_id: str, views: int, units: int = 0, products: tuple[str, ...] = ()) -> Any:
    return parse(
        VideoPerformance,
        {
            "id": video_id,
            "title": "Before/after",
            "username": "glowqueen",
            "gmv": {"amount": "1234.50", "currency": "USD"},
            "units_sold": units,
            "views": views,
            "click_through_rate": "0.0412",
            "products": [{"id": pid, "name": "Serum"} for pid in products],
            # TikTok's documented form: a datetime string (shop time zone; UTC here).
            "video_post_time": datetime.fromtimestamp(NOW - 3600, UTC).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        },
    )


def affiliate_order(order_id: str, entries: list[dict[str, Any]]) -> AffiliateOrder:
    return parse(AffiliateOrder, {"id": order_id, "create_time": NOW, "skus": entries})
