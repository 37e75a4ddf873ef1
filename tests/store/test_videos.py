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
from tests.store.factories import NOW, SHOP_ID, affiliate_order, video

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
    entries = [
        {"sku_id": "a", "product_id": "p", "quantity": 2, "content_type": "VIDEO",
         "content_id": BIG_VIDEO, "creator_username": "glowqueen"},
        {"sku_id": "b", "product_id": "p", "quantity": 1, "content_type": "LIVE",
         "content_id": "room-1"},
        {"sku_id": "c", "product_id": "p", "quantity": 1, "content_type": "VIDEO"},
    ]  # fmt: skip
    with shop_store.write() as session:
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


def test_correlated_attribution_never_overrides_explicit(shop_store: Store) -> None:
    explicit = [{"sku_id": "a", "product_id": "p", "quantity": 1, "content_type": "VIDEO",
                 "content_id": "v1"}]  # fmt: skip
    with shop_store.write() as session:
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
