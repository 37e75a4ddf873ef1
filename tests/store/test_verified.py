"""The start-up damage check is skipped only for a file exactly as a clean close left it (#15)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from app.store import DB_FILENAME, open_store, upsert_shop
from app.store.verified import marker_path, unchanged_since_clean_close
from tests.store.factories import NOW, shop


def _closed_store(tmp_path: Path) -> Path:
    store = open_store(tmp_path)
    with store.write() as session:
        upsert_shop(session, shop(), NOW)
    store.close()
    return tmp_path / DB_FILENAME


def test_a_clean_close_is_remembered_and_any_change_forgets_it(tmp_path: Path) -> None:
    path = _closed_store(tmp_path)
    assert marker_path(path).exists() and unchanged_since_clean_close(path)
    # A write by anyone (here a second program) changes the file: the check runs again.
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("UPDATE shops SET name = 'changed'")
    raw.close()
    assert not unchanged_since_clean_close(path)


def test_a_crash_leaves_a_wal_and_the_file_is_checked(tmp_path: Path) -> None:
    path = _closed_store(tmp_path)
    wal = path.with_name(path.name + "-wal")
    wal.write_bytes(b"\0" * 64)  # what a process killed mid-session leaves next to the file
    assert not unchanged_since_clean_close(path)


def test_a_file_put_in_place_is_checked(tmp_path: Path) -> None:
    """A restored or copied file is another file, even with the same bytes and times."""
    path = _closed_store(tmp_path)
    copy = tmp_path / "copy"
    shutil.copy2(path, copy)
    os.replace(copy, path)
    assert not unchanged_since_clean_close(path)
