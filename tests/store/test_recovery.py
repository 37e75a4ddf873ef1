"""A damaged database file (random bytes, a malformed page) is kept aside untouched, and the
store opens on the newest intact backup or afresh, saying so (app/store/recovery.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.store import DB_FILENAME, open_store, upsert_shop
from app.store.catalog import list_shops
from app.store.recovery import damage
from tests.store.factories import NOW, shop


def _filled(folder: Path, shops: int = 400) -> Path:
    store = open_store(folder)
    with store.write() as session:
        for i in range(shops):
            upsert_shop(session, shop(f"7495540735365{i:06d}", f"Shop {i} " + "x" * 200), NOW)
    store.close()
    return folder / DB_FILENAME


def _aside(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".corrupt-" in p.name and p.suffix != "")


def test_an_intact_file_is_left_alone(tmp_path: Path) -> None:
    _filled(tmp_path)
    store = open_store(tmp_path)
    try:
        assert store.recovery is None
        with store.read() as session:
            assert len(list_shops(session)) == 400
    finally:
        store.close()
    assert not _aside(tmp_path)


def test_random_bytes_are_kept_aside_and_a_fresh_database_starts(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    garbage = os.urandom(64 * 1024)
    path.write_bytes(garbage)
    store = open_store(tmp_path)
    try:
        assert store.recovery is not None
        kept = store.recovery.kept_aside
        assert kept.read_bytes() == garbage  # nothing lost: the file is kept as it was
        assert kept.name.startswith(f"{DB_FILENAME}.corrupt-20")
        assert store.recovery.restored_from is None
        assert "fresh database" in store.recovery.message and str(kept) in store.recovery.message
        with store.write() as session:  # the fresh database works
            upsert_shop(session, shop(), NOW)
        with store.read() as session:
            assert len(list_shops(session)) == 1
    finally:
        store.close()


def test_a_malformed_page_is_detected_and_the_newest_backup_restored(tmp_path: Path) -> None:
    path = _filled(tmp_path)
    backup = tmp_path / f"{DB_FILENAME}.v3.bak"
    shutil.copy2(path, backup)
    old = tmp_path / f"{DB_FILENAME}.v1.bak"
    old.write_bytes(b"not even sqlite")  # a damaged older backup is passed over
    # Add more after the backup, then scribble over a page in the middle of the file.
    store = open_store(tmp_path)
    with store.write() as session:
        upsert_shop(session, shop("1", "after the backup"), NOW)
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096  # the header (page 1) stays intact: SQLite opens the file, then trips
    assert len(data) > 8 * page
    for start in range(2 * page, len(data) - page, 3 * page):
        data[start : start + 64] = os.urandom(64)  # page headers and cell pointers
    path.write_bytes(bytes(data))
    assert damage(path) is not None
    damaged = bytes(data)
    store = open_store(tmp_path)
    try:
        assert store.recovery is not None
        assert store.recovery.kept_aside.read_bytes() == damaged
        assert store.recovery.restored_from == backup
        assert "Restored the backup" in store.recovery.message
        with store.read() as session:
            names = {s.name for s in list_shops(session)}
        assert len(names) == 400 and "after the backup" not in names
    finally:
        store.close()
    assert backup.exists()  # restored by copy: the backup is still there for next time
    assert damage(path) is None


def test_two_damaged_opens_keep_both_files(tmp_path: Path) -> None:
    for round_ in range(2):
        (tmp_path / DB_FILENAME).write_bytes(b"garbage %d" % round_ * 500)
        open_store(tmp_path).close()
    kept = _aside(tmp_path)
    assert len(kept) == 2
    assert {p.read_bytes()[:9] for p in kept} == {b"garbage 0", b"garbage 1"}
