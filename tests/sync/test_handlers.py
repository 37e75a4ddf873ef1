"""Webhook handlers against the real sandbox: duplicates, replays and out-of-order delivery
leave exactly the state one clean delivery leaves; deauthorization and expiry warnings change
the connection state."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.catalog import upsert_shop
from app.store.db import open_store
from app.store.schema import LineItemRow, OrderRow, SkuRow
from app.sync.consumer import RelayEvent
from app.sync.counters import SyncCounters
from app.sync.database import Database
from app.sync.handlers import WebhookSink
from app.sync.shops import ShopContext
from app.sync.state import LinkState
from app.tiktok.signing import webhook_signature
from tests.e2e.harness import fast_settings, wait_until, world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def _state(session: Session) -> dict[str, Any]:
    orders = sorted(
        (row.id, row.status, row.update_time, row.total_amount)
        for row in session.execute(
            select(OrderRow.id, OrderRow.status, OrderRow.update_time, OrderRow.total_amount)
        )
    )
    items = session.execute(select(LineItemRow.id)).scalars().all()
    stock = dict(session.execute(select(SkuRow.id, SkuRow.quantity)).all())
    return {"orders": orders, "line_items": sorted(items), "stock": stock}


async def _sink(folder: Path, name: str, connection: Any) -> tuple[WebhookSink, Database, Any]:
    db = Database(open_store(path=folder / name))
    shops = {shop.id: ShopContext(shop) for shop in connection.shops}
    now = int(time.time())

    def store_shops(session: Session) -> None:
        for ctx in shops.values():
            upsert_shop(session, ctx.shop, now)

    await db.write(store_shops)
    links: list[tuple[str, LinkState]] = []
    counters = SyncCounters()
    sink = WebhookSink(
        db,
        connection.client,
        shops,
        time.time,
        counters,
        on_changed=lambda shop_id, touched: None,
        on_link=lambda shop_id, state, detail, expires: links.append((shop_id, state)),
        resync=lambda shop_id: asyncio.sleep(0),
    )
    return sink, db, (counters, links)


async def test_duplicates_replays_and_reordering_leave_the_clean_state(tmp_path: Path) -> None:
    with world(tmp_path, seed=2, speed=1200.0) as w:
        connection = await w.connect()
        engine = w.engine(connection, "live.sqlite3")
        events: list[RelayEvent] = []
        apply = engine.sink.apply

        async def tap(batch: Sequence[RelayEvent]) -> None:
            events.extend(batch)
            await apply(batch)

        engine.sink.apply = tap  # type: ignore[method-assign, assignment]
        try:
            await engine.start()
            await wait_until(lambda: len(events) >= 40, 40)
            w.sandbox.clock.pause()  # the shop stands still: re-reads see one fixed state
            await engine.drain_and_reconcile()
        finally:
            await engine.stop()
            engine.db.close()
        clean, clean_db, (clean_counters, _) = await _sink(tmp_path, "clean.sqlite3", connection)
        messy, messy_db, (messy_counters, _) = await _sink(tmp_path, "messy.sqlite3", connection)
        try:
            for start in range(0, len(events), 7):
                await clean.apply(events[start : start + 7])
            rng = random.Random(5)
            replayed = events + rng.sample(events, len(events) // 2)  # replays and duplicates
            rng.shuffle(replayed)  # out of order
            for start in range(0, len(replayed), 11):
                await messy.apply(replayed[start : start + 11])
            await messy.apply(events[:5])  # a whole batch delivered again after a reconnect
            clean_state = await clean_db.read(_state)
            messy_state = await messy_db.read(_state)
        finally:
            await connection.aclose()
            clean_db.close()
            messy_db.close()
    assert clean_state["orders"], "the run produced orders"
    assert messy_state == clean_state
    assert clean_counters.duplicates_ignored == 0
    assert messy_counters.webhooks_applied == clean_counters.webhooks_applied == len(events)
    assert messy_counters.duplicates_ignored == len(events) // 2 + 5


def _post(base_url: str, app_key: str, secret: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Authorization": webhook_signature(app_key, secret, raw)}
    with httpx.Client(trust_env=False, timeout=5) as http:
        assert http.post(base_url + "/webhooks/tiktok", content=raw, headers=headers).is_success


async def test_expiry_warning_and_deauthorization_show_in_the_connection_state(
    tmp_path: Path,
) -> None:
    with world(tmp_path, seed=1, speed=60.0) as w:
        connection = await w.connect()
        engine = w.engine(connection)
        shop_id = connection.shops[0].id
        try:
            await engine.start()
            await wait_until(lambda: engine.backfill_done.is_set(), 20)
            expires = int(w.sandbox.clock.now()) + 5 * 86_400
            await asyncio.to_thread(
                _post,
                w.relay_url,
                w.sandbox.app_key,
                w.sandbox.app_secret,
                {
                    "type": 7,
                    "tts_notification_id": "expiry-1",
                    "shop_id": shop_id,
                    "timestamp": int(time.time()),
                    "data": {"message": "expires soon", "expiration_time": str(expires)},
                },
            )
            await wait_until(lambda: engine.snapshot(shop_id).api.state is LinkState.EXPIRING, 10)
            assert engine.snapshot(shop_id).api.expires_at == expires
            assert w.sandbox.revoke(shop_id)  # the seller removes the app: webhook 6
            await wait_until(
                lambda: engine.snapshot(shop_id).api.state is LinkState.DEAUTHORIZED, 15
            )
            assert engine.shops[shop_id].deauthorized
        finally:
            await engine.stop()
            await connection.aclose()
            engine.db.close()


async def test_an_unreachable_api_shows_as_error_until_it_recovers(tmp_path: Path) -> None:
    from app.tiktok.errors import TikTokError

    with world(tmp_path, seed=1, speed=60.0) as w:
        connection = await w.connect()
        # No scheduled passes: only the resyncs below touch the API link state.
        quiet = fast_settings(reconcile_interval=3600.0, video_interval=3600.0)
        engine = w.engine(connection, settings=quiet)
        shop_id = connection.shops[0].id
        try:
            await engine.start()
            await wait_until(lambda: engine.backfill_done.is_set(), 20)
            assert engine.snapshot(shop_id).api.state is LinkState.CONNECTED
            w.sandbox.faults.error_rate = 1.0  # every Open API call answers 5xx
            with pytest.raises(TikTokError):
                await engine.resync(shop_id)
            assert engine.snapshot(shop_id).api.state is LinkState.ERROR
            w.sandbox.faults.error_rate = 0.0
            await engine.resync(shop_id)
            assert engine.snapshot(shop_id).api.state is LinkState.CONNECTED
        finally:
            await engine.stop()
            await connection.aclose()
            engine.db.close()
