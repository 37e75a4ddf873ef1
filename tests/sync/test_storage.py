"""A full disk (SQLite's own "database or disk is full", made real with `PRAGMA
max_page_count` on every connection of the engine's store): the user sees it, the engine
pauses instead of reconnecting and refetching in a loop, and once space is back every event
the relay delivered meanwhile is applied (nothing was acknowledged, so the relay replays it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from app.store.db import open_store
from app.store.errors import StorageError, StorageErrorKind, storage_error
from app.sync.consumer import RelayEvent
from app.sync.state import LinkState
from tests.e2e.harness import fast_settings, wait_until, world
from tests.sync.relay_post import webhook_rows

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class DiskLimit:
    """Caps the database file at its current size on every connection checked out of the pool
    (`max_page_count` is per connection), until `lift()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.full = False

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if self.full:
                pages = cursor.execute("PRAGMA page_count").fetchone()[0]
                cursor.execute(f"PRAGMA max_page_count = {int(pages):d}")
            else:
                cursor.execute("PRAGMA max_page_count = 1073741823")
        finally:
            cursor.close()

    @contextmanager
    def installed(self) -> Iterator[DiskLimit]:
        event.listen(self.engine, "checkout", self._checkout)
        try:
            yield self
        finally:
            event.remove(self.engine, "checkout", self._checkout)


def test_storage_errors_are_classified(tmp_path: Path) -> None:
    store = open_store(path=tmp_path / "x.sqlite3")
    try:
        limit = DiskLimit(store.engine)
        limit.full = True
        with (
            limit.installed(),
            pytest.raises(OperationalError) as caught,
            store.write() as session,
        ):
            session.connection().exec_driver_sql("CREATE TABLE filler (x BLOB)")
            for _ in range(50):
                session.connection().exec_driver_sql("INSERT INTO filler VALUES (randomblob(4096))")
        mapped = storage_error(caught.value)
        assert mapped is not None and mapped.kind is StorageErrorKind.DISK_FULL
        assert str(mapped) == "Disk full: ViralStock can't save new orders"
        # A constraint violation is our bug, not the disk.
        assert storage_error(IntegrityError("x", {}, Exception("UNIQUE"))) is None
        locked = storage_error(OperationalError("x", {}, Exception("database is locked")))
        assert locked is not None and locked.kind is StorageErrorKind.LOCKED
        readonly = storage_error(
            OperationalError("x", {}, Exception("attempt to write a readonly database"))
        )
        assert readonly is not None and readonly.kind is StorageErrorKind.READ_ONLY
    finally:
        store.close()


async def test_a_full_disk_pauses_sync_shows_and_recovers_without_loss(tmp_path: Path) -> None:
    with world(tmp_path, seed=4, speed=900.0) as w:
        connection = await w.connect()
        engine = w.engine(connection, settings=fast_settings(reconcile_interval=1.0))
        shop_id = connection.shops[0].id
        delivered: set[str] = set()
        apply = engine.sink.apply

        async def tap(batch: Sequence[RelayEvent]) -> None:  # a tap, not a mock: it calls through
            delivered.update(
                str(e.webhook.get("tts_notification_id"))
                for e in batch
                if isinstance(e, RelayEvent)
            )
            await apply(batch)

        engine.sink.apply = tap  # type: ignore[method-assign, assignment]
        relay_details: list[str] = []
        engine.publisher.add_listener(
            lambda change: relay_details.append(change.snapshot.relay.detail)
        )
        limit = DiskLimit(engine.db.store.engine)
        try:
            with limit.installed():
                await engine.start()
                await wait_until(lambda: engine.backfill_done.is_set(), 30)
                assert engine.consumer is not None
                await wait_until(lambda: engine.counters.webhooks_applied >= 5, 30)
                assert engine.snapshot(shop_id).storage.state is LinkState.CONNECTED

                limit.full = True
                await wait_until(
                    lambda: engine.snapshot(shop_id).storage.state is LinkState.ERROR, 20
                )
                storage = engine.snapshot(shop_id).storage
                assert storage.detail == "Disk full: ViralStock can't save new orders"
                assert isinstance(engine.db.storage, StorageError)
                # Eight seconds of a full disk while the shop keeps selling.
                connects = engine.consumer.connects
                failures = engine.consumer.apply_failures
                requests = engine.requests.requests
                await asyncio.sleep(8.0)
                reconnects = engine.consumer.connects - connects
                failed_applies = engine.consumer.apply_failures - failures
                calls = engine.requests.requests - requests
                during = engine.snapshot(shop_id)

                limit.full = False
                await wait_until(
                    lambda: engine.snapshot(shop_id).storage.state is LinkState.CONNECTED, 90
                )
                w.sandbox.clock.pause()
                await engine.drain_and_reconcile()
                await asyncio.sleep(1.0)
                await engine.consumer.drained(quiet=1.0, limit=30)
                stored = await engine.db.read(webhook_rows)
                report = await engine.report()
                truth = w.sandbox.truth()
        finally:
            await engine.stop()
            await connection.aclose()
            engine.db.close()

    print(
        f"full disk, 8 s: {reconnects} reconnects, {failed_applies} failed applies, {calls} calls"
    )
    # The old hot loop: ~6 reconnects and ~15 API calls per second (~50 and ~120 in 8 s).
    assert reconnects <= 12, reconnects
    assert failed_applies <= 12, failed_applies
    assert calls <= 80, calls
    assert during.storage.state is LinkState.ERROR
    assert "relay unreachable" not in relay_details
    missing = delivered - set(stored)
    assert not missing, f"{len(missing)} delivered events never stored"
    assert all(error is None for _, error in stored.values())
    assert {s["sku_id"]: s["available"] for s in report["skus"]} == {
        s["sku_id"]: s["available"] for s in truth["skus"]
    }
