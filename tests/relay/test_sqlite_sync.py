"""FULL durability made by the SQLite backend's syncer thread (relay/backend/sqlite.py
`_sync_loop`): the writer commits with NORMAL and the syncer fdatasyncs the WAL before any
sender is answered. The disk is made slow or failing at the operating system's door
(`os.fdatasync`), nothing of ours is replaced. What must hold: no 200 before the sync that
covers its event; no subscriber reads an event before its 200 (one lost to a power loss would
leave the subscriber holding a sequence number handed out again); a failed sync answers no
webhook from then on, duplicates included, and the relay says it is unhealthy."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.backend.base import BackendError, Incoming
from relay.backend.sqlite import SQLiteBackend
from tests.relay.conftest import SHOP_A, body

_real_sync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def _incoming(nid: str) -> Incoming:
    return Incoming(SHOP_A, nid, body(nid, SHOP_A).decode())


async def _committed(path: Path, rows: int) -> None:
    """Until `rows` events are in the file, as another process would see them."""
    for _ in range(500):
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT count(*) FROM events").fetchone()[0] >= rows:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer never committed")


def _on_disk(sync: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """The operating system's file sync is `sync` (the syncer takes it when it starts)."""
    monkeypatch.setattr(os, "fdatasync", sync)
    monkeypatch.setattr(os, "fsync", sync)


async def _full_backend(
    path: Path,
    sync: Callable[[int], None],
    monkeypatch: pytest.MonkeyPatch,
    live: list[str] | None = None,
) -> SQLiteBackend:
    """A FULL backend on `sync`; the cursors it publishes to live subscribers (the
    hub's feed) go to `live`."""
    _on_disk(sync, monkeypatch)
    backend = SQLiteBackend(str(path), event_retention=1e9, dedupe_retention=1e9, sync="FULL")
    published = live if live is not None else []
    await backend.start(lambda events: published.extend(event.cursor for event in events))
    return backend


class SlowDisk:
    """fdatasync that waits for `release()` (a disk busy for as long as the test likes)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.open.wait(10)
        _real_sync(fd)


async def test_no_answer_and_no_reader_see_an_event_before_its_wal_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = SlowDisk()
    disk.open.set()
    path = tmp_path / "relay.sqlite3"
    live: list[str] = []
    backend = await _full_backend(path, disk, monkeypatch, live)
    try:
        first = await backend.append(_incoming("n-1"), 1.0)
        assert first is not None
        assert disk.calls == 1
        assert live == [first.cursor]
        disk.open.clear()

        pending = asyncio.ensure_future(backend.append(_incoming("n-2"), 2.0))
        await _committed(path, 2)  # in the WAL, not yet synced
        await asyncio.sleep(0.05)
        assert not pending.done(), "answered before its WAL sync"
        # Readers see the shop as it was before n-2: the head and the backlog stop at n-1.
        assert [event.cursor for event in await backend.read(SHOP_A, None, 10)] == [first.cursor]
        assert (await backend.position(SHOP_A)).head == first.cursor
        assert live == [first.cursor], "a live subscriber got an event before its WAL sync"

        disk.open.set()
        second = await asyncio.wait_for(pending, 10)
        assert second is not None
        assert disk.calls == 2
        assert live == [first.cursor, second.cursor]
        held = await backend.read(SHOP_A, None, 10)
        assert [event.cursor for event in held] == [first.cursor, second.cursor]
        assert (await backend.position(SHOP_A)).head == second.cursor
    finally:
        await backend.close()


async def test_a_failed_wal_sync_answers_nothing_again_and_reports_unhealthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    live: list[str] = []
    backend = await _full_backend(tmp_path / "relay.sqlite3", failing, monkeypatch, live)
    try:
        assert await backend.healthy()
        with pytest.raises(BackendError, match="WAL sync"):
            await backend.append(_incoming("n-1"), 1.0)
        # The disk answers again, but what it dropped after the failure is unknown: TikTok's
        # retry (a duplicate by now) and a new webhook are both refused, never answered 200.
        _on_disk(_real_sync, monkeypatch)
        with pytest.raises(BackendError):
            await backend.append(_incoming("n-1"), 2.0)
        with pytest.raises(BackendError):
            await backend.append(_incoming("n-2"), 3.0)
        assert not await backend.healthy()
        # Nobody holds an event whose sender was refused: neither a backlog read nor a live
        # subscriber (after a crash SQLite's recovery may lose it and hand its seq out again).
        assert await backend.read(SHOP_A, None, 10) == []
        assert live == []
    finally:
        await backend.close()
