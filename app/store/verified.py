"""Remembering that the database file was left intact, so the next start can skip reading it
all (#15).

`open_store` runs SQLite's `quick_check` before anything else (app/store/recovery.py), which
reads every page: 1.4 s for a year of a viral shop (a 550 MB file), paid on every start before
the dashboard can show anything. When the last session closed the store cleanly, the file is
exactly what SQLite left after its final checkpoint; `mark_clean` records the file's identity
then (inode, size, modification time in nanoseconds) next to it, and `unchanged_since_clean_close`
tells the next start that nothing has touched the file since. Any write, a crash (which leaves
a `-wal` file behind), a restore or a copy changes that identity, and the full check runs as
before. Only a silent change of the bytes on disk that keeps size and mtime (bit rot) goes
unnoticed until SQLite reads the damaged page, as it would between two checks anyway.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["mark_clean", "marker_path", "unchanged_since_clean_close"]


def marker_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".clean")


def _identity(db_path: Path) -> list[int] | None:
    """The file's identity, or None if it is not at rest (missing, or a WAL with content)."""
    try:
        info = os.stat(db_path)
    except OSError:
        return None
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def mark_clean(db_path: Path) -> None:
    """After the store's last connection closed: remember the file as SQLite left it."""
    identity = _identity(db_path)
    marker = marker_path(db_path)
    try:
        if identity is None:
            marker.unlink(missing_ok=True)
            return
        partial = marker.with_name(marker.name + ".partial")
        partial.write_text(json.dumps(identity))
        os.replace(partial, marker)
    except OSError:
        return  # a read-only folder: the full check simply runs next time


def unchanged_since_clean_close(db_path: Path) -> bool:
    """Is the file exactly as the last clean close left it?"""
    try:
        recorded = json.loads(marker_path(db_path).read_text())
    except (OSError, ValueError):
        return False
    identity = _identity(db_path)
    return identity is not None and recorded == identity
