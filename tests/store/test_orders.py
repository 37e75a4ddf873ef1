"""Orders stored idempotently, never regressing, and the sales and revenue read back exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from app.store import (
    Store,
    order_status_counts,
    orders_with_status,
    revenue_per_hour,
    sales_events,
    upsert_orders,
)
from app.tiktok.models import Order, OrderStatus, parse
from tests.store.factories import NOW, SHOP_ID, order

BIG_ORDER = "576653688135258178"  # > 2**53
HUGE_ORDER = "99999999999999999999999"  # > 2**64


def _units(store: Store, since: int = NOW - 10, until: int = NOW + 10_000) -> dict[str, int]:
    with store.read() as session:
        totals: dict[str, int] = {}
        for event in sales_events(session, SHOP_ID, since, until):
            totals[event.sku_id] = totals.get(event.sku_id, 0) + event.units
        return totals


def test_order_round_trip(shop_store: Store) -> None:
    placed = order(
        BIG_ORDER,
        skus={"sku-1": 2, "sku-2": 1},
        price="12.99",
        total="41.07",
        paid_time=NOW + 5,
        rts_sla_time=NOW + 86_400,
        is_on_hold_order=True,
        warehouse_id=7380066284010030890,  # a big id as a JSON number
    )
    with shop_store.write() as session:
        result = upsert_orders(session, SHOP_ID, [placed], NOW + 9)
    assert (result.inserted, result.updated, result.stale) == ([BIG_ORDER], [], [])
    assert result.skus == {"sku-1", "sku-2"}
    with shop_store.read() as session:
        [summary] = orders_with_status(session, SHOP_ID, [OrderStatus.AWAITING_SHIPMENT])
        row = session.execute(text("SELECT warehouse_id, total_amount FROM orders")).one()
        items = session.execute(
            text("SELECT id, sku_id, sale_price, currency FROM line_items ORDER BY id")
        ).all()
    assert summary.id == BIG_ORDER
    assert summary.unit_count == 3
    assert summary.total_amount == Decimal("41.07")
    assert (summary.paid_time, summary.rts_sla_time, summary.is_on_hold_order) == (
        NOW + 5,
        NOW + 86_400,
        True,
    )
    assert tuple(row) == ("7380066284010030890", "41.07")  # stored as text, exactly
    assert [tuple(item) for item in items] == [
        (f"{BIG_ORDER}-sku-1-0", "sku-1", "12.99", "USD"),
        (f"{BIG_ORDER}-sku-1-1", "sku-1", "12.99", "USD"),
        (f"{BIG_ORDER}-sku-2-0", "sku-2", "12.99", "USD"),
    ]


def test_same_order_twice_counts_once(shop_store: Store) -> None:
    placed = order(HUGE_ORDER, skus={"sku-1": 3})
    with shop_store.write() as session:
        upsert_orders(session, SHOP_ID, [placed], NOW)
    with shop_store.write() as session:
        again = upsert_orders(session, SHOP_ID, [placed, placed], NOW + 1)
    assert again.updated == [HUGE_ORDER] and again.inserted == []
    assert _units(shop_store) == {"sku-1": 3}
    with shop_store.read() as session:
        assert session.execute(text("SELECT count(*) FROM line_items")).scalar() == 3
        seen = session.execute(text("SELECT first_seen_at, synced_at FROM orders")).one()
    assert tuple(seen) == (NOW, NOW + 1)  # first sight is kept, the sync time moves


def test_older_update_never_regresses(shop_store: Store) -> None:
    shipped = order("o1", status="IN_TRANSIT", update_time=NOW + 100)
    stale = order("o1", status="AWAITING_SHIPMENT", update_time=NOW + 50, skus={"sku-1": 5})
    with shop_store.write() as session:
        upsert_orders(session, SHOP_ID, [shipped], NOW + 100)
    with shop_store.write() as session:
        result = upsert_orders(session, SHOP_ID, [stale], NOW + 200)
    assert result.stale == ["o1"] and not result.skus
    with shop_store.read() as session:
        counts = order_status_counts(session, SHOP_ID)
    assert counts[OrderStatus.IN_TRANSIT] == 1 and counts[OrderStatus.AWAITING_SHIPMENT] == 0
    assert _units(shop_store) == {"sku-1": 1}


def test_out_of_order_within_one_batch(shop_store: Store) -> None:
    newer = order("o1", status="CANCELLED", update_time=NOW + 100)
    older = order("o1", status="AWAITING_SHIPMENT", update_time=NOW + 10)
    with shop_store.write() as session:
        result = upsert_orders(session, SHOP_ID, [newer, older], NOW)
    assert result.inserted == ["o1"]
    with shop_store.read() as session:
        assert order_status_counts(session, SHOP_ID)[OrderStatus.CANCELLED] == 1
    assert _units(shop_store) == {}


def test_newer_version_replaces_line_items(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_orders(session, SHOP_ID, [order("o1", skus={"a": 2, "b": 1})], NOW)
    partly = order("o1", update_time=NOW + 60, skus={"a": 2})
    with shop_store.write() as session:
        result = upsert_orders(session, SHOP_ID, [partly], NOW + 60)
    assert result.updated == ["o1"] and result.skus == {"a"}
    assert _units(shop_store) == {"a": 2}


def test_cancelled_orders_and_line_items_are_not_sales(shop_store: Store) -> None:
    cancelled_item = order("o3", skus={"a": 1}).model_copy(deep=True)
    items = [cancelled_item.line_items[0].model_copy(update={"display_status": "CANCELLED"})]
    with shop_store.write() as session:
        upsert_orders(
            session,
            SHOP_ID,
            [
                order("o1", skus={"a": 2}),
                order("o2", status="CANCEL", skus={"a": 4}),  # the webhook spelling
                cancelled_item.model_copy(update={"line_items": items}),
                order("o4", status="UNPAID", skus={"a": 1}),
            ],
            NOW,
        )
    assert _units(shop_store) == {"a": 3}


def test_sales_events_window_and_filter(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_orders(
            session,
            SHOP_ID,
            [
                order("o1", create_time=NOW, skus={"a": 1, "b": 2}),
                order("o2", create_time=NOW + 3600, skus={"a": 3}),
                order("o3", create_time=NOW + 7200, skus={"a": 1}),
            ],
            NOW + 7200,
        )
    with shop_store.read() as session:
        events = sales_events(session, SHOP_ID, NOW, NOW + 7200)
        only_a = sales_events(session, SHOP_ID, NOW, NOW + 7200, sku_ids={"a"})
        many = sales_events(
            session, SHOP_ID, NOW, NOW + 7200, sku_ids=[*(f"x{n}" for n in range(600)), "b"]
        )
    assert [(e.time, e.order_id, e.sku_id, e.units) for e in events] == [
        (NOW, "o1", "a", 1),
        (NOW, "o1", "b", 2),
        (NOW + 3600, "o2", "a", 3),
    ]
    assert [e.units for e in only_a] == [1, 3]
    assert events[1].revenue == Decimal("25.98")
    assert [(e.order_id, e.sku_id, e.units) for e in many] == [("o1", "b", 2)]


def test_money_is_exact(shop_store: Store) -> None:
    """0.1 + 0.2 is 0.3 here, and 30 significant digits survive a round trip."""
    with shop_store.write() as session:
        upsert_orders(
            session,
            SHOP_ID,
            [
                order("o1", skus={"a": 1}, price="0.1"),
                order("o2", skus={"a": 1}, price="0.2"),
                order("o3", skus={"b": 1}, price="123456789012345678901234.567891"),
            ],
            NOW,
        )
    with shop_store.read() as session:
        [hour] = revenue_per_hour(session, SHOP_ID, NOW, NOW + 1)
        events = {e.order_id: e.revenue for e in sales_events(session, SHOP_ID, NOW, NOW + 1)}
    assert hour.revenue == Decimal("123456789012345678901234.867891")
    assert (hour.orders, hour.units, hour.currency) == (3, 3, "USD")
    assert events["o1"] + events["o2"] == Decimal("0.3")
    assert str(events["o3"]) == "123456789012345678901234.567891"


def test_floats_are_refused_as_money(shop_store: Store) -> None:
    from app.store.types import to_money

    with pytest.raises(TypeError):
        to_money(0.1)
    with pytest.raises(ValueError):
        to_money("NaN")
    with pytest.raises(ValueError):
        to_money("twelve")
    assert to_money("12.990") == Decimal("12.99") and str(to_money("12.990")) == "12.990"


def test_revenue_per_hour_buckets(shop_store: Store) -> None:
    hour0 = NOW - NOW % 3600
    with shop_store.write() as session:
        upsert_orders(
            session,
            SHOP_ID,
            [
                order("o1", create_time=hour0 + 10, skus={"a": 2}, price="5.00"),
                order("o2", create_time=hour0 + 3599, skus={"b": 1}, price="7.50"),
                order("o3", create_time=hour0 + 3600, skus={"a": 1}, price="5.00"),
                order("o4", create_time=hour0 + 3700, skus={"a": 1}, price="9", currency="GBP"),
                order("o5", create_time=hour0 + 3700, status="CANCELLED", skus={"a": 9}),
            ],
            NOW,
        )
    with shop_store.read() as session:
        rows = revenue_per_hour(session, SHOP_ID, hour0, hour0 + 7200)
    assert [(r.hour, r.currency, r.orders, r.units, r.revenue) for r in rows] == [
        (hour0, "USD", 2, 3, Decimal("17.50")),
        (hour0 + 3600, "GBP", 1, 1, Decimal("9")),
        (hour0 + 3600, "USD", 1, 1, Decimal("5.00")),
    ]


def test_status_counts_and_lists(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_orders(
            session,
            SHOP_ID,
            [
                order("o1", status="UNPAID", create_time=NOW),
                order("o2", status="AWAITING_SHIPMENT", create_time=NOW + 1),
                order("o3", status="AWAITING_SHIPMENT", create_time=NOW + 2),
                order("o4", status="DELIVERED", create_time=NOW + 3),
            ],
            NOW,
        )
    with shop_store.read() as session:
        counts = order_status_counts(session, SHOP_ID)
        recent = order_status_counts(session, SHOP_ID, since=NOW + 2)
        waiting = orders_with_status(session, SHOP_ID, ["AWAITING_SHIPMENT", "UNPAID"], limit=2)
    assert counts[OrderStatus.AWAITING_SHIPMENT] == 2 and counts[OrderStatus.COMPLETED] == 0
    assert sum(counts.values()) == 4
    assert sum(recent.values()) == 2
    assert [o.id for o in waiting] == ["o1", "o2"]


def test_combined_listing_counts_the_skus_that_ship(shop_store: Store) -> None:
    """A combined-listing line item ships its combined_listing_skus (each sku_count times):
    those SKUs sell, not the listing's own sku_id, and the order's revenue stays the line
    item's sale price."""
    bundle = parse(
        Order,
        {
            "id": "o-bundle",
            "status": "AWAITING_SHIPMENT",
            "create_time": NOW,
            "update_time": NOW,
            "line_items": [
                {
                    "id": "li-1",
                    "sku_id": "combo",
                    "product_id": "p-combo",
                    "sale_price": "29.99",
                    "combined_listing_skus": [
                        {"sku_id": "red", "sku_count": 1, "product_id": "p-red"},
                        {"sku_id": "blue", "sku_count": 2, "product_id": "p-blue"},
                    ],
                },
                {"id": "li-2", "sku_id": "red", "product_id": "p-red", "sale_price": "9.99"},
            ],
        },
    )
    assert bundle.units_by_sku() == {"red": 2, "blue": 2}
    with shop_store.write() as session:
        result = upsert_orders(session, SHOP_ID, [bundle], NOW)
    assert result.skus == {"red", "blue"}
    assert _units(shop_store) == {"red": 2, "blue": 2}
    with shop_store.read() as session:
        (hour,) = revenue_per_hour(session, SHOP_ID, NOW - 10, NOW + 10)
    assert (hour.units, hour.revenue) == (4, Decimal("39.98"))


def test_what_a_poll_compares_with_is_read_in_chunks(shop_store: Store) -> None:
    """`stored_statuses` / `order_versions` answer for more ids than one IN (...) may hold,
    and leave out the ids never stored."""
    from app.store.orders import order_versions, stored_statuses

    ids = [f"o-{n:04d}" for n in range(1_200)]
    with shop_store.write() as session:
        upsert_orders(
            session,
            SHOP_ID,
            [
                order(i, status="UNPAID" if n % 2 else "AWAITING_SHIPMENT", update_time=NOW + n)
                for n, i in enumerate(ids)
            ],
            NOW,
        )
    asked = [*ids, "never-seen"]
    with shop_store.read() as session:
        statuses = stored_statuses(session, asked)
        versions = order_versions(session, asked)
    assert len(statuses) == len(versions) == 1_200 and "never-seen" not in statuses
    assert statuses["o-0001"] == "UNPAID" and statuses["o-0002"] == "AWAITING_SHIPMENT"
    assert versions["o-1199"] == (NOW + 1199, "UNPAID")
