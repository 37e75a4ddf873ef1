"""Shops, products, SKUs and stock: what the shop sells and how much is left.

Every function takes the caller's `Session` and never commits: the caller decides what goes
into one transaction (`with store.write() as session: ...`). Stock history gets a row only
when a SKU's total quantity actually changes (or is seen for the first time).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.store.schema import (
    ApiCallRow,
    Base,
    ProductRow,
    ShopRow,
    SkuRow,
    StockHistoryRow,
    WarehouseStockRow,
)
from app.store.types import StockCause
from app.tiktok.models import InventorySearchResult, Product, Shop

__all__ = [
    "ShopInfo",
    "SkuStock",
    "StockChange",
    "StockPoint",
    "current_stock",
    "forget_shop",
    "list_shops",
    "mark_shop_deauthorized",
    "product_ids",
    "record_stock",
    "stock_histories",
    "stock_history",
    "upsert_inventory",
    "upsert_products",
    "upsert_shop",
]

CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit


def chunked[T](items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class ShopInfo:
    id: str
    name: str
    region: str
    cipher: str
    deauthorized_at: int | None


@dataclass(frozen=True, slots=True)
class StockChange:
    """A SKU's total stock moved from `before` (None: first seen) to `after`."""

    sku_id: str
    before: int | None
    after: int
    at: int
    cause: str


class StockPoint(NamedTuple):
    at: int
    quantity: int
    delta: int | None
    cause: str
    ref: str | None


@dataclass(frozen=True, slots=True)
class SkuStock:
    sku_id: str
    product_id: str
    product_title: str
    product_status: str
    seller_sku: str
    quantity: int
    sale_price: Decimal | None
    currency: str


# --- shops -------------------------------------------------------------------------------------


def upsert_shop(session: Session, shop: Shop, at: int) -> None:
    """Insert or refresh a shop from TikTok's authorized-shop data; re-authorizing clears
    `deauthorized_at`."""
    values = {
        "id": shop.id,
        "name": shop.name,
        "region": shop.region,
        "cipher": shop.cipher,
        "seller_type": shop.seller_type,
        "code": shop.code,
        "added_at": at,
        "updated_at": at,
        "deauthorized_at": None,
    }
    stmt = sqlite_insert(ShopRow).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ShopRow.id],
        set_={key: stmt.excluded[key] for key in values if key not in ("id", "added_at")},
    )
    session.execute(stmt)


def forget_shop(session: Session, shop_id: str) -> None:
    """Delete a shop and everything stored about it (foreign keys cascade to its products,
    stock, orders, videos, webhooks, settings and alerts; API metrics are deleted here)."""
    session.execute(delete(ApiCallRow).where(ApiCallRow.shop_id == shop_id))
    session.execute(delete(ShopRow).where(ShopRow.id == shop_id))


def list_shops(session: Session) -> list[ShopInfo]:
    rows = session.execute(
        select(
            ShopRow.id, ShopRow.name, ShopRow.region, ShopRow.cipher, ShopRow.deauthorized_at
        ).order_by(ShopRow.added_at, ShopRow.id)
    )
    return [ShopInfo(*row) for row in rows]


def mark_shop_deauthorized(session: Session, shop_id: str, at: int) -> None:
    """Record a SELLER_DEAUTHORIZATION: the shop's data stays, syncing it stops."""
    session.execute(update(ShopRow).where(ShopRow.id == shop_id).values(deauthorized_at=at))


# --- stock -------------------------------------------------------------------------------------


# Core statements for the stock write, the store's hottest path under a webhook storm: an
# executemany of one compiled statement, without the ORM's per-row bulk bookkeeping.
_SKUS = Base.metadata.tables[SkuRow.__tablename__]
_WAREHOUSE_STOCK = Base.metadata.tables[WarehouseStockRow.__tablename__]
_STOCK_HISTORY = Base.metadata.tables[StockHistoryRow.__tablename__]
_SET_RESERVED = (
    update(_SKUS)
    .where(_SKUS.c.id == bindparam("b_id"))
    .values(reserved_quantity=bindparam("b_units"))
)
_SET_QUANTITY = (
    update(_SKUS).where(_SKUS.c.id == bindparam("b_id")).values(quantity=bindparam("b_units"))
)


def _totals(session: Session, sku_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunked(sku_ids):
        query = select(SkuRow.id, SkuRow.quantity).where(SkuRow.id.in_(part))
        found.update((sku_id, quantity) for sku_id, quantity in session.execute(query))
    return found


def _reserved(session: Session, sku_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunked(sku_ids):
        query = select(SkuRow.id, SkuRow.reserved_quantity).where(SkuRow.id.in_(part))
        found.update((sku_id, reserved) for sku_id, reserved in session.execute(query))
    return found


def _history_rows(changes: Iterable[StockChange], ref: str | None) -> list[dict[str, object]]:
    return [
        {
            "sku_id": change.sku_id,
            "at": change.at,
            "quantity": change.after,
            "delta": None if change.before is None else change.after - change.before,
            "cause": change.cause,
            "ref": ref,
        }
        for change in changes
    ]


def _write_stock(
    session: Session,
    levels: Mapping[str, Sequence[dict[str, Any]]],
    at: int,
    cause: str,
    ref: str | None,
    previous: Mapping[str, int],
    new_skus: set[str],
    reserved: Mapping[str, int] | None = None,
) -> list[StockChange]:
    """Replace the warehouse rows of every SKU in `levels` and log the changed totals.

    A SKU's total is what the shop can sell: its warehouses' available units minus the units
    reserved for creators and campaigns (`reserved`, else what is stored; see SkuRow)."""
    sku_ids = list(levels)
    held = dict(reserved or {})
    unknown = [sku_id for sku_id in sku_ids if sku_id not in held]
    if unknown:
        held.update(_reserved(session, unknown))
    if reserved:
        session.execute(
            _SET_RESERVED,
            [{"b_id": sku_id, "b_units": units} for sku_id, units in reserved.items()],
        )
    for part in chunked(sku_ids):
        session.execute(delete(_WAREHOUSE_STOCK).where(_WAREHOUSE_STOCK.c.sku_id.in_(part)))
    rows = [row for sku_rows in levels.values() for row in sku_rows]
    if rows:
        session.execute(insert(_WAREHOUSE_STOCK), rows)
    changes: list[StockChange] = []
    for sku_id, sku_rows in levels.items():
        total = max(0, sum(int(row["quantity"]) for row in sku_rows) - held.get(sku_id, 0))
        before = None if sku_id in new_skus else previous.get(sku_id)
        if before is None or before != total:
            changes.append(StockChange(sku_id, before, total, at, cause))
    if changes:
        session.execute(
            _SET_QUANTITY, [{"b_id": change.sku_id, "b_units": change.after} for change in changes]
        )
        session.execute(insert(_STOCK_HISTORY), _history_rows(changes, ref))
    return changes


def upsert_products(
    session: Session,
    shop_id: str,
    products: Iterable[Product],
    at: int,
    cause: StockCause | str = StockCause.SYNC,
    ref: str | None = None,
) -> list[StockChange]:
    """Store products, their SKUs and per-warehouse stock; return the SKUs whose total moved.

    A product whose `update_time` is older than the stored one is a stale page and is skipped
    whole (stock included). Each SKU's warehouse list is replaced by the one given.
    """
    cause = StockCause(cause)
    incoming = {product.id: product for product in products}  # last one wins within a batch
    if not incoming:
        return []
    stored: dict[str, int | None] = {}
    ids = list(incoming)
    for part in chunked(ids):
        query = select(ProductRow.id, ProductRow.update_time).where(ProductRow.id.in_(part))
        stored.update((pid, time) for pid, time in session.execute(query))
    fresh = [
        product
        for product in incoming.values()
        if not (
            product.update_time is not None
            and stored.get(product.id) is not None
            and product.update_time < stored[product.id]  # type: ignore[operator]
        )
    ]
    if not fresh:
        return []
    product_stmt = sqlite_insert(ProductRow)
    session.execute(
        product_stmt.on_conflict_do_update(
            index_elements=[ProductRow.id],
            set_={
                name: product_stmt.excluded[name]
                for name in ("title", "status", "create_time", "update_time", "synced_at")
            },
        ),
        [
            {
                "id": product.id,
                "shop_id": shop_id,
                "title": product.title,
                "status": product.status,
                "create_time": product.create_time,
                "update_time": product.update_time,
                "synced_at": at,
            }
            for product in fresh
        ],
    )
    sku_rows = [
        {
            "id": sku.id,
            "product_id": product.id,
            "shop_id": shop_id,
            "seller_sku": sku.seller_sku,
            "currency": sku.price.currency,
            "sale_price": sku.price.sale_price,
            "synced_at": at,
        }
        for product in fresh
        for sku in product.skus
    ]
    if not sku_rows:
        return []
    sku_ids = [str(row["id"]) for row in sku_rows]
    previous = _totals(session, sku_ids)
    sku_stmt = sqlite_insert(SkuRow)
    session.execute(
        sku_stmt.on_conflict_do_update(
            index_elements=[SkuRow.id],
            set_={
                name: sku_stmt.excluded[name]
                for name in ("product_id", "seller_sku", "currency", "sale_price", "synced_at")
            },
        ),
        sku_rows,
    )
    levels = {
        sku.id: [
            {
                "sku_id": sku.id,
                "warehouse_id": stock.warehouse_id,
                "quantity": stock.quantity,
                "backorder_quantity": stock.backorder_quantity,
                "handling_time": stock.handling_time,
                "updated_at": at,
            }
            for stock in sku.inventory
        ]
        for product in fresh
        for sku in product.skus
    }
    new_skus = {sku_id for sku_id in sku_ids if sku_id not in previous}
    return _write_stock(session, levels, at, cause, ref, previous, new_skus)


def _ensure_skus(session: Session, shop_id: str, pairs: Mapping[str, str], at: int) -> None:
    """Placeholder product and SKU rows for ids seen before their product was synced."""
    products = sorted(set(pairs.values()))
    session.execute(
        sqlite_insert(ProductRow).on_conflict_do_nothing(),
        [{"id": pid, "shop_id": shop_id, "synced_at": at} for pid in products],
    )
    session.execute(
        sqlite_insert(SkuRow).on_conflict_do_nothing(),
        [
            {"id": sku_id, "product_id": pid, "shop_id": shop_id, "synced_at": at}
            for sku_id, pid in pairs.items()
        ],
    )


def upsert_inventory(
    session: Session,
    shop_id: str,
    result: InventorySearchResult,
    at: int,
    cause: StockCause | str = StockCause.SYNC,
    ref: str | None = None,
) -> list[StockChange]:
    """Store an Inventory Search answer (available quantity per warehouse, which equals the
    product's `inventory.quantity`, and the units of it reserved for campaigns and creators);
    return the SKUs whose sellable total moved."""
    cause = StockCause(cause)
    pairs = {sku.id: entry.product_id for entry in result.inventory for sku in entry.skus}
    if not pairs:
        return []
    previous = _totals(session, list(pairs))
    new_skus = set(pairs) - set(previous)
    if new_skus:
        _ensure_skus(session, shop_id, {sku_id: pairs[sku_id] for sku_id in new_skus}, at)
    levels = {
        sku.id: [
            {
                "sku_id": sku.id,
                "warehouse_id": stock.warehouse_id,
                "quantity": stock.available_quantity,
                "backorder_quantity": None,
                "handling_time": None,
                "updated_at": at,
            }
            for stock in sku.warehouse_inventory
        ]
        for entry in result.inventory
        for sku in entry.skus
    }
    reserved = {sku.id: sku.reserved_quantity for entry in result.inventory for sku in entry.skus}
    return _write_stock(session, levels, at, cause, ref, previous, new_skus, reserved)


def record_stock(
    session: Session,
    sku_id: str,
    quantities: Mapping[str, int],
    at: int,
    cause: StockCause | str,
    ref: str | None = None,
) -> StockChange | None:
    """Set the quantity of some warehouses of a known SKU (others keep theirs), e.g. after a
    restock the app made or a local estimate after an order; None if the total is unchanged.
    """
    cause = StockCause(cause)
    before = session.execute(select(SkuRow.quantity).where(SkuRow.id == sku_id)).scalar()
    if before is None:
        raise KeyError(f"unknown SKU {sku_id}")
    if quantities:
        stmt = sqlite_insert(WarehouseStockRow)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[WarehouseStockRow.sku_id, WarehouseStockRow.warehouse_id],
                set_={"quantity": stmt.excluded.quantity, "updated_at": stmt.excluded.updated_at},
            ),
            [
                {"sku_id": sku_id, "warehouse_id": wid, "quantity": qty, "updated_at": at}
                for wid, qty in quantities.items()
            ],
        )
    available = session.execute(
        select(func.coalesce(func.sum(WarehouseStockRow.quantity), 0)).where(
            WarehouseStockRow.sku_id == sku_id
        )
    ).scalar_one()
    after = max(0, int(available) - _reserved(session, [sku_id]).get(sku_id, 0))
    if after == before:
        return None
    change = StockChange(sku_id, before, int(after), at, cause)
    session.execute(update(SkuRow).where(SkuRow.id == sku_id).values(quantity=change.after))
    session.execute(insert(StockHistoryRow), _history_rows([change], ref))
    return change


# --- queries -----------------------------------------------------------------------------------


def current_stock(
    session: Session, shop_id: str, sku_ids: Collection[str] | None = None
) -> list[SkuStock]:
    """Every SKU of the shop (or those of `sku_ids`) with its product, price and total stock
    now, in id order."""
    query = (
        select(
            SkuRow.id,
            SkuRow.product_id,
            ProductRow.title,
            ProductRow.status,
            SkuRow.seller_sku,
            SkuRow.quantity,
            SkuRow.sale_price,
            SkuRow.currency,
        )
        .join(ProductRow, ProductRow.id == SkuRow.product_id)
        .where(SkuRow.shop_id == shop_id)
        .order_by(SkuRow.id)
    )
    if sku_ids is None:
        return [SkuStock(*row) for row in session.execute(query)]
    found = [
        SkuStock(*row)
        for part in chunked(sorted(sku_ids))
        for row in session.execute(query.where(SkuRow.id.in_(part)))
    ]
    return sorted(found, key=lambda row: row.sku_id)


def stock_history(
    session: Session, sku_id: str, since: int | None = None, until: int | None = None
) -> list[StockPoint]:
    """A SKU's stock changes in time order, `since <= at < until`."""
    query = select(
        StockHistoryRow.at,
        StockHistoryRow.quantity,
        StockHistoryRow.delta,
        StockHistoryRow.cause,
        StockHistoryRow.ref,
    ).where(StockHistoryRow.sku_id == sku_id)
    if since is not None:
        query = query.where(StockHistoryRow.at >= since)
    if until is not None:
        query = query.where(StockHistoryRow.at < until)
    rows = session.execute(query.order_by(StockHistoryRow.at, StockHistoryRow.id))
    return [StockPoint(*row) for row in rows]


def stock_histories(
    session: Session, shop_id: str, since: int, until: int | None = None
) -> dict[str, list[StockPoint]]:
    """Every SKU's stock changes in `since <= at < until`, each series preceded by the last
    change before `since` (the level the window starts from), in two queries for the whole
    shop. SKUs without any history are absent."""
    _prior_id = func.max(StockHistoryRow.id)
    prior = (
        select(_prior_id)
        .join(SkuRow, SkuRow.id == StockHistoryRow.sku_id)
        .where(SkuRow.shop_id == shop_id, StockHistoryRow.at < since)
        .group_by(StockHistoryRow.sku_id)
    )
    columns = (
        StockHistoryRow.sku_id,
        StockHistoryRow.at,
        StockHistoryRow.quantity,
        StockHistoryRow.delta,
        StockHistoryRow.cause,
        StockHistoryRow.ref,
    )
    window = (
        select(*columns)
        .join(SkuRow, SkuRow.id == StockHistoryRow.sku_id)
        .where(SkuRow.shop_id == shop_id, StockHistoryRow.at >= since)
    )
    if until is not None:
        window = window.where(StockHistoryRow.at < until)
    series: dict[str, list[StockPoint]] = {}
    for query in (
        select(*columns).where(StockHistoryRow.id.in_(prior)),
        window.order_by(StockHistoryRow.sku_id, StockHistoryRow.at, StockHistoryRow.id),
    ):
        for sku_id, at, quantity, delta, cause, ref in session.connection().execute(query).all():
            series.setdefault(sku_id, []).append(StockPoint(at, quantity, delta, cause, ref))
    return series


def product_ids(session: Session, shop_id: str) -> list[str]:
    """Every product id of the shop, in id order (for re-reading its whole inventory)."""
    return list(
        session.execute(
            select(ProductRow.id).where(ProductRow.shop_id == shop_id).order_by(ProductRow.id)
        ).scalars()
    )
