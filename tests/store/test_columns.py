"""The columns read straight from SQL hold the same sales, stock and views as the records
(`sales_events`, stock and view histories) they replace in the insight loader (#15)."""

from __future__ import annotations

from decimal import Decimal

from app.insight.history import ShopHistory
from app.insight.types import Sale, SkuState, StockPoint, VideoInfo, ViewPoint
from app.store import (
    Store,
    current_stock,
    record_stock,
    sales_events,
    stock_history,
    upsert_orders,
    upsert_products,
    upsert_videos,
)
from app.store.columns import stock_series
from app.store.schema import AttributionRow
from app.store.videos import video_views
from app.sync.loader import load_shop_data
from tests.store.factories import NOW, SHOP_ID, order, product, video

HOUR = 3600


def _fill(store: Store) -> None:
    with store.write() as session:
        upsert_products(
            session,
            SHOP_ID,
            [product("p1", {"a": {"w": 50}, "b": {"w": 9}}), product("p2", {"c": {"w": 3}})],
            NOW - 10 * HOUR,
        )
        upsert_orders(
            session,
            SHOP_ID,
            [
                order("o1", create_time=NOW - 5 * HOUR, skus={"a": 2, "b": 1}, price="9.99"),
                order("o2", create_time=NOW - 4 * HOUR, skus={"a": 1, "ghost": 2}),
                order("o3", create_time=NOW - 3 * HOUR, skus={"c": 1}, status="CANCELLED"),
                order("o4", create_time=NOW - 2 * HOUR, skus={"b": 2}, price="0.10"),
                order("o5", create_time=NOW - 2 * HOUR, skus={"a": 1}),  # same second as o4
                order("old", create_time=NOW - 30 * 86_400, skus={"a": 1}),  # outside
            ],
            NOW,
        )
        for vid, title_views in (("v1", 100), ("v2", 5000)):
            upsert_videos(session, SHOP_ID, [video(vid, title_views, products=("p1",))], NOW - HOUR)
        upsert_videos(session, SHOP_ID, [video("v2", 9000, products=("p1",))], NOW)
        for order_id, sku_id, video_id in (
            ("o1", "a", "v2"),
            ("o1", "a", "v1"),  # two claims: the highest id wins, as before
            ("o4", "b", "v9-unlisted"),  # a creator's video the shop's analytics never list
        ):
            session.add(
                AttributionRow(
                    order_id=order_id,
                    sku_id=sku_id,
                    video_id=video_id,
                    shop_id=SHOP_ID,
                    units=1,
                    method="explicit",
                    recorded_at=NOW,
                )
            )
        record_stock(session, "a", {"w": 40}, NOW - HOUR, "order")
        record_stock(session, "b", {"w": 5}, NOW - 30 * 60, "order")


def _reference(store: Store, since: int, until: int) -> ShopHistory:
    """What the loader built before #15: records, then `from_records`."""
    with store.read() as session:
        skus = [
            SkuState(row.sku_id, row.product_id, row.product_title, row.seller_sku, row.quantity)
            for row in current_stock(session, SHOP_ID)
        ]
        explicit: dict[tuple[str, str], str] = {}
        for row in sorted(
            session.query(AttributionRow).filter_by(method="explicit"), key=lambda r: r.video_id
        ):
            explicit[(row.order_id, row.sku_id)] = row.video_id
        sales = [
            Sale(float(e.time), e.sku_id, e.units, e.revenue, explicit.get((e.order_id, e.sku_id)))
            for e in sales_events(session, SHOP_ID, since, until)
        ]
        stock = [
            StockPoint(float(p.at), sku.sku_id, p.quantity)
            for sku in skus
            for p in stock_history(session, sku.sku_id, since)
        ]
        views = [
            ViewPoint(float(p.at), vid, p.views)
            for vid in ("v1", "v2")
            for p in video_views(session, vid, since)
        ]
    return ShopHistory.from_records(
        skus, sales, stock, views, [VideoInfo("v1"), VideoInfo("v2")], since=float(since)
    )


def _sales(h: ShopHistory) -> list[tuple[str, float, float, float, str | None]]:
    return sorted(
        (
            h.skus[int(s)].sku_id,
            float(t),
            float(u),
            round(float(r), 6),
            None if v < 0 else h.videos[int(v)].video_id,
        )
        for s, t, u, r, v in zip(
            h.sale_sku, h.sale_time, h.sale_units, h.sale_revenue, h.sale_video, strict=True
        )
    )


def _stock(h: ShopHistory) -> list[tuple[str, float, float]]:
    return sorted(
        (h.skus[int(s)].sku_id, float(t), float(q))
        for s, t, q in zip(h.stock_sku, h.stock_time, h.stock_available, strict=True)
    )


def _views(h: ShopHistory) -> list[tuple[str, float, float]]:
    return sorted(
        (h.videos[int(v)].video_id, float(t), float(c))
        for v, t, c in zip(h.view_video, h.view_time, h.view_count, strict=True)
    )


def test_the_loader_reads_the_same_history_as_the_records_did(shop_store: Store) -> None:
    _fill(shop_store)
    with shop_store.read() as session:
        data = load_shop_data(session, SHOP_ID, float(NOW))
    got = data.history
    since = NOW - 8 * 86_400
    want = _reference(shop_store, since, NOW + 1)
    assert _sales(got) == _sales(want)
    assert _stock(got) == _stock(want)
    assert _views(got) == _views(want)
    # The cases that matter, said plainly: cancelled and unknown SKUs are not sales, the
    # explicit video is attached, an unlisted video is known by its id.
    sales = _sales(got)
    assert ("a", float(NOW - 5 * HOUR), 2.0, 19.98, "v2") in sales
    assert not any(sku in ("c", "ghost") for sku, *_ in sales)
    assert ("b", float(NOW - 2 * HOUR), 2.0, 0.2, "v9-unlisted") in sales
    assert list(got.sale_time) == sorted(got.sale_time)
    titles = {v.video_id: v.title for v in got.videos}
    assert titles["v2"] == "Before/after" and titles["v9-unlisted"] == ""
    linked = {v.video_id: v.product_ids for v in got.videos}
    assert linked["v1"] == frozenset({"p1"})


def test_stock_series_start_at_the_window_and_hold_every_change_in_it(shop_store: Store) -> None:
    _fill(shop_store)
    with shop_store.write() as session:
        record_stock(session, "a", {"w": 30}, NOW - 20 * 86_400, "order")  # before the window
        record_stock(session, "a", {"w": 25}, NOW - 3 * 86_400, "order")
    since = NOW - 14 * 86_400
    with shop_store.read() as session:
        got = stock_series(session, SHOP_ID, since)
        for sku_id in ("a", "b", "c"):
            points = stock_history(session, sku_id)
            before = [p for p in points if p.at < since]
            want = [(float(since), float(before[-1].quantity))] if before else []
            want += [(float(p.at), float(p.quantity)) for p in points if p.at >= since]
            times, levels = got[sku_id]
            assert list(zip(times.tolist(), levels.tolist(), strict=True)) == want, sku_id
    assert got["a"][1].tolist() == [30.0, 25.0, 50.0, 40.0]  # level at the start, then changes
    assert got["a"][0][0] == since
    # Only some SKUs (those whose stock moved): the same series as the shop-wide read.
    with shop_store.read() as session:
        some = stock_series(session, SHOP_ID, since, ["c", "a", "unknown"])
    assert set(some) == {"a", "c"} & set(got)
    for sku_id, (times, levels) in some.items():
        assert times.tolist() == got[sku_id][0].tolist()
        assert levels.tolist() == got[sku_id][1].tolist()


def test_order_facts_hold_each_orders_exact_revenue_and_its_video_share(
    shop_store: Store,
) -> None:
    _fill(shop_store)
    with shop_store.write() as session:  # an old order still to ship counts too
        upsert_orders(
            session,
            SHOP_ID,
            [order("late", create_time=NOW - 9 * 86_400, skus={"a": 3}, price="0.10")],
            NOW,
        )
    with shop_store.read() as session:
        facts = {f.order_id: f for f in load_shop_data(session, SHOP_ID, float(NOW)).orders}
    # Recent orders, and older ones still to ship ("old" and "late" await shipment).
    assert set(facts) == {"o1", "o2", "o3", "o4", "o5", "old", "late"}
    assert facts["o1"].revenue == Decimal("29.97") and facts["o1"].video_revenue == Decimal("19.98")
    assert facts["late"].revenue == Decimal("0.30") and facts["o4"].video_revenue == Decimal("0.20")
    assert facts["o2"].revenue == Decimal("38.97")  # the unknown SKU's units are revenue too
