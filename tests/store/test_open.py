"""Opening the store: file location, pragmas, transactions and concurrency on a real file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from app.store import DB_FILENAME, NotAViralStockDatabaseError, Store, open_store, upsert_shop
from app.store.db import BUSY_TIMEOUT_MS, default_data_dir
from tests.store.factories import NOW, SHOP_ID, shop


def _pragma(store: Store, name: str) -> object:
    with store.read() as session:
        return session.execute(text(f"PRAGMA {name}")).scalar()


def test_pragmas_on_every_connection(store: Store) -> None:
    assert _pragma(store, "journal_mode") == "wal"
    assert _pragma(store, "synchronous") == 2  # FULL
    assert _pragma(store, "foreign_keys") == 1
    assert _pragma(store, "busy_timeout") == BUSY_TIMEOUT_MS
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    raw = sqlite3.connect(store.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_data_dir_and_path_overrides(tmp_path: Path) -> None:
    folder = tmp_path / "nested" / "data"
    opened = open_store(folder)
    opened.close()
    assert opened.path == (folder / DB_FILENAME).resolve()
    assert opened.path.exists()
    named = open_store(path=tmp_path / "other.sqlite3")
    named.close()
    assert named.path.name == "other.sqlite3"
    with pytest.raises(ValueError, match="not both"):
        open_store(folder, path=tmp_path / "x.sqlite3")


def test_default_folder_is_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "ViralStock"
    opened = open_store()
    opened.close()
    assert opened.path == (tmp_path / "xdg" / "ViralStock" / DB_FILENAME).resolve()


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"), store.write() as session:
        session.execute(
            text("INSERT INTO products (id, shop_id, synced_at) VALUES ('p', 'nope', 1)")
        )


def test_write_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as session:
        upsert_shop(session, shop(), NOW)
        raise RuntimeError("crash")
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM shops")).scalar() == 0


def test_reader_sees_a_snapshot_while_a_writer_works(store: Store) -> None:
    """WAL: a read transaction is not blocked by, and does not see, an open write."""
    writer_open = threading.Event()
    reader_done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with store.write() as session:
                upsert_shop(session, shop(), NOW)
                session.flush()
                writer_open.set()
                assert reader_done.wait(10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert writer_open.wait(10)
        with store.read() as session:
            assert session.execute(text("SELECT count(*) FROM shops")).scalar() == 0
    finally:
        reader_done.set()
        thread.join(10)
    assert not errors
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM shops")).scalar() == 1


def test_concurrent_writers_wait_instead_of_failing(tmp_path: Path) -> None:
    """Two stores (as two app instances would) on one file write in turns, none is lost."""
    first = open_store(tmp_path)
    second = open_store(tmp_path)
    with first.write() as session:
        upsert_shop(session, shop(), NOW)
    errors: list[BaseException] = []

    def work(store: Store, prefix: str) -> None:
        try:
            for n in range(40):
                with store.write() as session:
                    session.execute(
                        text(
                            "INSERT INTO api_calls (at, method, path, duration_ms) "
                            "VALUES (:at, 'GET', :path, 1.0)"
                        ),
                        {"at": n, "path": f"/{prefix}/{n}"},
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, p)) for s, p in ((first, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    with first.read() as session:
        assert session.execute(text("SELECT count(*) FROM api_calls")).scalar() == 80
        assert session.execute(text("SELECT id FROM shops")).scalar() == SHOP_ID
    first.close()
    second.close()


def test_refuses_a_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "foreign.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE notes (body TEXT)")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(NotAViralStockDatabaseError, match="did not create"):
        open_store(path=path)
    assert path.read_bytes() == before  # not even switched to WAL


def test_odd_folder_names(tmp_path: Path) -> None:
    folder = tmp_path / "my shop?#%20 data"
    opened = open_store(folder)
    try:
        with opened.write() as session:
            upsert_shop(session, shop(), NOW)
    finally:
        opened.close()
    assert (folder / DB_FILENAME).exists()
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
