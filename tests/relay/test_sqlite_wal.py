"""The SQLite backend checkpoints its WAL less often than SQLite's default (relay/backend/
sqlite.py): the WAL must still stay bounded by the threshold while webhooks stream in, nothing
committed may be missing afterwards, and close leaves no WAL behind."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from relay.backend.base import Incoming
from relay.backend.sqlite import SQLiteBackend

BODY = '{"type":1,"shop_id":"7495540735365777507","timestamp":1,"data":{"pad":"' + "x" * 600 + '"}}'


async def _fill(path: Path, count: int, pages: int) -> int:
    backend = SQLiteBackend(
        str(path), event_retention=1e9, dedupe_retention=1e9, sync="NORMAL", checkpoint_pages=pages
    )
    await backend.start(lambda events: None)
    biggest = 0
    wal = Path(str(path) + "-wal")
    try:
        for start in range(0, count, 50):  # batches of 50 concurrent appends
            await asyncio.gather(
                *(
                    backend.append(Incoming("7495540735365777507", f"n:{i}", BODY), 1.0)
                    for i in range(start, start + 50)
                )
            )
            biggest = max(biggest, wal.stat().st_size if wal.exists() else 0)
    finally:
        await backend.close()
    return biggest


def test_the_wal_stays_bounded_and_is_emptied_at_close(tmp_path: Path) -> None:
    path = tmp_path / "relay.sqlite3"
    # ~13 MB of bodies; a threshold of 1,000 pages (4 MB) makes several checkpoints happen.
    biggest = asyncio.run(_fill(path, 20_000, 1000))
    # Without checkpoints the WAL would hold every page written (well over 13 MB).
    assert biggest < 6 * 1024 * 1024, biggest
    wal = Path(str(path) + "-wal")
    assert not wal.exists() or os.path.getsize(wal) == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 20_000
