"""Shops, products, SKUs, warehouse stock and stock history on a real SQLite file."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.store import (
    StockCause,
    Store,
    current_stock,
    list_shops,
    mark_shop_deauthorized,
    record_stock,
    stock_histories,
    stock_history,
    upsert_inventory,
    upsert_products,
    upsert_shop,
)
from app.tiktok.models import InventorySearchResult, parse
from tests.store.factories import NOW, SHOP_ID, product, shop

BIG_PRODUCT = "1729382256910270464"  # > 2**53: a float would change it
BIG_SKU = "18446744073709551617"  # > 2**64: does not even fit SQLite's INTEGER


def test_shop_round_trip_and_deauthorization(store: Store) -> None:
    with store.write() as session:
        upsert_shop(session, shop(name="Old name"), NOW)
        upsert_shop(session, shop(name="Glow Lab"), NOW + 5)
        upsert_shop(session, shop("2", "Second"), NOW + 6)
    with store.read() as session:
        shops = list_shops(session)
    assert [(s.id, s.name, s.region, s.cipher) for s in shops] == [
        (SHOP_ID, "Glow Lab", "US", "ROW_abc"),
        ("2", "Second", "US", "ROW_abc"),
    ]
    with store.write() as session:
        mark_shop_deauthorized(session, SHOP_ID, NOW + 10)
    with store.read() as session:
        assert list_shops(session)[0].deauthorized_at == NOW + 10
    with store.write() as session:  # re-authorizing clears it
        upsert_shop(session, shop(), NOW + 20)
    with store.read() as session:
        assert list_shops(session)[0].deauthorized_at is None


def test_products_skus_and_stock_round_trip(shop_store: Store) -> None:
    item = product(BIG_PRODUCT, {BIG_SKU: {"w-1": 30, "w-2": 12}, "s2": {"w-1": 5}}, price="19.990")
    with shop_store.write() as session:
        changes = upsert_products(session, SHOP_ID, [item], NOW)
    assert {(c.sku_id, c.before, c.after) for c in changes} == {
        (BIG_SKU, None, 42),
        ("s2", None, 5),
    }
    with shop_store.read() as session:
        stock = {s.sku_id: s for s in current_stock(session, SHOP_ID)}
        first = stock_history(session, BIG_SKU)
    assert stock[BIG_SKU].product_id == BIG_PRODUCT
    assert stock[BIG_SKU].quantity == 42
    assert stock[BIG_SKU].sale_price == Decimal("19.990")
    assert str(stock[BIG_SKU].sale_price) == "19.990"  # exactly what TikTok sent
    assert stock[BIG_SKU].seller_sku == f"SS-{BIG_SKU}"
    assert stock[BIG_SKU].product_title == "Serum"
    assert [(p.quantity, p.delta, p.cause) for p in first] == [(42, None, "sync")]


def test_history_only_when_the_total_changes(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"s": {"w-1": 10}})], NOW)
    with shop_store.write() as session:  # same stock again: nothing to log
        assert upsert_products(session, SHOP_ID, [product("p", {"s": {"w-1": 10}})], NOW + 60) == []
    with shop_store.write() as session:  # moved between warehouses, same total: nothing
        moved = product("p", {"s": {"w-1": 4, "w-2": 6}}, update_time=NOW + 1)
        assert upsert_products(session, SHOP_ID, [moved], NOW + 120) == []
    with shop_store.write() as session:
        later = product("p", {"s": {"w-1": 3, "w-2": 6}}, update_time=NOW + 2)
        changes = upsert_products(session, SHOP_ID, [later], NOW + 180, StockCause.WEBHOOK, "n-9")
    assert [(c.before, c.after, c.cause) for c in changes] == [(10, 9, "webhook")]
    with shop_store.read() as session:
        history = stock_history(session, "s")
        assert [(p.at, p.quantity, p.delta, p.cause, p.ref) for p in history] == [
            (NOW, 10, None, "sync", None),
            (NOW + 180, 9, -1, "webhook", "n-9"),
        ]
        assert [p.quantity for p in stock_history(session, "s", since=NOW + 1)] == [9]
        assert [p.quantity for p in stock_history(session, "s", until=NOW + 1)] == [10]


def test_stale_product_page_does_not_regress_stock(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_products(
            session, SHOP_ID, [product("p", {"s": {"w": 8}}, update_time=NOW + 10)], NOW
        )
    with shop_store.write() as session:
        stale = product("p", {"s": {"w": 50}}, update_time=NOW + 5, title="Old title")
        assert upsert_products(session, SHOP_ID, [stale], NOW + 60) == []
    with shop_store.read() as session:
        [row] = current_stock(session, SHOP_ID)
    assert (row.quantity, row.product_title) == (8, "Serum")


def test_inventory_search_and_unknown_skus(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"s": {"w": 8}})], NOW)
    result = parse(
        InventorySearchResult,
        {
            "inventory": [
                {
                    "product_id": "p",
                    "skus": [
                        {
                            "id": "s",
                            "warehouse_inventory": [{"warehouse_id": "w", "available_quantity": 6}],
                        }
                    ],
                },
                {
                    "product_id": "p-new",
                    "skus": [
                        {
                            "id": "s-new",
                            "warehouse_inventory": [{"warehouse_id": "w", "available_quantity": 3}],
                        }
                    ],
                },
            ]
        },
    )
    with shop_store.write() as session:
        changes = upsert_inventory(session, SHOP_ID, result, NOW + 60)
    assert {(c.sku_id, c.before, c.after) for c in changes} == {("s", 8, 6), ("s-new", None, 3)}
    with shop_store.read() as session:
        stock = {s.sku_id: s.quantity for s in current_stock(session, SHOP_ID)}
    assert stock == {"s": 6, "s-new": 3}


def test_units_reserved_for_campaigns_and_creators_are_not_sellable_stock(
    shop_store: Store,
) -> None:
    """Inventory Search: 100 available = 30 campaign + 20 creator + 50 in shop. The stock the
    seller sees and the forecast uses is 50; a later product read (which reports only the 100)
    keeps the reservation; a new search without allocations releases it."""
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"s": {"w": 100}})], NOW)

    def search(in_shop: int | None, campaign: int, creator: int) -> InventorySearchResult:
        dist: dict[str, object] = {
            "campaign_inventory": [{"quantity": campaign, "campaign_name": "Big Sale"}],
            "creator_inventory": [{"quantity": creator, "creator_name": "py001"}],
        }
        if in_shop is not None:
            dist["in_shop_inventory"] = {"quantity": in_shop}
        sku = {
            "id": "s",
            "total_available_quantity": 100,
            "warehouse_inventory": [{"warehouse_id": "w", "available_quantity": 100}],
            "total_available_inventory_distribution": dist,
        }
        return parse(InventorySearchResult, {"inventory": [{"product_id": "p", "skus": [sku]}]})

    with shop_store.write() as session:
        (change,) = upsert_inventory(session, SHOP_ID, search(50, 30, 20), NOW + 60)
    assert (change.before, change.after) == (100, 50)
    with shop_store.write() as session:
        assert upsert_products(session, SHOP_ID, [product("p", {"s": {"w": 100}})], NOW + 61) == []
        restocked = record_stock(session, "s", {"w": 110}, NOW + 62, "restock")
        assert restocked is not None and (restocked.before, restocked.after) == (50, 60)
    with shop_store.read() as session:
        assert {s.sku_id: s.quantity for s in current_stock(session, SHOP_ID)} == {"s": 60}
    with shop_store.write() as session:  # without in_shop_inventory: the allocations' sum
        (change,) = upsert_inventory(session, SHOP_ID, search(None, 10, 0), NOW + 63)
    assert change.after == 90
    with shop_store.read() as session:
        assert [p.quantity for p in stock_history(session, "s")] == [100, 50, 60, 90]


def test_record_stock_for_one_warehouse(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"s": {"w-1": 5, "w-2": 5}})], NOW)
    with shop_store.write() as session:
        change = record_stock(session, "s", {"w-1": 105}, NOW + 60, "restock", "po-7")
        assert change is not None and (change.before, change.after) == (10, 110)
        assert record_stock(session, "s", {"w-1": 105}, NOW + 61, "restock") is None
        with pytest.raises(ValueError):
            record_stock(session, "s", {"w-1": 1}, NOW, "teleport")
        with pytest.raises(KeyError):
            record_stock(session, "nope", {"w-1": 1}, NOW, "manual")
    with shop_store.read() as session:
        assert [(p.delta, p.cause, p.ref) for p in stock_history(session, "s")][-1] == (
            100,
            "restock",
            "po-7",
        )


def test_stock_histories_for_the_whole_shop(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"a": {"w": 10}, "b": {"w": 5}})], NOW)
        upsert_products(session, SHOP_ID, [product("p", {"a": {"w": 8}, "b": {"w": 5}})], NOW + 10)
        upsert_products(session, SHOP_ID, [product("p", {"a": {"w": 7}, "b": {"w": 5}})], NOW + 20)
        upsert_products(session, SHOP_ID, [product("p", {"a": {"w": 6}, "b": {"w": 0}})], NOW + 30)
    with shop_store.read() as session:
        series = stock_histories(session, SHOP_ID, since=NOW + 15, until=NOW + 30)
        everything = stock_histories(session, SHOP_ID, since=0)
    # The window starts from the level before it: a at 8 (from NOW + 10), b at 5 (from NOW).
    assert {sku: [(p.at, p.quantity) for p in points] for sku, points in series.items()} == {
        "a": [(NOW + 10, 8), (NOW + 20, 7)],
        "b": [(NOW, 5)],
    }
    assert [p.quantity for p in everything["a"]] == [10, 8, 7, 6]
    assert [p.quantity for p in everything["b"]] == [5, 0]
