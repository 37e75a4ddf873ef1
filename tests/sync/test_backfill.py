"""Backfill against the real sandbox: products, SKUs, stock and 30 days of orders through the
low lane, with progress, resumable after an interruption (no order lost, none fetched twice
beyond the boundary second)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.store.catalog import upsert_shop
from app.store.db import open_store
from app.store.schema import OrderRow, SkuRow
from app.sync.backfill import Backfill
from app.sync.database import Database
from app.sync.shops import ShopContext
from app.sync.state import BackfillProgress
from tests.e2e.harness import world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def test_backfill_is_resumable_and_complete(tmp_path: Path) -> None:
    with world(tmp_path, seed=4, speed=0.0, webhooks=False, orders_per_hour=120.0) as w:
        w.sandbox.clock.advance(3 * 86_400)  # three days of history
        truth = w.sandbox.truth()
        connection = await w.connect()
        ctx = ShopContext(connection.shops[0])
        db = Database(open_store(path=tmp_path / "app.sqlite3"))
        try:
            await db.write(lambda s: upsert_shop(s, ctx.shop, 0))
            seen: list[BackfillProgress] = []
            first = Backfill(db, connection.client, w.sandbox.clock.now, seen.append, page_size=50)
            task = asyncio.create_task(first.run(ctx))
            while not any(p.phase == "orders" and p.done >= 150 for p in seen):
                await asyncio.sleep(0.01)
                assert not task.done()
            task.cancel()  # the app quits in the middle of the orders
            with pytest.raises(asyncio.CancelledError):
                await task
            partial = await db.read(
                lambda s: s.execute(select(func.count()).select_from(OrderRow)).scalar_one()
            )
            assert 150 <= partial < truth["orders"]["count"]
            assert not await first.done(ctx.id)

            again: list[BackfillProgress] = []
            second = Backfill(
                db, connection.client, w.sandbox.clock.now, again.append, page_size=50
            )
            result = await second.run(ctx)
            assert result.resumed
            assert result.products == 0, "products were finished before the interruption"
            assert result.orders < truth["orders"]["count"] - 100, "resumed, not restarted"
            assert await second.done(ctx.id)
            count = await db.read(
                lambda s: s.execute(select(func.count()).select_from(OrderRow)).scalar_one()
            )
            stock = await db.read(
                lambda s: dict(s.execute(select(SkuRow.id, SkuRow.quantity)).all())
            )
        finally:
            await connection.aclose()
            db.close()
    assert count == truth["orders"]["count"]
    assert stock == {sku["sku_id"]: sku["available"] for sku in truth["skus"]}
    products = [p for p in seen if p.phase == "products"]
    assert products and products[-1].done == products[-1].total
    orders = [p for p in again if p.phase == "orders"]
    assert orders[-1].rate_per_s > 0
    assert orders[-1].seconds_left == 0
    assert again[-1].finished


async def test_the_seller_can_pause_the_first_sync_once(tmp_path: Path) -> None:
    """Cancel during the first sync stops the engine's backfill (and only that); once it has
    ended there is nothing left to cancel."""
    with world(tmp_path, seed=4, speed=0.0, webhooks=False, orders_per_hour=120.0) as w:
        w.sandbox.clock.advance(3 * 86_400)
        connection = await w.connect()
        engine = w.engine(connection)
        try:
            assert not engine.cancel_backfill()  # not started yet
            await engine.start()
            assert engine.cancel_backfill()
            await asyncio.wait_for(engine.backfill_done.wait(), 10)
            assert not engine.cancel_backfill()
            shop_id = connection.shops[0].id
            assert shop_id not in engine.backfill_results  # it stopped, it did not finish
            assert engine.consumer is None or not engine.consumer.fatal
        finally:
            await engine.stop()
            await connection.aclose()
            engine.db.close()


async def test_time_left_is_never_less_than_the_rate_limit_allows(tmp_path: Path) -> None:
    """The seller plans around the time left: it must not promise the first sync sooner than
    TikTok's rate limit can deliver the pages still to fetch (the budget starts full, so the
    first pages arrive at once and the pace so far alone promised too little)."""
    qps, page_size = 20.0, 50
    with world(
        tmp_path, seed=6, speed=0.0, webhooks=False, scenario="steady",
        orders_per_hour=120.0, qps=qps,
    ) as w:  # fmt: skip
        w.sandbox.clock.advance(86_400)
        connection = await w.connect(rate_share=1.0)
        ctx = ShopContext(connection.shops[0])
        db = Database(open_store(path=tmp_path / "app.sqlite3"))
        try:
            await db.write(lambda s: upsert_shop(s, ctx.shop, 0))
            seen: list[BackfillProgress] = []
            job = Backfill(
                db, connection.client, w.sandbox.clock.now, seen.append, page_size=page_size
            )
            await job.run(ctx)
        finally:
            await connection.aclose()
            db.close()
    orders = [p for p in seen if p.phase == "orders" and p.done < p.total]
    assert len(orders) > 20
    for p in orders:
        allowed = (p.total - p.done) / (qps * page_size)
        assert p.seconds_left is not None
        assert p.seconds_left >= 0.95 * allowed, (p, allowed)


async def test_orders_sold_while_the_products_are_read_leave_the_stock_exact(
    tmp_path: Path,
) -> None:
    """A shop keeps selling while its first sync runs. Orders placed after a product's stock
    was read, but before the orders window closed, are stored by the backfill; their webhooks
    then count as seen and re-read no stock, so the backfill itself must leave those SKUs at
    the stock TikTok has after them, not the higher one read with the products."""
    with world(tmp_path, seed=4, speed=0.0, webhooks=False, orders_per_hour=600.0) as w:
        w.sandbox.clock.advance(86_400)
        connection = await w.connect()
        ctx = ShopContext(connection.shops[0])
        db = Database(open_store(path=tmp_path / "app.sqlite3"))
        before = w.sandbox.truth()["orders"]["count"]
        sold_meanwhile = False

        def shop_keeps_selling(progress: BackfillProgress) -> None:
            nonlocal sold_meanwhile
            if progress.phase == "products" and not sold_meanwhile:
                sold_meanwhile = True
                w.sandbox.clock.advance(2 * 3_600)  # two hours of orders after the first page

        try:
            await db.write(lambda s: upsert_shop(s, ctx.shop, 0))
            job = Backfill(db, connection.client, w.sandbox.clock.now, shop_keeps_selling)
            await job.run(ctx)
            stock = await db.read(
                lambda s: dict(s.execute(select(SkuRow.id, SkuRow.quantity)).all())
            )
            count = await db.read(
                lambda s: s.execute(select(func.count()).select_from(OrderRow)).scalar_one()
            )
        finally:
            await connection.aclose()
            db.close()
        truth = w.sandbox.truth()
    assert truth["orders"]["count"] > before + 100, "the shop sold while the sync ran"
    assert count == truth["orders"]["count"]
    assert stock == {sku["sku_id"]: sku["available"] for sku in truth["skus"]}
