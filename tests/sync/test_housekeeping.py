"""Housekeeping on a timer: the client's API calls land in `api_calls` (path only: no query,
so never a `sign`, key or token), and processed webhooks and call rows past the retention are
pruned."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.metrics import api_call_stats
from app.store.schema import ApiCallRow, WebhookEventRow
from app.store.webhooks import record_webhook
from tests.e2e.harness import fast_settings, wait_until, world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

WEEK = 7 * 86400.0


async def test_api_calls_are_stored_and_old_rows_pruned(tmp_path: Path) -> None:
    with world(tmp_path, seed=1, speed=600.0) as w:
        connection = await w.connect()
        engine = w.engine(connection, settings=fast_settings(housekeeping_interval=0.5))
        shop_id = connection.shops[0].id
        try:
            await engine.start()
            await wait_until(lambda: engine.backfill_done.is_set(), 30)
            old = time.time() - WEEK - 60

            def plant(session: Session) -> None:
                record_webhook(session, shop_id, None, "ancient", 1, "{}", old)
                record_webhook(session, shop_id, None, "recent", 1, "{}", time.time() - 3600)
                session.add(ApiCallRow(at=old, method="GET", path="/old", duration_ms=1.0))

            await engine.db.write(plant)

            def counts(session: Session) -> tuple[int, list[str], set[str]]:
                stats = api_call_stats(session, 0.0)
                paths = list(session.execute(select(ApiCallRow.path)).scalars())
                keys = set(session.execute(select(WebhookEventRow.tts_notification_id)).scalars())
                return stats.calls, paths, keys

            state: list[tuple[int, list[str], set[str]]] = []

            async def look() -> bool:
                state[:] = [await engine.db.read(counts)]
                calls, paths, keys = state[0]
                return calls > 0 and "/old" not in paths and "ancient" not in keys

            deadline = time.monotonic() + 20
            while not await look():
                assert time.monotonic() < deadline, "housekeeping did not run"
                await asyncio.sleep(0.2)
        finally:
            await engine.stop()
            await connection.aclose()
            engine.db.close()
    calls, paths, keys = state[0]
    assert calls >= 1
    assert all("?" not in path and "sign" not in path for path in paths)
    assert any(path.startswith("/order/") or path.startswith("/product/") for path in paths)
    assert "recent" in keys and "ancient" not in keys
