"""The SQLite layout of user_version 2 (relay/backend/sqlite.py): an event carries its own
dedupe key and a webhook's commit does not rewrite its shop's row, so each commit writes the
events' three trees and nothing else. What PROTOCOL.md promises must hold across it: dedupe
(of keys stored before the migration too, and beyond an event's retention when the dedupe
retention is the longer), per-shop cursors that never repeat (after a restart, after every
event of a shop was trimmed), and a store of user_version 1 migrated in place."""

from __future__ import annotations

import collections
import sqlite3
import struct
import time
from pathlib import Path

import pytest

from relay.backend.base import Incoming
from relay.backend.sqlite import SQLiteBackend, parse_cursor
from tests.relay.conftest import SHOP_A, SHOP_B, body
from tests.relay.legacy_store import v1_sqlite_store

HOUR = 3600.0


def _backend(path: Path, *, events: float = 1e9, dedupe: float = 1e9) -> SQLiteBackend:
    return SQLiteBackend(str(path), event_retention=events, dedupe_retention=dedupe, sync="FULL")


async def _append(backend: SQLiteBackend, shop: str, nid: str, at: float) -> int | None:
    """The stored event's sequence number, or None for a duplicate."""
    stored = await backend.append(Incoming(shop, nid, body(nid, shop).decode()), at)
    return None if stored is None else parse_cursor(stored.cursor)


async def test_a_v1_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "relay.sqlite3"
    now = time.time()
    v1_sqlite_store(path, now - 60)
    backend = _backend(path)
    await backend.start(lambda events: None)
    try:
        # Keys stored before the migration (table `dedupe`) still dedupe.
        assert await _append(backend, SHOP_A, "a-2", now) is None
        assert await _append(backend, SHOP_B, "b-1", now) is None
        # Each shop continues after its head.
        assert await _append(backend, SHOP_A, "a-5", now) == 5
        assert await _append(backend, SHOP_B, "b-3", now) == 3
        held = await backend.read(SHOP_A, None, 10)
        assert [parse_cursor(event.cursor) for event in held] == [1, 2, 3, 4, 5]
        assert (await backend.position(SHOP_A)).head == held[-1].cursor
    finally:
        await backend.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    # Nothing was copied: old events keep a NULL key, the new one carries its own.
    keys = dict(conn.execute("SELECT seq, dedupe_key FROM events WHERE shop_id = ?", (SHOP_A,)))
    assert keys == {1: None, 2: None, 3: None, 4: None, 5: "a-5"}
    assert conn.execute("SELECT head FROM shops WHERE shop_id = ?", (SHOP_A,)).fetchone() == (4,)
    conn.close()
    # After a restart the head comes from the events (the row still says 4), and the key
    # stored in the event dedupes.
    backend = _backend(path)
    await backend.start(lambda events: None)
    try:
        assert await _append(backend, SHOP_A, "a-5", now) is None
        assert await _append(backend, SHOP_A, "a-6", now) == 6
    finally:
        await backend.close()


async def test_a_shop_trimmed_empty_keeps_its_head_and_its_dedupe_ids(tmp_path: Path) -> None:
    """Events kept 1 h, dedupe ids 48 h: after the trim the shop holds no event, yet its next
    cursor follows the last one issued and a retry of a trimmed event is still a duplicate."""
    path = tmp_path / "relay.sqlite3"
    now = time.time()
    backend = _backend(path, events=HOUR, dedupe=48 * HOUR)
    await backend.start(lambda events: None)
    try:
        for n in range(1, 4):
            assert await _append(backend, SHOP_A, f"old-{n}", now - 2 * HOUR) == n
        assert await _append(backend, SHOP_B, "b-1", now - 2 * HOUR) == 1
        assert await backend.trim(now) >= 4
        assert await backend.read(SHOP_A, None, 10) == []
        position = await backend.position(SHOP_A)
        assert position.head is not None and parse_cursor(position.head) == 3
        assert position.trimmed is not None and parse_cursor(position.trimmed) == 3
    finally:
        await backend.close()
    backend = _backend(path, events=HOUR, dedupe=48 * HOUR)
    await backend.start(lambda events: None)
    try:
        assert await _append(backend, SHOP_A, "old-2", now) is None
        assert await _append(backend, SHOP_A, "new", now) == 4
        assert await _append(backend, SHOP_B, "b-2", now) == 2
    finally:
        await backend.close()


async def test_dedupe_ids_shorter_than_events_go_with_their_events(tmp_path: Path) -> None:
    """With the default retentions (events 7 days, ids 48 h) an id lives in its event: nothing
    is kept beside it, and the trim of old ids removes nothing an event still needs."""
    path = tmp_path / "relay.sqlite3"
    now = time.time()
    backend = _backend(path, events=7 * 24 * HOUR, dedupe=48 * HOUR)
    await backend.start(lambda events: None)
    try:
        assert await _append(backend, SHOP_A, "x", now - 72 * HOUR) == 1
        await backend.trim(now)
        assert len(await backend.read(SHOP_A, None, 10)) == 1
        assert await _append(backend, SHOP_A, "x", now) is None
    finally:
        await backend.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM dedupe").fetchone() == (0,)
    conn.close()


def _trees_written(path: Path) -> tuple[int, dict[str, int]]:
    """Commits in the WAL, and how many frames each tree got (pages mapped with dbstat)."""
    data = (Path(str(path) + "-wal")).read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    pages: collections.Counter[int] = collections.Counter()
    commits = 0
    offset = 32
    while offset + 24 + page_size <= len(data):
        page, commit = struct.unpack(">II", data[offset : offset + 8])
        pages[page] += 1
        commits += commit != 0
        offset += 24 + page_size
    conn = sqlite3.connect(path)
    try:
        owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat")
    finally:
        conn.close()
    trees: collections.Counter[str] = collections.Counter()
    for page, count in pages.items():
        trees[owner.get(page, "?")] += count
    return commits, dict(trees)


async def test_a_webhook_commit_writes_only_the_events_trees(tmp_path: Path) -> None:
    """One webhook at a time, 300 of them: the WAL gets the events table, its (shop, seq)
    index and its dedupe-key index, and neither the shop's row nor a second dedupe table
    (before user_version 2 every commit wrote those too: ~5.8 pages a commit, now ~3.8)."""
    path = tmp_path / "relay.sqlite3"
    backend = _backend(path)
    await backend.start(lambda events: None)
    now = time.time()
    await _append(backend, SHOP_A, "first", now)  # the shop's row, once
    await backend.close()
    # A checkpoint at close emptied the WAL: what follows is only the steady state. Keep the
    # WAL (no checkpoint) by leaving the backend open while it is read.
    backend = _backend(path)
    await backend.start(lambda events: None)
    try:
        for n in range(300):
            await _append(backend, SHOP_A, f"n-{n}", now)
        commits, trees = _trees_written(path)
    finally:
        await backend.close()
    assert commits >= 300
    assert set(trees) - {"sqlite_schema"} == {"events", "events_shop_seq", "events_dedupe"}, trees
    assert sum(trees.values()) / commits < 4.5, (commits, trees)
