"""A stale stock read must never overwrite a newer one: the webhook path and reconciliation
both read stock over the network and commit it, so they take the shop's stock lock for the
read *and* the commit. Driven deterministically: the reconciliation's real inventory read is
held (after TikTok answered, before the commit) while the stock changes in the sandbox and an
inventory webhook for it arrives."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from app.sync.consumer import RelayEvent
from tests.e2e.harness import fast_settings, wait_until, world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def test_a_reconcile_read_held_back_cannot_regress_stock(tmp_path: Path) -> None:
    with world(tmp_path, seed=1, speed=600.0, webhooks=False) as w:
        connection = await w.connect()
        quiet = fast_settings(reconcile_interval=3600.0, video_interval=3600.0)
        engine = w.engine(connection, settings=quiet)
        shop = connection.shops[0]
        ctx = engine.shops[shop.id]
        api = connection.client
        try:
            await engine.start()
            await wait_until(lambda: engine.backfill_done.is_set(), 30)
            w.sandbox.clock.pause()  # no sales: only our update moves stock
            await engine.reconciler.run_once(ctx)
            sku = (await engine.report())["skus"][0]
            found = await api.search_inventory(shop, sku_ids=[sku["sku_id"]])
            item = found.inventory[0].skus[0]
            warehouse = item.warehouse_inventory[0]

            read_done = asyncio.Event()
            release = asyncio.Event()
            real_search = api.search_inventory

            async def held_search(*args: Any, **kwargs: Any) -> Any:
                result = await real_search(*args, **kwargs)
                if kwargs.get("product_ids"):  # the reconciler's read, not the webhook's
                    read_done.set()
                    await release.wait()
                return result

            api.search_inventory = held_search  # type: ignore[method-assign]
            reconcile = asyncio.create_task(engine.reconciler.run_once(ctx))
            await asyncio.wait_for(read_done.wait(), 20)

            # The stock changes after the reconciler read it (the seller edits it in Seller
            # Center); TikTok sends webhook 71.
            new_quantity = warehouse.available_quantity + 37
            w.sandbox.set_stock(sku["sku_id"], warehouse.warehouse_id, new_quantity)
            webhook = {
                "type": 71,
                "tts_notification_id": "stock-71",
                "shop_id": shop.id,
                "timestamp": int(time.time()),
                "data": {"sku_id": sku["sku_id"], "product_id": sku["product_id"]},
            }
            apply = asyncio.create_task(
                engine.sink.apply([RelayEvent(shop.id, "1", time.time(), webhook)])
            )
            done, _ = await asyncio.wait({apply}, timeout=1.0)
            waited_for_the_lock = apply not in done
            release.set()
            await asyncio.wait_for(reconcile, 20)
            await asyncio.wait_for(apply, 20)
            api.search_inventory = real_search  # type: ignore[method-assign]

            stored = {s["sku_id"]: s["available"] for s in (await engine.report())["skus"]}
            truth = {s["sku_id"]: s["available"] for s in w.sandbox.truth()["skus"]}
        finally:
            await engine.stop()
            await connection.aclose()
            engine.db.close()
    assert waited_for_the_lock, "the webhook path ran while a stock read was uncommitted"
    assert truth[sku["sku_id"]] != sku["available"], "the sandbox stock really changed"
    assert stored[sku["sku_id"]] == truth[sku["sku_id"]]
