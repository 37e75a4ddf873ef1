"""Videos, their view history and order-to-video attribution."""

from __future__ import annotations

from decimal import Decimal

from app.store import (
    Store,
    attributions,
    record_affiliate_orders,
    record_attribution,
    upsert_videos,
    video_views,
    videos_for_products,
    view_histories,
)
from app.store.orders import upsert_orders
from app.tiktok.models import Order, parse
from tests.store.factories import NOW, SHOP_ID, affiliate_order, order, video

BIG_VIDEO = "7380066284010030890123"


def test_video_round_trip_and_view_history(shop_store: Store) -> None:
    with shop_store.write() as session:
        changed = upsert_videos(session, SHOP_ID, [video(BIG_VIDEO, 1000, 3, ("p-1",))], NOW)
    assert changed == [BIG_VIDEO]
    with shop_store.write() as session:  # unchanged totals: no new history row
        assert (
            upsert_videos(session, SHOP_ID, [video(BIG_VIDEO, 1000, 3, ("p-1",))], NOW + 60) == []
        )
    with shop_store.write() as session:
        upsert_videos(session, SHOP_ID, [video(BIG_VIDEO, 25_000, 40, ("p-1", "p-2"))], NOW + 120)
    with shop_store.write() as session:  # units moved, views did not: history row, no view change
        assert upsert_videos(session, SHOP_ID, [video(BIG_VIDEO, 25_000, 41)], NOW + 180) == []
    with shop_store.read() as session:
        history = video_views(session, BIG_VIDEO)
        later = video_views(session, BIG_VIDEO, since=NOW + 100, until=NOW + 150)
        linked = videos_for_products(session, SHOP_ID, ["p-2", "p-1", "p-9"])
        shop_wide = view_histories(session, SHOP_ID, since=NOW + 100)
    assert [(p.at, p.views, p.units_sold) for p in history] == [
        (NOW, 1000, 3),
        (NOW + 120, 25_000, 40),
        (NOW + 180, 25_000, 41),
    ]
    assert [p.views for p in later] == [25_000]
    assert shop_wide == {BIG_VIDEO: history[1:]}
    assert list(linked) == ["p-2", "p-1", "p-9"]
    [info] = linked["p-1"]
    assert (info.id, info.views, info.units_sold, info.username) == (
        BIG_VIDEO,
        25_000,
        41,
        "glowqueen",
    )
    assert info.gmv == Decimal("1234.50") and info.gmv_currency == "USD"
    assert info.posted_at == NOW - 3600
    assert linked["p-9"] == []


def test_explicit_attribution_from_affiliate_orders(shop_store: Store) -> None:
    """Affiliate SKUs carry no sku_id (only product_id): the SKU comes from the order's
    stored line items of that product."""
    entries = [
        {"product_id": "p-a", "quantity": 2, "content_type": "VIDEO",
         "content_id": BIG_VIDEO, "creator_username": "glowqueen"},
        {"product_id": "p-b", "quantity": 1, "content_type": "LIVE", "content_id": "room-1"},
        {"product_id": "p-c", "quantity": 1, "content_type": "VIDEO"},
    ]  # fmt: skip
    with shop_store.write() as session:
        upsert_orders(session, SHOP_ID, [order("o1", skus={"a": 2, "b": 1, "c": 1})], NOW)
        assert record_affiliate_orders(session, SHOP_ID, [affiliate_order("o1", entries)], NOW) == 1
    with shop_store.write() as session:  # the same affiliate page again: still one row
        record_affiliate_orders(session, SHOP_ID, [affiliate_order("o1", entries)], NOW + 60)
    with shop_store.read() as session:
        rows = attributions(session, SHOP_ID)
        by_order = attributions(session, SHOP_ID, order_ids=["o1", "o2"])
    assert [(r.order_id, r.sku_id, r.video_id, r.units, r.method) for r in rows] == [
        ("o1", "a", BIG_VIDEO, 2, "explicit")
    ]
    assert rows[0].creator_username == "glowqueen"
    assert by_order == rows


def test_affiliate_units_are_credited_to_the_orders_skus_of_that_product(
    shop_store: Store,
) -> None:
    """Two SKUs of one product in one order: each gets its own units, at most the affiliate
    quantity in all; an order not stored yet is skipped (no SKU can be named)."""
    two = parse(
        Order,
        {
            "id": "o3",
            "status": "AWAITING_SHIPMENT",
            "create_time": NOW,
            "update_time": NOW,
            "line_items": [
                {"id": "l1", "sku_id": "red", "product_id": "shirt", "sale_price": "5"},
                {"id": "l2", "sku_id": "blue", "product_id": "shirt", "sale_price": "5"},
                {"id": "l3", "sku_id": "blue", "product_id": "shirt", "sale_price": "5"},
            ],
        },
    )
    sold = [{"product_id": "shirt", "quantity": 3, "content_type": "VIDEO", "content_id": "v9"}]
    with shop_store.write() as session:
        upsert_orders(session, SHOP_ID, [two], NOW)
        written = record_affiliate_orders(
            session,
            SHOP_ID,
            [affiliate_order("o3", sold), affiliate_order("not-yet-synced", sold)],
            NOW,
        )
    assert written == 2
    with shop_store.read() as session:
        rows = attributions(session, SHOP_ID, video_id="v9")
    assert sorted((r.order_id, r.sku_id, r.units) for r in rows) == [
        ("o3", "blue", 2),
        ("o3", "red", 1),
    ]


def test_correlated_attribution_never_overrides_explicit(shop_store: Store) -> None:
    explicit = [{"product_id": "p-a", "quantity": 1, "content_type": "VIDEO",
                 "content_id": "v1"}]  # fmt: skip
    with shop_store.write() as session:
        upsert_orders(session, SHOP_ID, [order("o1", skus={"a": 1})], NOW)
        record_affiliate_orders(session, SHOP_ID, [affiliate_order("o1", explicit)], NOW)
        assert not record_attribution(session, SHOP_ID, "o1", "a", "v1", 5, NOW)
        assert record_attribution(session, SHOP_ID, "o2", "a", "v1", 1, NOW)
        assert record_attribution(session, SHOP_ID, "o2", "a", "v1", 2, NOW + 1)  # refreshed
    with shop_store.read() as session:
        rows = attributions(session, SHOP_ID, video_id="v1")
    assert [(r.order_id, r.units, r.method) for r in rows] == [
        ("o1", 1, "explicit"),
        ("o2", 2, "correlated"),
    ]
