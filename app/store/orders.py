"""Orders and their line items, stored idempotently, and the sales queries insight needs.

An order is keyed by its id and versioned by TikTok's `update_time`: storing the same order
twice changes nothing, and an older version arriving late (a slow page, a webhook-triggered
fetch racing a poll) is ignored instead of regressing the status. Sales are *derived* from the
stored line items (one line item is one unit), so they can never be double counted.

Money is summed in Python with `Decimal`; SQLite's SUM() would turn the text into floats.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    delete,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from app.store import hourly
from app.store.catalog import CHUNK, chunked
from app.store.schema import Base, LineItemRow, OrderRow
from app.store.types import exact_money, to_money
from app.tiktok.models import Order, OrderStatus

__all__ = [
    "HourlyRevenue",
    "OrderSummary",
    "OrderUpsert",
    "SaleEvent",
    "order_status_counts",
    "order_versions",
    "orders_with_status",
    "revenue_per_hour",
    "sales_events",
    "stored_statuses",
    "upsert_orders",
]

CANCELLED = OrderStatus.CANCELLED.value
_LINE_CANCELLED = "CANCELLED"


@dataclass(slots=True)
class OrderUpsert:
    """What `upsert_orders` did: ids inserted, updated, ignored as stale or unchanged, and the
    SKUs whose sales may have changed (to recompute insight for)."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    skus: set[str] = field(default_factory=set)


class SaleEvent(NamedTuple):
    """Units of one SKU sold by one order at the order's creation time. A named tuple: a
    week of a viral shop is hundreds of thousands of them, and tuples are cheap to make."""

    time: int
    sku_id: str
    order_id: str
    units: int
    revenue: Decimal


class HourlyRevenue(NamedTuple):
    hour: int  # epoch seconds at the start of the UTC hour
    currency: str
    orders: int
    units: int
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class OrderSummary:
    id: str
    status: str
    create_time: int
    update_time: int
    paid_time: int | None
    unit_count: int
    currency: str
    total_amount: Decimal | None
    rts_sla_time: int | None
    tts_sla_time: int | None
    is_on_hold_order: bool


_ORDERS = Base.metadata.tables[OrderRow.__tablename__]
_LINE_ITEMS = Base.metadata.tables[LineItemRow.__tablename__]
_UPDATE_ORDER = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("b_id"))
    .values({c.name: bindparam(c.name) for c in _ORDERS.columns if c.name != "first_seen_at"})
)


def _order_values(shop_id: str, order: Order, at: int) -> dict[str, object]:
    payment = order.payment
    return {
        "id": order.id,
        "shop_id": shop_id,
        "status": order.status.value,
        "create_time": order.create_time,
        "update_time": order.update_time,
        "paid_time": order.paid_time,
        "currency": payment.currency,
        "sub_total": payment.sub_total,
        "shipping_fee": payment.shipping_fee,
        "seller_discount": payment.seller_discount,
        "platform_discount": payment.platform_discount,
        "tax": payment.tax,
        "total_amount": payment.total_amount,
        "fulfillment_type": order.fulfillment_type,
        "shipping_type": order.shipping_type,
        "warehouse_id": order.warehouse_id,
        "tracking_number": order.tracking_number,
        "rts_sla_time": order.rts_sla_time,
        "tts_sla_time": order.tts_sla_time,
        "cancel_order_sla_time": order.cancel_order_sla_time,
        "cancel_reason": order.cancel_reason,
        "cancellation_initiator": order.cancellation_initiator,
        "is_on_hold_order": order.is_on_hold_order,
        "is_sample_order": order.is_sample_order,
        "order_type": order.order_type,
        "synced_at": at,
        "unit_count": sum(order.units_by_sku().values()),
    }


def _line_values(order: Order) -> list[dict[str, object]]:
    """One row per unit that leaves the shelf. A combined-listing line item becomes one row
    per unit of each SKU it ships (`combined_listing_skus`, each `sku_count` times): the
    first row keeps the line item's id and its whole sale price, the others get ids
    `<id>#<n>` and a price of 0, so units per SKU and the order's revenue both stay exact."""
    rows: list[dict[str, object]] = []
    for item in order.line_items:
        base: dict[str, object] = {
            "id": item.id,
            "order_id": order.id,
            "sku_id": item.sku_id,
            "product_id": item.product_id,
            "product_name": item.product_name,
            "sku_name": item.sku_name,
            "seller_sku": item.seller_sku,
            "sale_price": item.sale_price,
            "original_price": item.original_price,
            "currency": item.currency or order.payment.currency,
            "display_status": item.display_status,
            "package_id": item.package_id,
            "cancel_reason": item.cancel_reason,
            "is_gift": item.is_gift,
        }
        if not item.combined_listing_skus:
            rows.append(base)
            continue
        n = 0
        for part in item.combined_listing_skus:
            for _ in range(max(0, part.sku_count)):
                row = dict(base, sku_id=part.sku_id, seller_sku=part.seller_sku)
                row["product_id"] = part.product_id or item.product_id
                if n:
                    row.update(id=f"{item.id}#{n}", sale_price=Decimal(0), original_price=None)
                rows.append(row)
                n += 1
    return rows


def upsert_orders(session: Session, shop_id: str, orders: Iterable[Order], at: int) -> OrderUpsert:
    """Store orders with their line items, idempotently and without regressing.

    An order is written when it is new or its `update_time` is at least the stored one (equal
    times rewrite the same data, which keeps a re-fetch harmless); an older `update_time` is
    reported as stale and left alone. Line items of a written order are replaced as a whole.
    Stock is not touched: TikTok's inventory stays the source of truth for stock.
    """
    latest: dict[str, Order] = {}
    for order in orders:
        kept = latest.get(order.id)
        if kept is None or order.update_time >= kept.update_time:
            latest[order.id] = order
    result = OrderUpsert()
    if not latest:
        return result
    stored: dict[str, int] = {}
    ids = list(latest)
    for part in chunked(ids):
        query = select(OrderRow.id, OrderRow.update_time).where(OrderRow.id.in_(part))
        stored.update((oid, time) for oid, time in session.execute(query))
    new_rows: list[dict[str, object]] = []
    changed_rows: list[dict[str, object]] = []
    for order_id, order in latest.items():
        previous = stored.get(order_id)
        if previous is None:
            values = _order_values(shop_id, order, at)
            values["first_seen_at"] = at
            new_rows.append(values)
            result.inserted.append(order_id)
        elif order.update_time >= previous:
            changed_rows.append(_order_values(shop_id, order, at))
            result.updated.append(order_id)
        else:
            result.stale.append(order_id)
            continue
        result.skus.update(order.units_by_sku())
    # Core statements on the tables: the ORM's bulk path costs more than the SQL itself here.
    if new_rows:
        session.execute(insert(_ORDERS), new_rows)
    if changed_rows:
        hourly.subtract_orders(session, result.updated)  # the old versions' sales, out
        session.execute(_UPDATE_ORDER, [{**row, "b_id": row["id"]} for row in changed_rows])
        for part in chunked(result.updated):
            session.execute(delete(LineItemRow).where(LineItemRow.order_id.in_(part)))
    line_rows = [
        row
        for order_id in (*result.inserted, *result.updated)
        for row in _line_values(latest[order_id])
    ]
    if line_rows:
        session.execute(insert(_LINE_ITEMS), line_rows)
    hourly.add_orders(session, [*result.inserted, *result.updated])  # the new versions', in
    return result


def _live_sales(shop_id: str, since: int, until: int) -> list[ColumnElement[bool]]:
    return [
        OrderRow.shop_id == shop_id,
        OrderRow.create_time >= since,
        OrderRow.create_time < until,
        OrderRow.status != CANCELLED,
        func.coalesce(LineItemRow.display_status, "") != _LINE_CANCELLED,
    ]


def sales_events(
    session: Session,
    shop_id: str,
    since: int,
    until: int,
    sku_ids: Collection[str] | None = None,
) -> list[SaleEvent]:
    """Units sold per (order, SKU) created in `since <= t < until`, in time order.

    Cancelled orders and cancelled line items are not sales. Unpaid orders are included
    because TikTok reserves their stock at creation. Pass `sku_ids` to narrow the query.
    """
    query = (
        select(
            OrderRow.create_time,
            OrderRow.id,
            LineItemRow.sku_id,
            # Raw text: prices repeat, so each distinct one is parsed once below.
            type_coerce(LineItemRow.sale_price, String),
        )
        .join(LineItemRow, LineItemRow.order_id == OrderRow.id)
        .where(*_live_sales(shop_id, since, until))
        .order_by(OrderRow.create_time, OrderRow.id, LineItemRow.sku_id)
    )
    wanted = set(sku_ids) if sku_ids is not None else None
    if wanted is not None and len(wanted) <= CHUNK:
        query = query.where(LineItemRow.sku_id.in_(wanted))
    prices: dict[str, Decimal] = {}
    units: dict[tuple[int, str, str], int] = {}
    revenue: dict[tuple[int, str, str], Decimal] = {}
    with exact_money():
        # Core execution on the session's connection: the rows need no ORM processing.
        for time, order_id, sku_id, text in session.connection().execute(query).all():
            if wanted is not None and sku_id not in wanted:
                continue
            price = prices.get(text)
            if price is None:
                price = prices[text] = to_money(text)
            key = (time, order_id, sku_id)
            if key in units:
                units[key] += 1
                revenue[key] += price
            else:
                units[key] = 1
                revenue[key] = price
    return [SaleEvent(key[0], key[2], key[1], count, revenue[key]) for key, count in units.items()]


def revenue_per_hour(session: Session, shop_id: str, since: int, until: int) -> list[HourlyRevenue]:
    """Orders, units and product revenue (sum of line-item sale prices, not cancelled) per UTC
    hour of order creation, per currency, in time order; hours without sales are absent.

    SQLite groups by hour, currency and price (prices repeat, so few rows come back); the
    money is multiplied and added in Python, exactly.
    """
    hour = (OrderRow.create_time - OrderRow.create_time % 3600).label("hour")
    live = _live_sales(shop_id, since, until)
    joined = select(hour, LineItemRow.currency).join(
        LineItemRow, LineItemRow.order_id == OrderRow.id
    )
    by_price = joined.add_columns(LineItemRow.sale_price, func.count()).where(*live)
    by_price = by_price.group_by(hour, LineItemRow.currency, LineItemRow.sale_price)
    by_order = joined.add_columns(func.count(OrderRow.id.distinct())).where(*live)
    by_order = by_order.group_by(hour, LineItemRow.currency)
    units: Counter[tuple[int, str]] = Counter()
    revenue: defaultdict[tuple[int, str], Decimal] = defaultdict(Decimal)
    with exact_money():
        for start, currency, price, count in session.execute(by_price):
            units[(start, currency)] += count
            revenue[(start, currency)] += price * count
    orders = {(start, currency): count for start, currency, count in session.execute(by_order)}
    return [
        HourlyRevenue(key[0], key[1], orders[key], units[key], revenue[key])
        for key in sorted(units)
    ]


def order_status_counts(
    session: Session, shop_id: str, since: int | None = None, until: int | None = None
) -> dict[OrderStatus, int]:
    """How many orders (created in the window, if given) are in each status: the funnel."""
    query = select(OrderRow.status, func.count()).where(OrderRow.shop_id == shop_id)
    if since is not None:
        query = query.where(OrderRow.create_time >= since)
    if until is not None:
        query = query.where(OrderRow.create_time < until)
    counts = {status: 0 for status in OrderStatus}
    for status, count in session.execute(query.group_by(OrderRow.status)):
        counts[OrderStatus(status)] = count
    return counts


def orders_with_status(
    session: Session,
    shop_id: str,
    statuses: Collection[OrderStatus | str],
    limit: int = 1000,
) -> list[OrderSummary]:
    """Orders in the given statuses, oldest first (e.g. AWAITING_SHIPMENT for ship-by risk)."""
    wanted = [OrderStatus(status).value for status in statuses]
    rows = session.execute(
        select(
            OrderRow.id,
            OrderRow.status,
            OrderRow.create_time,
            OrderRow.update_time,
            OrderRow.paid_time,
            OrderRow.unit_count,
            OrderRow.currency,
            OrderRow.total_amount,
            OrderRow.rts_sla_time,
            OrderRow.tts_sla_time,
            OrderRow.is_on_hold_order,
        )
        .where(OrderRow.shop_id == shop_id, OrderRow.status.in_(wanted))
        .order_by(OrderRow.create_time, OrderRow.id)
        .limit(limit)
    )
    return [OrderSummary(*row) for row in rows]


def stored_statuses(session: Session, order_ids: Sequence[str]) -> dict[str, str]:
    """The stored status of each of `order_ids` the store holds (absent: never seen)."""
    found: dict[str, str] = {}
    for part in chunked(order_ids):
        found.update(
            session.execute(select(OrderRow.id, OrderRow.status).where(OrderRow.id.in_(part))).all()
        )
    return found


def order_versions(session: Session, order_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(update_time, status) of each of `order_ids` the store holds: what a poll compares
    TikTok's answer with."""
    found: dict[str, tuple[int, str]] = {}
    for part in chunked(order_ids):
        for order_id, update_time, status in session.execute(
            select(OrderRow.id, OrderRow.update_time, OrderRow.status).where(OrderRow.id.in_(part))
        ):
            found[order_id] = (update_time, status)
    return found
