"""Alert levels survive a restart: the second engine on the same database starts from the
levels the first one stored (`alert_state`), so a SKU that was already warning or critical is
not announced again as a new escalation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.store.alerts import alert_levels
from app.sync.engine import SyncEngine
from app.sync.state import Change, ChangeKind
from tests.e2e.harness import wait_until, world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _alerts(engine: SyncEngine) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []

    def listen(change: Change) -> None:
        if change.kind is ChangeKind.ALERT:
            seen.append(change.sku_ids)

    engine.publisher.add_listener(listen)
    return seen


async def test_a_restart_does_not_notify_known_alerts_again(tmp_path: Path) -> None:
    with world(tmp_path, seed=3, speed=900.0) as w:
        connection = await w.connect()
        first = w.engine(connection)
        shop_id = connection.shops[0].id
        first_alerts = _alerts(first)
        try:
            await first.start()
            await wait_until(lambda: bool(first_alerts), 60)
            w.sandbox.clock.pause()  # the shop stands still across the restart
            await first.drain_and_reconcile()
            levels = {
                sku_id: level.value
                for sku_id, level in first.insights[shop_id].levels.items()
                if level.value != "ok"
            }
            stored = await first.db.read(lambda s: alert_levels(s, shop_id))
        finally:
            await first.stop()
            first.db.close()

        second = w.engine(connection)
        second_alerts = _alerts(second)
        try:
            await second.start()
            await wait_until(lambda: second.insights[shop_id].runs >= 1, 30)
            await second.drain_and_reconcile()
            await asyncio.sleep(0.5)
            second_levels = {
                sku_id: level.value
                for sku_id, level in second.insights[shop_id].levels.items()
                if level.value != "ok"
            }
        finally:
            await second.stop()
            await connection.aclose()
            second.db.close()
    assert levels, "the first run had SKUs alerting"
    assert {k: v for k, v in stored.items() if v != "ok"} == levels
    assert second_levels == levels
    assert second_alerts == [], "known alerts were announced again after the restart"
