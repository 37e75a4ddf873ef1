"""One shop's full data set: every entity written, read back, and forgotten together."""

from __future__ import annotations

from sqlalchemy import text

from app.store import (
    ApiCall,
    Store,
    forget_shop,
    list_shops,
    record_affiliate_orders,
    record_alert_level,
    record_api_calls,
    record_webhook,
    set_shop_settings,
    set_sku_settings,
    set_watermark,
    upsert_orders,
    upsert_products,
    upsert_shop,
    upsert_videos,
)
from app.store.schema import Base
from tests.store.factories import NOW, SHOP_ID, affiliate_order, order, product, shop, video


def _fill(store: Store, shop_id: str) -> None:
    sku = f"{shop_id}-sku"
    with store.write() as session:
        upsert_shop(session, shop(shop_id), NOW)
        upsert_products(session, shop_id, [product(f"{shop_id}-p", {sku: {"w": 5}})], NOW)
        upsert_orders(session, shop_id, [order(f"{shop_id}-o", skus={sku: 1})], NOW)
        upsert_videos(session, shop_id, [video(f"{shop_id}-v", 100, 1, (f"{shop_id}-p",))], NOW)
        entry = {"product_id": f"p-{sku}", "content_type": "VIDEO",
                 "content_id": f"{shop_id}-v"}  # fmt: skip
        record_affiliate_orders(session, shop_id, [affiliate_order(f"{shop_id}-o", [entry])], NOW)
        record_webhook(session, shop_id, "1", f"{shop_id}-n", 1, "{}", NOW)
        record_alert_level(session, shop_id, sku, "critical", NOW)
        set_shop_settings(session, shop_id, NOW, pack_size=6)
        set_sku_settings(session, shop_id, sku, NOW, incoming_units=10)
        set_watermark(session, shop_id, "orders", NOW, NOW)
        record_api_calls(session, [ApiCall(NOW, "GET", "/x", 1.0, 200, 0, shop_id)])


def _counts(store: Store) -> dict[str, int]:
    with store.read() as session:
        return {
            name: int(session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())  # noqa: S608
            for name in Base.metadata.tables
        }


def test_every_table_is_written_and_forget_shop_clears_only_that_shop(store: Store) -> None:
    _fill(store, SHOP_ID)
    _fill(store, "other")
    filled = _counts(store)
    assert {n: c for n, c in filled.items() if c != 2} == {}  # every table, both shops
    with store.write() as session:
        forget_shop(session, SHOP_ID)
    assert {n: c for n, c in _counts(store).items() if c != 1} == {}
    with store.read() as session:
        assert [s.id for s in list_shops(session)] == ["other"]
