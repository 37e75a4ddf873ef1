"""Opening the store: where the file lives, the SQLite pragmas, migrations, sessions.

Pragmas, set on every connection:

- `journal_mode=WAL`: readers (the UI's queries) never block the writer (sync) and vice versa.
- `synchronous=FULL`: in WAL mode this costs one fsync of the WAL per *commit* (not per row),
  and buys durability across power loss. NORMAL would only lose the last commits on power
  loss, but the relay protocol makes that matter: the client acks a cursor "once it has
  durably stored everything up to it", and the relay never resends an acked event. With
  NORMAL an ack could outlive the data it vouched for. Our writers commit in batches (a page
  of orders, an event with its handling), so FULL is cheap (see `bench_store.py`).
- `foreign_keys=ON`: SQLite leaves them off by default.
- `busy_timeout=5000` ms: a second writer (another thread or a second app instance) waits
  for the lock instead of failing at once.

Transactions: the sqlite3 driver's legacy mode would not emit BEGIN before SELECT or DDL, so
the driver is put in autocommit mode and the engine emits BEGIN itself: `BEGIN IMMEDIATE` for
`Store.write()` (takes the write lock up front, so a read-then-write transaction never fails
half way with SQLITE_BUSY), plain deferred `BEGIN` for `Store.read()`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.store.migrations import MIGRATIONS, Step, check_file, migrate
from app.store.recovery import Recovery, recover_if_damaged
from app.store.verified import mark_clean, unchanged_since_clean_close

__all__ = [
    "DB_FILENAME",
    "Store",
    "default_data_dir",
    "make_engine",
    "migrate_engine",
    "open_store",
]

log = logging.getLogger(__name__)

DB_FILENAME = "viralstock.sqlite3"
BUSY_TIMEOUT_MS = 5000
_BEGIN_OPTION = "viralstock_begin"


def default_data_dir() -> Path:
    """The per-user data folder, e.g. `~/.local/share/ViralStock` on Linux."""
    return Path(platformdirs.user_data_dir("ViralStock", appauthor=False))


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Autocommit at the driver level: BEGIN is emitted by `_on_begin` below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def make_engine(path: Path) -> Engine:
    """An engine on `path` with the pragmas and BEGIN handling above."""
    # URL.create rather than an f-string: a folder name with "?" or "#" stays a folder name.
    engine = create_engine(URL.create("sqlite", database=str(path)))
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


@dataclass(frozen=True)
class Store:
    """An open ViralStock database: the engine and two session factories.

    Sessions are cheap: open one per unit of work (`with store.write() as session:`) in the
    thread that uses it; never share one between threads.
    """

    path: Path
    engine: Engine
    #: Sessions whose transaction starts with BEGIN IMMEDIATE (one writer at a time).
    writer: sessionmaker[Session]
    #: Sessions whose transaction starts with a deferred BEGIN (read-only work).
    reader: sessionmaker[Session]
    #: Set when the file was damaged at open: kept aside, restored or started afresh.
    recovery: Recovery | None = None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction: committed on success, rolled back on error."""
        with self.writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; one consistent snapshot for everything it reads."""
        with self.reader() as session:
            try:
                yield session
            finally:
                session.rollback()

    def close(self) -> None:
        """Close every pooled connection (a WAL checkpoint happens when the last one closes)
        and remember the file as left intact (`verified`: the next start skips the check)."""
        self.engine.dispose()
        mark_clean(self.path)


def migrate_engine(engine: Engine, db_path: Path, steps: tuple[Step, ...] = MIGRATIONS) -> int:
    """Run the migrations `steps` on the database behind `engine`; return the version found."""
    with engine.connect() as conn:
        return migrate(conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}), db_path, steps)


def _resolve(data_dir: str | os.PathLike[str] | None, path: str | os.PathLike[str] | None) -> Path:
    if path is not None and data_dir is not None:
        raise ValueError("give data_dir or path, not both")
    if path is not None:
        return Path(path).expanduser().resolve()
    folder = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    return (folder / DB_FILENAME).resolve()


def open_store(
    data_dir: str | os.PathLike[str] | None = None, *, path: str | os.PathLike[str] | None = None
) -> Store:
    """Open (creating or migrating as needed) the store.

    `data_dir` is the folder (`--data-dir`; default: the per-user data folder) that holds
    `viralstock.sqlite3`; `path` names the database file itself. Raises
    `SchemaTooNewError` for a database from a newer ViralStock and
    `NotAViralStockDatabaseError` for a foreign SQLite file, leaving either untouched. A
    damaged file is kept aside and replaced by the last backup or a fresh database
    (`Store.recovery` says so; app/store/recovery.py).
    """
    db_path = _resolve(data_dir, path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # The full damage check reads the whole file; skipped when the last session closed the
    # store cleanly and nothing touched the file since (app/store/verified.py).
    recovery = None if unchanged_since_clean_close(db_path) else recover_if_damaged(db_path)
    check_file(db_path, len(MIGRATIONS))  # refuse a newer or foreign file before touching it
    engine = make_engine(db_path)
    try:
        found = migrate_engine(engine, db_path)
    except BaseException:
        engine.dispose()
        raise
    if found == 0:
        log.info("created a new ViralStock database at %s", db_path)
    writer_engine = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
    return Store(
        path=db_path,
        engine=engine,
        writer=sessionmaker(writer_engine, expire_on_commit=False),
        reader=sessionmaker(engine, expire_on_commit=False),
        recovery=recovery,
    )
