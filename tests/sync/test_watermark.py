"""Reconciliation's order watermark comes from TikTok's `update_time`s, never from our clock:
with the desktop clock an hour ahead of TikTok's, a pass that finds no orders must not move
the watermark to our "now", or the orders TikTok updates in between are never polled."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.store.progress import get_watermark, set_watermark
from app.store.schema import OrderRow
from app.sync.database import Database
from app.sync.reconcile import ORDERS_RESOURCE, Reconciler, next_watermark
from tests.e2e.harness import fast_settings, wait_until, world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

AHEAD = 3600.0


def test_next_watermark_keeps_or_advances_to_what_was_seen() -> None:
    assert next_watermark(None, []) is None
    assert next_watermark(500, []) == 500


async def test_a_clock_ahead_of_tiktok_misses_no_orders(tmp_path: Path) -> None:
    with world(tmp_path, seed=2, speed=600.0, webhooks=False) as w:
        connection = await w.connect()
        quiet = fast_settings(reconcile_interval=3600.0, video_interval=3600.0)
        engine = w.engine(connection, settings=quiet)
        shop = connection.shops[0]
        ctx = engine.shops[shop.id]
        db: Database = engine.db
        # Our clock runs an hour ahead of the sandbox's (TikTok's); no overlap to hide it.
        skewed = Reconciler(db, connection.client, lambda: w.sandbox.clock.now() + AHEAD, overlap=0)
        try:
            await engine.start()
            await wait_until(lambda: engine.backfill_done.is_set(), 30)
            w.sandbox.clock.pause()
            await skewed.run_once(ctx)
            # A quiet spell: the watermark sits past every order stored so far.
            last = await db.read(
                lambda s: s.execute(select(func.max(OrderRow.update_time))).scalar()
            )
            # (The store never moves a watermark back: one the backfill left past that stays.)
            current = await db.read(lambda s: get_watermark(s, shop.id, ORDERS_RESOURCE))
            quiet_mark = max(int(last or int(w.sandbox.clock.now())) + 1, current or 0)

            def mark(session: object) -> None:
                set_watermark(session, shop.id, ORDERS_RESOURCE, quiet_mark, 0.0)  # type: ignore[arg-type]

            await db.write(mark)
            empty = await skewed.run_once(ctx)
            after_empty = await db.read(lambda s: get_watermark(s, shop.id, ORDERS_RESOURCE))
            before = await db.read(
                lambda s: s.execute(select(func.count()).select_from(OrderRow)).scalar_one()
            )

            # The shop sells for a while: sandbox time moved on in steps until an order came
            # (not two seconds of wall time, which a loaded machine made too few minutes).
            for _ in range(72):
                w.sandbox.clock.advance(600.0)
                if w.sandbox.truth()["orders"]["count"] > before:
                    break
            await skewed.run_once(ctx)
            stored = await db.read(
                lambda s: s.execute(select(func.count()).select_from(OrderRow)).scalar_one()
            )
            final_mark = await db.read(lambda s: get_watermark(s, shop.id, ORDERS_RESOURCE))
            sandbox_now = w.sandbox.clock.now()
            truth = w.sandbox.truth()
        finally:
            await engine.stop()
            await connection.aclose()
            db.close()
    assert empty.orders_seen == 0
    assert after_empty == quiet_mark, "a pass without orders keeps the watermark"
    assert final_mark is not None and final_mark <= sandbox_now, "never past what TikTok said"
    assert stored > before, "the shop sold while the clock ran"
    assert stored == truth["orders"]["count"], "every order updated meanwhile was polled"
