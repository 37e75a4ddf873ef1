"""Relay stores in older layouts, for the migration tests of the relay and of the desktop
consumer: from before cursors named their shop (PRAGMA user_version 0, bare cursors), and from
before events carried their own dedupe key (user_version 1)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from relay.tokens import hash_token
from tests.relay.conftest import SHOP_A, SHOP_B, body

__all__ = ["TOKEN", "old_sqlite_store", "v1_sqlite_store"]

TOKEN = "vsr_" + "m" * 43  # a desktop paired before the migration

# The SQLite layout the relay wrote before cursors named their shop (PRAGMA user_version 0).
_OLD_SQLITE = """
CREATE TABLE events (id INTEGER PRIMARY KEY, shop_id TEXT NOT NULL, seq INTEGER NOT NULL,
    received_at REAL NOT NULL, body TEXT NOT NULL);
CREATE UNIQUE INDEX events_shop_seq ON events (shop_id, seq);
CREATE TABLE dedupe (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, received_at REAL NOT NULL);
CREATE TABLE shops (shop_id TEXT PRIMARY KEY, head INTEGER NOT NULL,
    trimmed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE acks (token_hash TEXT NOT NULL, shop_id TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (token_hash, shop_id)) WITHOUT ROWID;
CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, shops TEXT NOT NULL, created_at REAL NOT NULL)
    WITHOUT ROWID;
CREATE TABLE deauthorized (shop_id TEXT PRIMARY KEY, cursor TEXT NOT NULL, at REAL NOT NULL)
    WITHOUT ROWID;
"""


def _two_shops(conn: sqlite3.Connection, received_at: float) -> None:
    """Shop A's events 1..4 and shop B's 1..2, their dedupe keys in `dedupe`, heads 4 and 2:
    the rows both old layouts hold alike."""
    rows = [(SHOP_A, seq, f"a-{seq}") for seq in range(1, 5)]
    rows += [(SHOP_B, seq, f"b-{seq}") for seq in range(1, 3)]
    for shop, seq, nid in rows:
        conn.execute(
            "INSERT INTO events (shop_id, seq, received_at, body) VALUES (?, ?, ?, ?)",
            (shop, seq, received_at, body(nid, shop).decode()),
        )
        conn.execute("INSERT INTO dedupe (key, received_at) VALUES (?, ?)", (nid, received_at))
    conn.executemany("INSERT INTO shops (shop_id, head) VALUES (?, ?)", [(SHOP_A, 4), (SHOP_B, 2)])


def old_sqlite_store(path: Path) -> None:
    """Shop A has events 1..4 (the desktop acked 2), shop B 1..2; cursors were bare numbers."""
    now = time.time()
    conn = sqlite3.connect(path)
    conn.executescript(_OLD_SQLITE)
    _two_shops(conn, now)
    conn.execute(
        "INSERT INTO tokens VALUES (?, ?, ?)",
        (hash_token(TOKEN), json.dumps([SHOP_A, SHOP_B]), now - 60),
    )
    conn.execute("INSERT INTO acks VALUES (?, ?, ?)", (hash_token(TOKEN), SHOP_A, 2))
    conn.commit()
    conn.close()


# The SQLite layout of user_version 1 (shop-bound cursors; dedupe keys in their own table, and
# `shops.head` rewritten by every commit), as the relay wrote it before user_version 2.
_V1_SQLITE = _OLD_SQLITE.replace(
    "trimmed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
    "trimmed INTEGER NOT NULL DEFAULT 0, legacy_head INTEGER) WITHOUT ROWID;",
)


def v1_sqlite_store(path: Path, received_at: float) -> None:
    """Shop A has events 1..4 (dedupe keys a-1..a-4 in `dedupe`), shop B 1..2; heads 4 and 2
    in `shops`, no legacy head (the shops were first seen after cursors were bound)."""
    conn = sqlite3.connect(path)
    conn.executescript(_V1_SQLITE)
    _two_shops(conn, received_at)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
