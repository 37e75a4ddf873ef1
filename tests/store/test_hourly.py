"""The hourly sales tables stay equal to the sales derived from the orders, on every write,
and an upgraded database gets them filled (schema version 5, issue #15)."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.store import Store, open_store, sales_events, upsert_orders, upsert_shop
from app.store.db import make_engine, migrate_engine
from app.store.hourly import hourly_sales, sku_window_sales
from app.store.migrations import MIGRATIONS
from tests.store.factories import NOW, SHOP_ID, order, shop

HOUR = 3600
START = NOW - NOW % HOUR - 48 * HOUR


def _derived(store: Store) -> tuple[dict[tuple[int, str], tuple[int, Decimal]], Counter[int]]:
    """Units and revenue per (hour, SKU), and orders per hour, from `sales_events`."""
    cells: defaultdict[tuple[int, str], tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
    orders: defaultdict[int, set[str]] = defaultdict(set)
    with store.read() as session:
        for event in sales_events(session, SHOP_ID, 0, NOW + 10 * HOUR):
            hour = event.time - event.time % HOUR
            units, revenue = cells[(hour, event.sku_id)]
            cells[(hour, event.sku_id)] = (units + event.units, revenue + event.revenue)
            orders[hour].add(event.order_id)
    return dict(cells), Counter({hour: len(ids) for hour, ids in orders.items()})


def _tables(store: Store) -> tuple[dict[tuple[int, str], tuple[int, Decimal]], Counter[int]]:
    raw = sqlite3.connect(store.path)
    try:
        cells = {
            (hour, sku): (units, Decimal(micros) / 1_000_000)
            for hour, sku, units, micros in raw.execute(
                "SELECT hour, sku_id, units, revenue_micros FROM sales_hourly"
            )
        }
        orders = Counter(
            {hour: n for hour, n in raw.execute("SELECT hour, orders FROM orders_hourly")}
        )
    finally:
        raw.close()
    return cells, orders


def test_writes_keep_the_hourly_tables_equal_to_the_orders(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_orders(
            session,
            SHOP_ID,
            [
                order("o1", create_time=START + 10, skus={"a": 2, "b": 1}, price="9.99"),
                order("o2", create_time=START + 20, skus={"a": 1}, price="0.333333"),
                order("o3", create_time=START + HOUR + 5, skus={"b": 3}),
            ],
            NOW,
        )
    cells, orders = _tables(shop_store)
    assert cells[(START, "a")] == (3, Decimal("9.99") * 2 + Decimal("0.333333"))
    assert orders[START] == 2 and orders[START + HOUR] == 1
    # The same orders again: nothing changes. A cancellation takes its units out.
    with shop_store.write() as session:
        upsert_orders(
            session, SHOP_ID, [order("o3", create_time=START + HOUR + 5, skus={"b": 3})], NOW
        )
        upsert_orders(
            session,
            SHOP_ID,
            [order("o1", status="CANCELLED", create_time=START + 10, update_time=START + 99)],
            NOW,
        )
    assert _tables(shop_store) == _derived(shop_store)
    cells, orders = _tables(shop_store)
    assert (START, "b") not in cells and orders[START] == 1
    with shop_store.read() as session:
        hours = hourly_sales(session, SHOP_ID, START, START + 2 * HOUR)
    assert [(h.hour, h.orders, h.units) for h in hours] == [(START, 1, 1), (START + HOUR, 1, 3)]
    assert hours[1].revenue == Decimal("38.97")


_orders = st.lists(
    st.tuples(
        st.sampled_from(["o1", "o2", "o3", "o4"]),
        st.integers(0, 5 * HOUR),  # creation, relative to START
        st.integers(0, 300),  # update time offset: later versions win
        st.sampled_from(["AWAITING_SHIPMENT", "CANCELLED", "DELIVERED"]),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 3), min_size=1),
        st.sampled_from(["1.00", "12.99", "0.05"]),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(_orders, max_size=4))
def test_any_sequence_of_writes_matches_the_derived_sales(tmp_path_factory, batches) -> None:  # type: ignore[no-untyped-def]
    store = open_store(tmp_path_factory.mktemp("hourly"))
    try:
        with store.write() as session:
            upsert_shop(session, shop(), NOW)
        for batch in batches:
            with store.write() as session:
                upsert_orders(
                    session,
                    SHOP_ID,
                    [
                        order(
                            oid,
                            status=status,
                            create_time=START + created,
                            update_time=START + created + later,
                            skus=skus,
                            price=price,
                        )
                        for oid, created, later, status, skus, price in batch
                    ],
                    NOW,
                )
        assert _tables(store) == _derived(store)
    finally:
        store.close()


def test_an_upgraded_database_gets_its_hourly_tables_filled(tmp_path: Path) -> None:
    """A version-4 database with orders in it (written the way version 4 wrote them) opens as
    version 5 with the hourly tables holding exactly the sales of those orders."""
    path = tmp_path / "data" / "viralstock.sqlite3"
    path.parent.mkdir()
    engine = make_engine(path)
    migrate_engine(engine, path, MIGRATIONS[:4])
    engine.dispose()
    raw = sqlite3.connect(path)
    with raw:
        raw.execute(
            "INSERT INTO shops (id, name, added_at, updated_at) VALUES (?, 'Glow Lab', ?, ?)",
            (SHOP_ID, NOW, NOW),
        )
        for n, (created, status, units) in enumerate(
            [(START + 5, "DELIVERED", 2), (START + 50, "CANCELLED", 4), (START + HOUR, "UNPAID", 1)]
        ):
            raw.execute(
                "INSERT INTO orders (id, shop_id, status, create_time, update_time, "
                "first_seen_at, synced_at, unit_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (f"o{n}", SHOP_ID, status, created, created, NOW, NOW, units),
            )
            for k in range(units):
                raw.execute(
                    "INSERT INTO line_items (id, order_id, sku_id, product_id, sale_price, "
                    "currency) VALUES (?, ?, 'a', 'p', '5.50', 'USD')",
                    (f"o{n}-{k}", f"o{n}"),
                )
    raw.close()
    store = open_store(path=path)
    try:
        assert _tables(store) == _derived(store)
        cells, _orders = _tables(store)
        assert cells == {(START, "a"): (2, Decimal("11")), (START + HOUR, "a"): (1, Decimal("5.5"))}
        with store.read() as session:
            windows = sku_window_sales(session, SHOP_ID, START + 2 * HOUR)
        assert [(w.sku_id, w.units_7d, w.units_30d, w.revenue_30d) for w in windows] == [
            ("a", 3, 3, Decimal("16.50"))
        ]
    finally:
        store.close()
