"""Open API business handlers. Each runs with the world lock held, after the gateway checks,
and returns the response's `data` object."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any, overload

from app.sandbox.errors import ApiError, Code
from app.sandbox.gateway import Request
from app.sandbox.serialize import (
    affiliate_order_json,
    order_json,
    package_json,
    product_json,
    sku_inventory_json,
    video_json,
)
from app.sandbox.state import OrderState, ShopState
from app.sandbox.world import World
from app.tiktok.models import OrderStatus

__all__ = ["PATTERN_ROUTES", "ROUTES", "Handler"]

Handler = Callable[[World, Request], dict[str, Any]]

# The Order API's statuses: the protocol's one list.
ORDER_STATUSES = frozenset(status.value for status in OrderStatus)
PRODUCT_STATUSES = {
    "ALL",
    "DRAFT",
    "PENDING",
    "FAILED",
    "ACTIVATE",
    "SELLER_DEACTIVATED",
    "PLATFORM_DEACTIVATED",
    "FREEZE",
    "DELETED",
}


# --- parameter helpers -------------------------------------------------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(Code.INVALID_PARAMETER, message)


def page_size(request: Request, low: int, high: int) -> int:
    raw = request.query.get("page_size")
    if raw is None or raw == "":
        raise _bad("Invalid page_size: the page_size parameter is required.")
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise _bad(f"Invalid page_size: must be an integer between {low} and {high}.")
    return int(raw)


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"vs:{offset}".encode()).decode().rstrip("=")


def page_offset(request: Request) -> int:
    token = request.query.get("page_token", "")
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad("Invalid page_token.") from None
    if not text.startswith("vs:") or not text[3:].isdigit():
        raise _bad("Invalid page_token.")
    return int(text[3:])


def paginate[T](items: Sequence[T], request: Request, size: int) -> tuple[list[T], str]:
    offset = page_offset(request)
    page = list(items[offset : offset + size])
    following = encode_token(offset + size) if offset + size < len(items) else ""
    return page, following


class _Slice(Sequence[OrderState]):
    """`orders[lo:hi]`, oldest first or newest first, without copying or filtering it: a page
    of a year's backfill must not cost a pass over every order of the shop."""

    def __init__(self, orders: list[OrderState], lo: int, hi: int, newest_first: bool) -> None:
        self._orders, self._lo, self._hi, self._newest_first = orders, lo, hi, newest_first

    def __len__(self) -> int:
        return max(0, self._hi - self._lo)

    @overload
    def __getitem__(self, index: int) -> OrderState: ...
    @overload
    def __getitem__(self, index: slice) -> list[OrderState]: ...
    def __getitem__(self, index: int | slice) -> OrderState | list[OrderState]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._orders[self._hi - 1 - index if self._newest_first else self._lo + index]


def _int_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"Invalid {name}: expected Unix seconds.")
    return value


def _choice(request: Request, name: str, allowed: set[str], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise _bad(f"Invalid {name}: expected one of {', '.join(sorted(allowed))}.")
    return value


def _id_list(body: dict[str, Any], name: str, limit: int) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _bad(f"Invalid {name}: expected a list of ids.")
    if len(value) > limit:
        raise _bad(f"Invalid {name}: at most {limit} values.")
    return [str(v) for v in value]


def _shop(request: Request) -> ShopState:
    assert request.shop is not None
    return request.shop


def _window(body: dict[str, Any], prefix: str, upper: str) -> tuple[int | None, int | None]:
    return _int_field(body, f"{prefix}_ge"), _int_field(body, f"{prefix}_{upper}")


def _in_window(value: int, low: int | None, high: int | None, inclusive: bool) -> bool:
    if low is not None and value < low:
        return False
    if high is None:
        return True
    return value <= high if inclusive else value < high


# --- authorization -----------------------------------------------------------------------------


def get_shops(world: World, request: Request) -> dict[str, Any]:
    assert request.grant is not None
    shops = []
    for shop_id in request.grant.active_shops():
        shop = world.shops[shop_id]
        shops.append(
            {
                "id": shop.id,
                "name": shop.name,
                "region": shop.region,
                "seller_type": shop.seller_type,
                "cipher": shop.cipher,
                "code": shop.code,
            }
        )
    return {"shops": shops}


# --- orders ------------------------------------------------------------------------------------


def _created(order: OrderState) -> int:
    return order.create_time


def search_orders(world: World, request: Request) -> dict[str, Any]:
    size = page_size(request, 1, 100)
    sort_field = _choice(request, "sort_field", {"create_time", "update_time"}, "create_time")
    sort_order = _choice(request, "sort_order", {"ASC", "DESC"}, "DESC")
    page_offset(request)
    body = request.json_body()
    status = body.get("order_status")
    if status is not None and status not in ORDER_STATUSES:
        raise _bad("Invalid order_status.")
    create_ge, create_lt = _window(body, "create_time", "lt")
    update_ge, update_lt = _window(body, "update_time", "lt")
    shipping_type = body.get("shipping_type")
    if shipping_type is not None and shipping_type not in ("TIKTOK", "SELLER", "TIKTOK_DIGITAL"):
        raise _bad("Invalid shipping_type.")
    buyer = body.get("buyer_user_id")
    cancel_requested = body.get("is_buyer_request_cancel")
    if cancel_requested is not None and not isinstance(cancel_requested, bool):
        raise _bad("Invalid is_buyer_request_cancel: expected a boolean.")
    warehouses = _id_list(body, "warehouse_ids", 100)

    def keep(order: OrderState) -> bool:
        return (
            (status is None or order.status == status)
            and _in_window(order.create_time, create_ge, create_lt, False)
            and _in_window(order.update_time, update_ge, update_lt, False)
            and (shipping_type is None or shipping_type == "TIKTOK")
            and (buyer is None or order.user_id == str(buyer))
            and (cancel_requested is None or order.buyer_requested_cancel == cancel_requested)
            and (warehouses is None or order.warehouse_id in warehouses)
        )

    # A shop's orders are kept in creation order, and create_time is the sandbox clock then,
    # which only moves on: the create_time window is a slice, found by bisection.
    every = world.orders_by_shop[_shop(request).id]
    lo = 0 if create_ge is None else bisect_left(every, create_ge, key=_created)
    hi = len(every) if create_lt is None else bisect_left(every, create_lt, key=_created)
    only_created = (status, update_ge, update_lt, buyer, cancel_requested, warehouses) == (
        (None,) * 6
    ) and shipping_type in (None, "TIKTOK")
    orders: Sequence[OrderState]
    if only_created and sort_field == "create_time":
        orders = _Slice(every, lo, hi, newest_first=sort_order == "DESC")
    else:
        orders = [o for o in every[lo:hi] if keep(o)]
        if sort_field == "update_time":
            orders.sort(key=lambda o: (o.update_time, o.id), reverse=sort_order == "DESC")
        elif sort_order == "DESC":
            orders.reverse()  # kept in creation order already
    page, following = paginate(orders, request, size)
    return {
        "next_page_token": following,
        "total_count": len(orders),
        "orders": [order_json(world, o) for o in page],
    }


def get_orders(world: World, request: Request) -> dict[str, Any]:
    raw = request.query.get("ids", "")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not ids:
        raise _bad("Invalid ids: at least one order id is required.")
    if len(ids) > 50:
        raise _bad("Invalid ids: at most 50 order ids per request.")
    shop = _shop(request)
    found = []
    for order_id in ids:
        order = world.orders.get(order_id)
        if order is None or order.shop_id != shop.id:
            raise ApiError(
                Code.ORDER_NOT_FOUND, f"The order {order_id} does not belong to this seller."
            )
        found.append(order_json(world, order))
    return {"orders": found}


# --- products and inventory --------------------------------------------------------------------


def search_products(world: World, request: Request) -> dict[str, Any]:
    size = page_size(request, 1, 100)
    page_offset(request)
    body = request.json_body()
    status = body.get("status", "ALL")
    if status not in PRODUCT_STATUSES:
        raise _bad("Invalid status.")
    seller_skus = _id_list(body, "seller_skus", 10)
    sku_ids = _id_list(body, "sku_ids", 10)
    create_ge, create_le = _window(body, "create_time", "le")
    update_ge, update_le = _window(body, "update_time", "le")
    shop = _shop(request)
    products = []
    for product in world.products.values():
        if product.shop_id != shop.id:
            continue
        if status != "ALL" and product.status != status:
            continue
        if not _in_window(product.create_time, create_ge, create_le, True):
            continue
        if not _in_window(product.update_time, update_ge, update_le, True):
            continue
        skus = [world.skus[sku_id] for sku_id in product.sku_ids]
        if sku_ids is not None and not any(s.id in sku_ids for s in skus):
            continue
        if seller_skus is not None and not any(s.seller_sku in seller_skus for s in skus):
            continue
        products.append(product)
    page, following = paginate(products, request, size)
    return {
        "next_page_token": following,
        "total_count": len(products),
        "products": [product_json(world, p) for p in page],
    }


def get_product(world: World, request: Request) -> dict[str, Any]:
    product = world.products.get(request.params[0])
    if product is None or product.shop_id != _shop(request).id:
        raise ApiError(Code.PRODUCT_NOT_FOUND, "Product not found.")
    return product_json(world, product, detail=True)


def search_inventory(world: World, request: Request) -> dict[str, Any]:
    body = request.json_body()
    product_ids = _id_list(body, "product_ids", 100)
    sku_ids = _id_list(body, "sku_ids", 600)
    shop = _shop(request)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for product in world.products.values():
        if product.shop_id != shop.id:
            continue
        if sku_ids is None and product_ids is not None and product.id not in product_ids:
            continue
        for sku_id in product.sku_ids:
            if sku_ids is not None and sku_id not in sku_ids:
                continue
            grouped.setdefault(product.id, []).append(sku_inventory_json(world.skus[sku_id]))
    return {
        "inventory": [{"product_id": pid, "skus": skus} for pid, skus in grouped.items()],
    }


# --- fulfillment -------------------------------------------------------------------------------


def get_package(world: World, request: Request) -> dict[str, Any]:
    package = world.packages.get(request.params[0])
    if package is None or package.shop_id != _shop(request).id:
        raise ApiError(Code.PACKAGE_NOT_FOUND, "Package not found.")
    return package_json(world, package)


def get_warehouses(world: World, request: Request) -> dict[str, Any]:
    shop = _shop(request)
    return {
        "warehouses": [
            {
                "id": warehouse.id,
                "name": warehouse.name,
                "effect_status": "ENABLED",
                "type": "SALES_WAREHOUSE",
                "sub_type": "DOMESTIC_WAREHOUSE",
                "is_default": index == 0,
                "address": {"region_code": "US", "state": "CA", "city": "Los Angeles"},
            }
            for index, warehouse in enumerate(shop.warehouses)
        ]
    }


# --- analytics and affiliate -------------------------------------------------------------------


def _date(request: Request, name: str) -> int:
    raw = request.query.get(name)
    if not raw:
        raise _bad(f"Invalid {name}: the parameter is required (YYYY-MM-DD).")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise _bad(f"Invalid {name}: expected YYYY-MM-DD.") from None
    if len(raw) != 10:
        raise _bad(f"Invalid {name}: expected YYYY-MM-DD.")
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def video_performance(world: World, request: Request) -> dict[str, Any]:
    size = page_size(request, 1, 100)
    start = _date(request, "start_date_ge")
    end = _date(request, "end_date_lt")
    if end <= start:
        raise _bad("Invalid date range: end_date_lt must be after start_date_ge.")
    sort_field = _choice(
        request,
        "sort_field",
        {"gmv", "sku_orders", "units_sold", "views", "click_through_rate"},
        "gmv",
    )
    sort_order = _choice(request, "sort_order", {"ASC", "DESC"}, "DESC")
    _choice(request, "currency", {"USD", "LOCAL"}, "USD")
    _choice(request, "account_type", {"ALL", "LINKED_ACCOUNTS", "AFFILIATES"}, "ALL")
    page_offset(request)
    shop = _shop(request)
    now = world.now
    upper = min(float(end), now)
    rows = []
    for video in world.videos.values():
        if video.shop_id != shop.id or video.post_time >= upper:
            continue
        views = max(
            0, world.views(video, upper) - world.views(video, max(float(start), video.post_time))
        )
        orders = [
            o
            for o in world.orders_by_shop[shop.id]
            if o.content_id == video.id and o.status != "CANCELLED" and start <= o.create_time < end
        ]
        rows.append(video_json(world, video, views, orders))

    def key(row: dict[str, Any]) -> tuple[float, str]:
        value = row[sort_field]
        number = float(value["amount"]) if isinstance(value, dict) else float(value)
        return number, str(row["id"])

    rows.sort(key=key, reverse=sort_order == "DESC")
    page, following = paginate(rows, request, size)
    today = dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()
    return {
        "videos": page,
        "latest_available_date": today,
        "next_page_token": following,
        "total_count": len(rows),
    }


def affiliate_orders(world: World, request: Request) -> dict[str, Any]:
    size = page_size(request, 1, 100)
    page_offset(request)
    body = request.json_body()
    create_ge, create_lt = _window(body, "create_time", "lt")
    if create_ge is not None and create_lt is not None and create_lt - create_ge > 92 * 86_400:
        raise _bad("Invalid time range: the window must not exceed 3 months.")
    orders = [
        o
        for o in world.orders_by_shop[_shop(request).id]
        if o.content_type is not None and _in_window(o.create_time, create_ge, create_lt, False)
    ]
    orders.reverse()
    page, following = paginate(orders, request, size)
    return {
        "orders": [affiliate_order_json(world, o) for o in page],
        "next_page_token": following,
        "total_count": len(orders),
    }


# --- routing tables ----------------------------------------------------------------------------

# path -> method -> (handler, needs shop_cipher)
ROUTES: dict[str, dict[str, tuple[Handler, bool]]] = {
    "/authorization/202309/shops": {"GET": (get_shops, False)},
    "/order/202309/orders/search": {"POST": (search_orders, True)},
    "/order/202309/orders": {"GET": (get_orders, True)},
    "/order/202507/orders": {"GET": (get_orders, True)},
    "/product/202309/products/search": {"POST": (search_products, True)},
    "/product/202502/products/search": {"POST": (search_products, True)},
    "/product/202309/inventory/search": {"POST": (search_inventory, True)},
    "/analytics/202409/shop_videos/performance": {"GET": (video_performance, True)},
    "/affiliate_seller/202410/orders/search": {"POST": (affiliate_orders, True)},
    "/logistics/202309/warehouses": {"GET": (get_warehouses, True)},
}

# (prefix, suffix) around one numeric id -> method -> (handler, needs shop_cipher)
PATTERN_ROUTES: list[tuple[str, str, dict[str, tuple[Handler, bool]]]] = [
    ("/fulfillment/202309/packages/", "", {"GET": (get_package, True)}),
    ("/product/202309/products/", "", {"GET": (get_product, True)}),
]
