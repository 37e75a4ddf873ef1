"""Incremental insight (#15): after a stream of real webhooks (sandbox -> relay -> engine),
where each computation read in and recomputed only the SKUs the webhooks touched, the
insight on screen equals a full read and recomputation of every SKU at the same moment.

Insight's clock stands still (ahead of every event the sandbox makes; the engine writes on the
sandbox's moving clock): a full computation at a later moment moves every SKU's windows,
which is what the runner's periodic full refresh is for; here only the data moves, so any SKU
the incremental path left stale, any row it read in wrongly or left behind, shows as a
difference.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.insight.orders import order_intelligence
from app.insight.types import SkuSettings, SkuState, VideoInfo
from app.store.db import open_store
from app.sync.clock import FunctionClock
from app.sync.database import Database
from app.sync.engine import RelayLink, SyncEngine
from app.sync.insights import InsightResult, compute
from app.sync.loader import Reload, ShopCache, Touched, load_shop_data
from tests.e2e.harness import fast_settings, wait_until, world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_incremental_insight_equals_a_full_recompute(tmp_path: Path) -> None:
    with world(tmp_path, seed=4, speed=1200.0) as w:
        connection = await w.connect()
        frozen = w.sandbox.clock.now() + 6 * 3600.0
        engine = SyncEngine(
            db=Database(open_store(path=tmp_path / "app.sqlite3")),
            api=connection.client,
            shops=connection.shops,
            clock=FunctionClock(w.sandbox.clock.now),
            relay=RelayLink(w.stream_url, connection.subscriber_token),
            requests=connection.requests,
            # Only webhooks (and the final reconciliation) change the store: the periodic
            # passes that read the shop whole would hide what the incremental path does.
            settings=fast_settings(reconcile_interval=3600.0, video_interval=3600.0),
        )
        shop_id = connection.shops[0].id
        runner = engine.insights[shop_id]
        runner.now = lambda: frozen
        results: list[InsightResult] = []
        publish = runner.on_result

        def record(result: InsightResult) -> None:
            results.append(result)
            publish(result)

        runner.on_result = record
        try:
            await engine.start()
            await wait_until(lambda: runner.partial_runs >= 2, 60)
            reads = runner.cache_reads  # the start's reads (backfill, first video poll)
            # The seller empties a few SKUs in Seller Center mid-stream (inventory webhooks):
            # their stock-out spans change their velocity, the stock rows' part of the path.
            emptied = sorted(w.sandbox.world.skus)[:4]
            for sku_id in emptied:
                for warehouse_id in list(w.sandbox.world.skus[sku_id].available):
                    w.sandbox.set_stock(sku_id, warehouse_id, 0)
            await wait_until(
                lambda: runner.partial_runs >= 6 and engine.counters.webhooks_applied >= 60, 60
            )
            w.sandbox.clock.pause()
            assert engine.consumer is not None
            await engine.consumer.drained(quiet=0.5, limit=30)
            await wait_until(lambda: runner.idle, 10)
            last = await runner.compute_now()  # whatever came in last, read in by parts
            assert not last.full
            held = runner._cache
            assert held is not None
            last_stock = held.data(frozen).history
            data = await engine.db.read(lambda s: load_shop_data(s, shop_id, frozen))
            full, _tallied = await asyncio.to_thread(compute, data, dict(runner.levels_before))
            orders = order_intelligence(data.orders, frozen)  # every order added up again
            # The video poll: the viral video posted since is new to the store, views moved,
            # affiliate orders credited; read in by parts (the videos renumbered), not again.
            polled = await engine.videos.run_once(engine.shops[shop_id])
            runner.mark_dirty(Touched(orders=polled.orders, views=bool(polled.views_moved)))
            after_poll = await runner.compute_now()
            data2 = await engine.db.read(lambda s: load_shop_data(s, shop_id, frozen))
            full2, _ = await asyncio.to_thread(compute, data2, dict(runner.levels_before))
        finally:
            await engine.stop()
            engine.db.close()
            await connection.aclose()
    skus = len(data.history.skus)
    partial = [r for r in results if not r.full]
    assert partial, "some computations were incremental"
    # A webhook touching a few SKUs recomputed a few, not the shop.
    assert min(r.recomputed for r in partial) < skus / 4
    assert any(full.by_sku[sku_id].velocity.in_stock_hours_7d < 168.0 for sku_id in emptied)
    assert last.insight.skus == full.skus  # every SKU, in the same order
    assert last.insight.level_by_sku == full.level_by_sku
    assert last.insight.video_by_sku == full.video_by_sku
    assert last.orders == orders
    assert len(data2.history.videos) > len(data.history.videos)  # a video came in
    assert np.array_equal(data2.history.sale_video, cache_video(runner, frozen))
    # The stock rows held (read in by row id since the last read) are a full read's.
    assert np.array_equal(data.history.stock_time, last_stock.stock_time)
    assert np.array_equal(data.history.stock_available, last_stock.stock_available)
    assert np.array_equal(data.history.stock_sku, last_stock.stock_sku)
    assert runner.cache_reads == reads  # the stream and the poll all came in by parts
    assert after_poll.insight.skus == full2.skus
    assert after_poll.insight.video_by_sku == full2.video_by_sku
    hours = [0.0, 1.0, 6.0, 24.0, 72.0]
    for item in full.skus[:10]:
        assert last.insight.projected_stock(item.sku_id, hours) == full.projected_stock(
            item.sku_id, hours
        )


def cache_video(runner: Any, now: float) -> Any:
    """The sale rows' video positions the runner holds, cut as a full read at `now` cuts."""
    cache = runner._cache
    assert cache is not None
    return cache.data(now).history.sale_video


def test_a_new_video_renumbers_the_held_sale_rows() -> None:
    """Video positions are in id order: a video that sorts first moves every attributed sale
    row's position up by one, as a full read would number them; one gone means a full read."""
    videos = (VideoInfo("v2"), VideoInfo("v5"))
    sales = np.array(
        [[1.0, 0, 1, 9.5, 1, 11], [2.0, 0, 1, 9.5, -1, 12], [3.0, 0, 1, 9.5, 0, 13]],
        dtype=np.float64,
    )
    cache = ShopCache(
        "shop", 0, [SkuState("s1", "p1")], SkuSettings(), {}, {}, videos, {}, sales,
        np.zeros((0, 4)), np.zeros((0, 3)), {}, 0,
    )  # fmt: skip
    cache.renumber_videos((VideoInfo("v1"), VideoInfo("v2"), VideoInfo("v5")))
    assert cache.sales[:, 4].tolist() == [2.0, -1.0, 1.0]
    with pytest.raises(Reload):
        cache.renumber_videos((VideoInfo("v1"), VideoInfo("v5")))


def test_stock_of_a_sku_new_since_the_read_makes_a_full_read(tmp_path: Path) -> None:
    """The held stock rows grow by the rows written since the last read. A SKU that came in
    meanwhile (its product synced between the change and the read) is not in the held
    catalogue, and every position after it would move: the runner reads the shop again rather
    than file its rows under another SKU."""
    from app.store import record_stock, upsert_products, upsert_shop
    from tests.store.factories import NOW, SHOP_ID, product, shop

    store = open_store(path=tmp_path / "app.sqlite3")
    try:
        with store.write() as session:
            upsert_shop(session, shop(), NOW)
            upsert_products(session, SHOP_ID, [product("p1", {"a": {"w": 5}, "c": {"w": 7}})], NOW)
        with store.read() as session:
            cache = ShopCache.load(session, SHOP_ID, float(NOW + 60))
        with store.write() as session:
            record_stock(session, "c", {"w": 6}, NOW + 30, "order")
        with store.read() as session:
            assert cache.update(session, Touched(frozenset({"c"}))) == frozenset({"c"})
        assert cache.stock[-1, 0] == cache.index["c"] and cache.stock[-1, 2] == 6.0
        with store.write() as session:
            upsert_products(session, SHOP_ID, [product("p2", {"b": {"w": 9}})], NOW + 40)
            record_stock(session, "c", {"w": 4}, NOW + 50, "order")
        with store.read() as session, pytest.raises(Reload):
            cache.update(session, Touched(frozenset({"c"})))
    finally:
        store.close()
