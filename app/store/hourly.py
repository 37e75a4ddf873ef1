"""Sales per hour, pre-aggregated on write (schema version 6, issue #15).

A year of a viral shop is a million orders; the dashboard's sales windows (7/14/30 days per
SKU) and the orders chart over 30 or 365 days would otherwise group hundreds of thousands of
line items on every refresh. Two tables hold the same sales as `orders.sales_events` derives
them (orders not cancelled, line items not cancelled, one line item per unit), per UTC hour of
the order's creation:

- `sales_hourly (shop_id, hour, sku_id, currency)`: units and revenue of one SKU;
- `orders_hourly (shop_id, hour, currency)`: orders (with at least one live unit), units and
  revenue of the whole shop.

Revenue is kept as integer micro-units of the currency (`revenue_micros`), so sums stay exact
for prices with up to six decimals while a cell stays under 2^53 micro-units (nine billion
currency units in one SKU-hour; beyond that SQLite's float total rounds, where the dashboard's
sums always did); `to_money` turns them back into `Decimal`. The exact per-order money stays
in `orders` and `line_items` (`orders.revenue_per_hour` sums it exactly).

Maintenance is incremental and lives in the same transaction as the order write: before an
order's stored line items are replaced, `subtract_orders` takes its old contribution out; after
the new ones are written, `add_orders` puts the new contribution in. Re-storing the same order
therefore leaves the tables unchanged, and a cancellation moves its units out. `rebuild`
recomputes a shop from scratch (the migration fills the tables of an upgraded database with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.store.catalog import chunked

__all__ = [
    "HourlySales",
    "SkuWindowSales",
    "add_orders",
    "fill_all",
    "hourly_sales",
    "order_hour_columns",
    "rebuild",
    "sku_window_sales",
    "subtract_orders",
]

HOUR = 3600
MICROS = 1_000_000

# The tables are created by migrations.V6_SQL (schema version 6).

# The live units of some orders, per order, hour, SKU and currency. `{where}` selects orders.
_LIVE = """
SELECT o.shop_id AS shop_id, o.id AS order_id, o.create_time - o.create_time % 3600 AS hour,
       li.sku_id AS sku_id, li.currency AS currency, count(*) AS units,
       total(round(CAST(li.sale_price AS REAL) * 1000000)) AS micros
FROM orders o JOIN line_items li ON li.order_id = o.id
WHERE {where} AND o.status != 'CANCELLED' AND coalesce(li.display_status, '') != 'CANCELLED'
GROUP BY o.id, li.sku_id, li.currency
"""

_SKU_UPSERT = """
INSERT INTO sales_hourly (shop_id, hour, sku_id, currency, units, revenue_micros)
SELECT shop_id, hour, sku_id, currency, {sign} sum(units), {sign} CAST(total(micros) AS INTEGER)
FROM ({live}) GROUP BY shop_id, hour, sku_id, currency
ON CONFLICT (shop_id, hour, sku_id, currency) DO UPDATE SET
    units = units + excluded.units, revenue_micros = revenue_micros + excluded.revenue_micros
"""

_ORDER_UPSERT = """
INSERT INTO orders_hourly (shop_id, hour, currency, orders, units, revenue_micros)
SELECT shop_id, hour, currency, {sign} count(DISTINCT order_id), {sign} sum(units),
       {sign} CAST(total(micros) AS INTEGER)
FROM ({live}) GROUP BY shop_id, hour, currency
ON CONFLICT (shop_id, hour, currency) DO UPDATE SET
    orders = orders + excluded.orders, units = units + excluded.units,
    revenue_micros = revenue_micros + excluded.revenue_micros
"""

# The cells emptied by a subtraction, found by the keys the orders' live units had: the
# primary keys' index finds them. Why not `WHERE units = 0` on its own: that scans the whole
# table, 660,000 cells for a year of a big shop (~100 ms), in every write of an updated order;
# under a viral storm it kept the store's writer thread busy half of the time (#15).
_PRUNE = (
    "DELETE FROM sales_hourly WHERE (shop_id, hour, sku_id, currency) IN "
    "(SELECT shop_id, hour, sku_id, currency FROM ({live})) "
    "AND units = 0 AND revenue_micros = 0",
    "DELETE FROM orders_hourly WHERE (shop_id, hour, currency) IN "
    "(SELECT shop_id, hour, currency FROM ({live})) "
    "AND orders = 0 AND units = 0 AND revenue_micros = 0",
)


def _apply(conn: Connection, order_ids: Sequence[str], sign: str) -> None:
    for part in chunked(list(order_ids)):
        marks = ", ".join("?" for _ in part)
        live = _LIVE.format(where=f"o.id IN ({marks})")
        for template in (_SKU_UPSERT, _ORDER_UPSERT):
            conn.exec_driver_sql(template.format(sign=sign, live=live), tuple(part))
        if sign == "-":
            for template in _PRUNE:
                conn.exec_driver_sql(template.format(live=live), tuple(part))


def subtract_orders(session: Session, order_ids: Sequence[str]) -> None:
    """Take the stored orders' live units out of the hourly tables (before replacing them),
    and drop the cells that leaves empty."""
    if order_ids:
        _apply(session.connection(), order_ids, "-")


def add_orders(session: Session, order_ids: Sequence[str]) -> None:
    """Put the stored orders' live units into the hourly tables (after writing them)."""
    if order_ids:
        _apply(session.connection(), order_ids, "")


_DELETE_SHOP = (
    "DELETE FROM sales_hourly WHERE shop_id = ?",
    "DELETE FROM orders_hourly WHERE shop_id = ?",
)
_DELETE_ALL = ("DELETE FROM sales_hourly", "DELETE FROM orders_hourly")


def rebuild(conn: Connection, shop_id: str | None = None) -> None:
    """Recompute the hourly tables from the orders (one shop, or every shop)."""
    params: tuple[str, ...] = (shop_id,) if shop_id is not None else ()
    for statement in _DELETE_SHOP if shop_id is not None else _DELETE_ALL:
        conn.exec_driver_sql(statement, params)
    live = _LIVE.format(where="o.shop_id = ?" if shop_id is not None else "1 = 1")
    for template in (_SKU_UPSERT, _ORDER_UPSERT):
        conn.exec_driver_sql(template.format(sign="", live=live), params)


def fill_all(conn: Connection) -> None:
    """The migration's fill: every shop's hourly tables from the stored orders."""
    rebuild(conn)


def to_money(micros: int) -> Decimal:
    """Micro-units back to an exact `Decimal` (2 decimals when that is exact)."""
    value = Decimal(int(micros)) / MICROS
    cents = value.quantize(Decimal("0.01"))
    return cents if cents == value else value.normalize()


@dataclass(frozen=True, slots=True)
class HourlySales:
    """The shop's sales in one UTC hour and currency (hours without sales are absent)."""

    hour: int
    currency: str
    orders: int
    units: int
    revenue: Decimal


def hourly_sales(session: Session, shop_id: str, since: int, until: int) -> list[HourlySales]:
    """Orders, units and revenue per hour for hours starting in `since <= hour < until`."""
    rows = session.connection().exec_driver_sql(
        "SELECT hour, currency, orders, units, revenue_micros FROM orders_hourly "
        "WHERE shop_id = ? AND hour >= ? AND hour < ? ORDER BY hour, currency",
        (shop_id, int(since), int(until)),
    )
    return [HourlySales(h, c, o, u, to_money(r)) for h, c, o, u, r in rows]


@dataclass(frozen=True, slots=True)
class SkuWindowSales:
    """One SKU's units in the last 7 / 14 / 30 days and its 30-day revenue."""

    sku_id: str
    units_7d: int
    units_14d: int
    units_30d: int
    revenue_30d: Decimal
    #: The names its line items carry (the latest line item's), as the orders show them.
    product_name: str = ""
    sku_name: str = ""


def sku_window_sales(session: Session, shop_id: str, now: int) -> list[SkuWindowSales]:
    """Seller Center's 7 / 14 / 30-day windows per SKU, from whole hours: an hour counts
    when it started inside the window (at most an hour's difference at the window's start).
    A few thousand rows at most, where grouping the line items of a viral month took seconds
    (#15)."""
    day = 86_400
    start = now - 30 * day
    rows = session.connection().exec_driver_sql(
        "SELECT sku_id, "
        "sum(CASE WHEN hour >= ? THEN units ELSE 0 END), "
        "sum(CASE WHEN hour >= ? THEN units ELSE 0 END), "
        "sum(units), sum(revenue_micros), "
        "(SELECT li.product_name || char(31) || li.sku_name FROM line_items li "
        " WHERE li.sku_id = sales_hourly.sku_id ORDER BY li.rowid DESC LIMIT 1) "
        "FROM sales_hourly WHERE shop_id = ? AND hour >= ? AND hour <= ? GROUP BY sku_id",
        (
            now - 7 * day - now % HOUR,
            now - 14 * day - now % HOUR,
            shop_id,
            start - start % HOUR,
            now,
        ),
    )
    out: list[SkuWindowSales] = []
    for sku, u7, u14, u30, rev, names in rows:
        product, _, variant = str(names or "").partition("\x1f")
        out.append(
            SkuWindowSales(sku, int(u7), int(u14), int(u30), to_money(rev), product, variant)
        )
    return out


def order_hour_columns(
    session: Session, shop_id: str, since: int, until: int
) -> tuple[list[float], list[float], list[float]]:
    """Hour starts, orders and revenue (float, every currency added) per hour with sales,
    `since <= hour < until`, in time order: the long ranges of the orders chart."""
    rows = session.connection().exec_driver_sql(
        "SELECT hour, sum(orders), sum(revenue_micros) FROM orders_hourly "
        "WHERE shop_id = ? AND hour >= ? AND hour < ? GROUP BY hour ORDER BY hour",
        (shop_id, int(since), int(until)),
    )
    hours: list[float] = []
    orders: list[float] = []
    revenue: list[float] = []
    for hour, count, micros in rows:
        hours.append(float(hour))
        orders.append(float(count))
        revenue.append(float(micros) / MICROS)
    return hours, orders, revenue
