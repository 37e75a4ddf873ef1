"""The embedded backend: one SQLite file in WAL mode, written by one thread with group commit.

Why a dedicated writer thread: a commit waits for fsync (milliseconds on ordinary disks), which
must not stall the event loop (measured: commits on the loop, even with NORMAL's no fsync, ran
at a third to half the rate, the loop stalling on WAL writes on a busy disk). Why group commit:
while the writer commits, new work piles up in its queue, and the writer takes all of it as
the next transaction as soon as the previous COMMIT returned, without waiting for the loop to
hand it over (wait-free: the loop answers the previous batch while the next one's fsync runs),
so one fsync covers every webhook that arrived meanwhile. One exception: in NORMAL mode a
lone webhook (the writer idle, a few jobs at most) is committed on the loop, since a commit
without fsync costs less than the hop to the thread and back (measured at 1 in flight: +5-8%
webhooks/s; a burst still goes to the thread; the rare automatic checkpoint then runs on the
loop too, which shows as p99 ~1.2 ms against ~0.9 ms). Each caller is told only after the
batch's COMMIT returned, so no 200 is ever sent for an event that is not on disk. Readers use
their own connections (WAL lets them run beside the writer), so `token create` in another
process is seen at once.

Why FULL is NORMAL plus a syncer thread: SQLite's FULL syncs the WAL inside each COMMIT, so
the writer sat in fdatasync while the next batch waited; here the writer commits with NORMAL
and hands the batch to the syncer, which fdatasyncs the WAL and only then lets its callers be
answered (`_sync_loop`): the same syncs, the same promise, the commit of batch N+1 beside the
fsync of batch N.

Why checkpoints every ~10,000 WAL pages rather than SQLite's 1,000: the automatic checkpoint
runs inside the COMMIT that crosses the threshold, copying pages into the database file with
two fsyncs, and that webhook waits for it. A checkpoint copies each page once however often it
changed since the last one, and the hot pages (the tail of each tree) change in every commit,
so ten times fewer checkpoints copy far less in total (measured on NORMAL with this schema:
210 us per commit on average at 1,000 pages, 107 us at 10,000; the median is ~35 us either
way). The WAL file then grows to ~40 MB between checkpoints. It is kept at that size rather
than cut back after each (`journal_size_limit` a quarter above the threshold): after a
checkpoint SQLite writes the WAL again from its start, so commits overwrite blocks the file
already has, and an fdatasync of an overwrite need not commit the filesystem's journal for a
new file size (measured on this machine's ext4: 0.10-0.12 ms against 0.16-0.21 ms appending).

Why an event carries its own dedupe key, and the shop's row is not rewritten per webhook: a
commit writes every page it changed into the WAL (a frame header and the page: two pwrites per
page), and the layout of user_version 1 changed five trees per webhook (the events table, its
(shop, seq) index, a dedupe table and its unique index, the shop's head row): ~5.8 pages a
commit at 1 in flight. Now the key is a column of `events` with a unique index, and the head is
the shop's newest event (`_SHOP_HEAD`; the row is written at the shop's first event and at
trims): ~3.8 pages, 12 pwrites per webhook down to 8 (strace at 1 in flight). An id then
lives as long as its event (7 days by default, more than the 48 h promised); only when the
dedupe retention is the longer does a trim move the keys of the events it deletes into the
`dedupe` table, which also keeps the keys stored before the migration.

Cursors are per-shop sequence numbers, zero-padded to 16 digits so that string order and
numeric order agree for clients that compare them, behind the shop's tag (`base.bind_cursor`):
`3fa1c2d0.0000000000000042`. Stores from before the tag (user_version 0) are migrated at start:
`shops.legacy_head` keeps each shop's head at that moment, the last bare cursor it issued, so a
desktop holding one still resumes where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from relay.backend.base import (
    ASCII_NUMBER,
    Backend,
    BackendError,
    CommittedListener,
    Incoming,
    ShopPosition,
    StoredEvent,
    TokenRecord,
    bind_cursor,
    split_cursor,
)
from relay.logs import log

__all__ = ["SQLiteBackend", "connect", "format_cursor", "parse_cursor"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    shop_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL,
    dedupe_key TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS events_shop_seq ON events (shop_id, seq);
CREATE TABLE IF NOT EXISTS dedupe (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS shops (
    shop_id TEXT PRIMARY KEY,
    head INTEGER NOT NULL,
    trimmed INTEGER NOT NULL DEFAULT 0,
    legacy_head INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acks (
    token_hash TEXT NOT NULL,
    shop_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (token_hash, shop_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    shops TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shop_ciphers (
    shop_id TEXT PRIMARY KEY,
    cipher TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners (
    open_id TEXT PRIMARY KEY,
    shops TEXT NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deauthorized (
    shop_id TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
"""

_logger = logging.getLogger("relay.backend")

_TRIM_CHUNK = 5000
# WAL pages between two automatic checkpoints (SQLite's default is 1,000; see the docstring).
CHECKPOINT_PAGES = 10_000
_IN_CHUNK = 500
# At most this many jobs are committed on the loop in NORMAL mode (`SQLiteBackend._inline_ok`).
_INLINE_JOBS = 4


def format_cursor(seq: int) -> str:
    return f"{seq:016d}"


def parse_cursor(cursor: str) -> int:
    """The sequence number in a cursor (bound or bare); ValueError for anything we never
    issued, full-width digits included."""
    _, position = split_cursor(cursor)
    if not ASCII_NUMBER.fullmatch(position):
        raise ValueError("not a cursor")
    return int(position)


def _cursor(shop_id: str, seq: int) -> str:
    return bind_cursor(shop_id, format_cursor(seq))


def connect(path: str, sync: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode with WAL, a busy timeout and the schema in place."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    if sync.upper() not in {"FULL", "NORMAL", "EXTRA"}:
        raise ValueError(f"unsupported synchronous mode {sync!r}")
    conn.execute(f"PRAGMA synchronous = {sync.upper()}")
    return conn


# PRAGMA user_version: 1 = cursors bound to their shop (`shops.legacy_head` recorded);
# 2 = an event carries its own dedupe key, and `shops.head` is written at a shop's first event
# and at trims only.
SCHEMA_VERSION = 2


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < 1:
            _bind_cursors_to_shops(conn)
        if version < 2:
            _keys_into_events(conn)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _bind_cursors_to_shops(conn: sqlite3.Connection) -> None:
    """Migration 0 -> 1: every cursor issued so far was a bare per-shop number up to the
    shop's head; remember that head, so such a cursor is still a resume point of its shop
    (and only up to there). Sequence numbers, acks and events are unchanged."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(shops)")}
    if "legacy_head" not in columns:
        conn.execute("ALTER TABLE shops ADD COLUMN legacy_head INTEGER")
    conn.execute("UPDATE shops SET legacy_head = head WHERE legacy_head IS NULL")


def _keys_into_events(conn: sqlite3.Connection) -> None:
    """Migration 1 -> 2: new events carry their dedupe key in `events.dedupe_key` (unique),
    so a webhook's commit writes two trees fewer. The keys already in `dedupe` stay there,
    checked beside the events' and trimmed as before; the events stored so far keep a NULL
    key (the unique index allows any number of NULLs), so nothing is copied and the step
    costs one pass over `events` to build the empty index. `shops.head` is exact at this
    point and from now on a floor (see `_SHOP_HEAD`)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if "dedupe_key" not in columns:
        conn.execute("ALTER TABLE events ADD COLUMN dedupe_key TEXT")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS events_dedupe ON events (dedupe_key)")


# A shop's head (newest sequence number): the row in `shops` is written when the shop gets its
# first event and when a trim deletes some of its events, not at every webhook (one tree fewer
# per commit), so the head is the larger of that floor and the shop's newest event held.
_SHOP_HEAD = (
    "max(shops.head, "
    "coalesce((SELECT max(e.seq) FROM events e WHERE e.shop_id = shops.shop_id), 0))"
)


# What an append's caller is told once its batch committed: the stored event, None for a
# duplicate, or the BackendError of a failed batch. Called on the loop, in commit order.
AppendDone = Callable[["StoredEvent | BaseException | None"], None]


@dataclass(slots=True)
class _Append:
    item: Incoming
    received_at: float
    then: AppendDone


@dataclass(slots=True)
class _Ack:
    token_hash: str
    shop_id: str
    seq: int


@dataclass(slots=True)
class _Token:
    token_hash: str
    shops: tuple[str, ...]
    future: asyncio.Future[None]


@dataclass(slots=True)
class _Trim:
    event_cutoff: float
    dedupe_cutoff: float
    future: asyncio.Future[int]


_Job = _Append | _Ack | _Token | _Trim


@dataclass(slots=True)
class _Outcome:
    jobs: int = 0
    appends: list[tuple[AppendDone, StoredEvent | BaseException | None]] = field(
        default_factory=list
    )
    results: list[tuple[asyncio.Future[Any], Any]] = field(default_factory=list)
    committed: list[StoredEvent] = field(default_factory=list)
    heads: dict[str, int] = field(default_factory=dict)  # each shop's newest seq, once committed


class SQLiteBackend(Backend):
    """Event log, dedupe, acks and tokens in one SQLite file."""

    name = "sqlite"

    def __init__(
        self,
        path: str,
        *,
        event_retention: float,
        dedupe_retention: float,
        sync: str = "FULL",
        max_batch: int = 1024,
        checkpoint_pages: int = CHECKPOINT_PAGES,
    ) -> None:
        self.path = path
        self.event_retention = event_retention
        self.dedupe_retention = dedupe_retention
        # FULL's one sync beyond NORMAL (the WAL after each commit) is made by the syncer
        # thread, off the writer's path (see `_sync_loop`); the pragma is then NORMAL.
        self.sync_wal = sync.upper() == "FULL"
        self._pragma = "NORMAL" if self.sync_wal else sync
        self._synced: queue.SimpleQueue[_Outcome | None] = queue.SimpleQueue()
        # Each shop's newest event whose senders were answered: what readers may see (`read`).
        self._answered: dict[str, int] = {}
        self._syncer: threading.Thread | None = None
        self.sync_failure: BackendError | None = None  # sticky: see `_sync_loop`
        self.max_batch = max_batch
        self.checkpoint_pages = checkpoint_pages
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_committed: CommittedListener = lambda events: None
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._pending: list[_Job] = []
        self._unfinished = 0  # jobs handed to the writer and not yet reported back
        self._flush_scheduled = False
        self._writer: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None  # the writer's; the loop's while it idles
        # NORMAL writes a commit into the page cache without fsync (tens of us), cheaper than
        # the round trip to the writer thread and back; FULL's fdatasync must not stall the loop.
        self.inline = sync.upper() == "NORMAL"
        self.inline_batches = 0
        self._closing = False
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="relay-sqlite-read")
        self._local = threading.local()
        self._acks: dict[tuple[str, str], int] = {}
        # Writer-thread state.
        self._heads: dict[str, int] = {}
        self._last_received = 0.0
        self.batches = 0
        self.batched_events = 0

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, on_committed: CommittedListener) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_committed = on_committed
        conn = connect(self.path, self._pragma)
        ensure_schema(conn)
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(self.checkpoint_pages)}")
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        keep = int(self.checkpoint_pages) * page * 5 // 4  # see the module docstring
        conn.execute(f"PRAGMA journal_size_limit = {keep}")
        self._heads = dict(
            conn.execute(f"SELECT shop_id, {_SHOP_HEAD} FROM shops").fetchall()  # noqa: S608
        )
        # Whatever a previous run left in the file is as durable as it will get.
        self._answered = dict(self._heads)
        row = conn.execute("SELECT received_at FROM events ORDER BY id DESC LIMIT 1").fetchone()
        self._last_received = float(row[0]) if row else 0.0
        self._conn = conn
        self._writer = threading.Thread(
            target=self._write_loop, args=(conn,), name="relay-sqlite-writer", daemon=True
        )
        self._writer.start()
        if self.sync_wal:
            self._syncer = threading.Thread(
                target=self._sync_loop, name="relay-sqlite-syncer", daemon=True
            )
            self._syncer.start()

    async def close(self) -> None:
        # Let queued work finish first, so nothing acknowledged is dropped.
        for _ in range(200):
            if not self._pending and not self._unfinished:
                break
            await asyncio.sleep(0.01)
        self._closing = True  # the writer closes the connection: the loop must not use it now
        self._jobs.put(None)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join, 10.0)
        if self._syncer is not None:
            await asyncio.to_thread(self._syncer.join, 10.0)
        self._readers.shutdown(wait=True)

    # --- group commit, loop side ---------------------------------------------------------

    def _submit(self, job: _Job) -> None:
        self._pending.append(job)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Hand what this loop iteration produced to the writer: one queue put (one wake-up
        at most) for all the requests read in one pass, however busy the writer is."""
        self._flush_scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._unfinished += len(batch)
        if self._inline_ok(batch):
            assert self._conn is not None
            self.inline_batches += 1
            self._done(self._run_batch(self._conn, batch))
            return
        self._jobs.put(batch)

    def _inline_ok(self, batch: list[_Job]) -> bool:
        """Commit on the loop, skipping the hop to the writer thread and back (two wake-ups,
        ~4 context switches), when that costs less than the hop: in NORMAL mode only (no
        fsync), only while the writer has nothing in hand (`_unfinished` counts this batch;
        the writer then sits in `get()` and touches neither the connection nor its state, so
        the loop may use both), and only for a few appends and acks (a burst or a trim goes to
        the thread, which commits it beside the loop's parsing). The 200 still follows the
        COMMIT, so what it promises is unchanged."""
        return (
            self.inline
            and not self._closing
            and self._unfinished == len(batch)
            and len(batch) <= _INLINE_JOBS
            and all(isinstance(job, _Append | _Ack) for job in batch)
        )

    def _done(self, outcome: _Outcome) -> None:
        self._unfinished -= outcome.jobs
        self._answered.update(outcome.heads)
        # Answers first: the senders' 200s are written before the subscribers' frames are
        # built and written (TikTok waits on the 200; the hub holds the events right after).
        for then, value in outcome.appends:
            try:
                then(value)
            except Exception:  # one caller's bug must not lose the others' answers
                _logger.exception("append callback failed")
        for future, value in outcome.results:
            if future.done():
                continue
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)
        if outcome.committed:
            try:
                self._on_committed(outcome.committed)
            except Exception:  # a listener bug must not lose acknowledgements
                _logger.exception("commit listener failed")

    # --- writer thread -------------------------------------------------------------------

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        """Commit whatever is queued, as one transaction, as soon as the previous COMMIT
        returned: the batch is everything that arrived during that commit (up to
        `max_batch` jobs; the rest goes into the next)."""
        assert self._loop is not None
        loop = self._loop
        jobs = self._jobs
        carry: list[_Job] = []
        try:
            while True:
                if carry:
                    batch, carry = carry, []
                else:
                    first = jobs.get()
                    if first is None:
                        return
                    batch = first
                stop = False
                while len(batch) < self.max_batch:
                    try:
                        more = jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.extend(more)
                if len(batch) > self.max_batch:
                    batch, carry = batch[: self.max_batch], batch[self.max_batch :]
                outcome = self._run_batch(conn, batch)
                if self.sync_wal:
                    self._synced.put(outcome)  # the syncer answers it once the WAL is synced
                else:
                    try:
                        loop.call_soon_threadsafe(self._done, outcome)
                    except RuntimeError:  # loop closed during shutdown
                        return
                if stop and not carry:
                    return
        finally:
            self._synced.put(None)
            conn.close()

    def _sync_loop(self) -> None:
        """FULL durability off the writer's path: fdatasync the WAL, then answer every batch
        committed before that call began (they are all in the file by then).

        SQLite's FULL is NORMAL plus one sync of the WAL after each commit, made inside the
        COMMIT, so the writer could not start the next batch until the disk answered, and a
        batch arriving meanwhile waited for a whole commit and fsync first. Here the writer
        commits with NORMAL (which keeps SQLite's own syncs around checkpoints and the WAL
        header) and goes on with the next batch at once; this thread makes the per-commit
        sync, one for every batch committed since the previous one returned. No 200 goes out
        before the sync covering its commit, so what a 200 survives is FULL's: a power loss.
        Our own descriptor on the WAL takes no lock (SQLite locks the database file and the
        -shm file, never the WAL), so closing it cannot drop SQLite's POSIX locks; the WAL
        keeps its inode while the writer's connection is open."""
        assert self._loop is not None
        loop = self._loop
        synced = self._synced
        sync = getattr(os, "fdatasync", os.fsync)
        fd: int | None = None
        try:
            while True:
                first = synced.get()
                if first is None:
                    return
                outcomes = [first]
                stop = False
                while True:
                    try:
                        more = synced.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    outcomes.append(more)
                if self.sync_failure is None:
                    try:
                        if fd is None:  # os.open's descriptors are close-on-exec already
                            fd = os.open(self.path + "-wal", os.O_RDWR)
                        sync(fd)
                    except OSError as exc:
                        # After a failed fsync the kernel may have dropped the dirty pages and
                        # marked them clean, so a later sync that succeeds proves nothing: no
                        # 200 from this process again (a retried webhook found by dedupe would
                        # be answered for bytes that may be gone). The relay reports itself
                        # unhealthy; a restart reopens the file and SQLite's recovery decides.
                        self.sync_failure = BackendError(
                            f"storage failed: WAL sync ({exc.__class__.__name__})"
                        )
                        log(_logger, logging.ERROR, "wal sync failed", kind=type(exc).__name__)
                if self.sync_failure is not None:
                    outcomes = [_unsynced(outcome, self.sync_failure) for outcome in outcomes]
                try:
                    loop.call_soon_threadsafe(self._done_all, outcomes)
                except RuntimeError:  # loop closed during shutdown
                    return
                if stop:
                    return
        finally:
            if fd is not None:
                os.close(fd)

    def _done_all(self, outcomes: list[_Outcome]) -> None:
        for outcome in outcomes:
            self._done(outcome)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> _Outcome:
        outcome = _Outcome(jobs=len(batch))
        heads: dict[str, int] = {}  # changes of this batch, applied to self._heads after COMMIT
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._apply(conn, batch, heads, outcome)
            conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            failure = BackendError(f"storage failed: {exc.__class__.__name__}")
            failed = _Outcome(jobs=len(batch))
            for job in batch:
                if isinstance(job, _Append):
                    failed.appends.append((job.then, failure))
                elif not isinstance(job, _Ack):
                    failed.results.append((job.future, failure))
            return failed
        self._heads.update(heads)
        outcome.heads = heads
        self.batches += 1
        self.batched_events += len(outcome.committed)
        return outcome

    def _apply(
        self,
        conn: sqlite3.Connection,
        batch: list[_Job],
        heads: dict[str, int],
        outcome: _Outcome,
    ) -> None:
        appends = [job for job in batch if isinstance(job, _Append)]
        if appends:
            self._apply_appends(conn, appends, heads, outcome)
        acks = [(job.token_hash, job.shop_id, job.seq) for job in batch if isinstance(job, _Ack)]
        if acks:
            conn.executemany(
                "INSERT INTO acks (token_hash, shop_id, seq) VALUES (?, ?, ?) "
                "ON CONFLICT (token_hash, shop_id) DO UPDATE SET seq = max(seq, excluded.seq)",
                acks,
            )
        for job in batch:
            if isinstance(job, _Token):
                conn.execute(
                    "INSERT OR REPLACE INTO tokens (token_hash, shops, created_at) "
                    "VALUES (?, ?, ?)",
                    (job.token_hash, json.dumps(list(job.shops)), time.time()),
                )
                outcome.results.append((job.future, None))
            elif isinstance(job, _Trim):
                removed = self._trim_chunk(conn, job.event_cutoff, job.dedupe_cutoff)
                outcome.results.append((job.future, removed))

    def _apply_appends(
        self,
        conn: sqlite3.Connection,
        appends: list[_Append],
        heads: dict[str, int],
        outcome: _Outcome,
    ) -> None:
        keys = list({job.item.dedupe_key for job in appends})
        seen: set[str] = set()
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            # The events' own keys, and the older ones in `dedupe` (see `_keys_into_events`).
            seen.update(
                row[0]
                for row in conn.execute(
                    f"SELECT dedupe_key FROM events WHERE dedupe_key IN ({marks}) "  # noqa: S608
                    f"UNION ALL SELECT key FROM dedupe WHERE key IN ({marks})",
                    chunk + chunk,
                )
            )
        events: list[tuple[str, int, float, str, str]] = []
        for job in appends:
            item = job.item
            if item.dedupe_key in seen:
                outcome.appends.append((job.then, None))
                continue
            seen.add(item.dedupe_key)
            # Monotonic receive times let trimming find its cut by binary search on id.
            received = max(job.received_at, self._last_received)
            self._last_received = received
            shop = item.shop_id
            seq = heads.get(shop, self._heads.get(shop, 0)) + 1
            heads[shop] = seq
            events.append((shop, seq, received, item.body, item.dedupe_key))
            stored = StoredEvent(shop, _cursor(shop, seq), received, item.body)
            outcome.committed.append(stored)
            outcome.appends.append((job.then, stored))
        if events:
            _insert_rows(
                conn,
                "INSERT INTO events (shop_id, seq, received_at, body, dedupe_key) VALUES ",
                events,
            )
            # Only a shop's first event writes its row (its head follows from the events).
            new = [(shop, seq) for shop, seq in heads.items() if shop not in self._heads]
            _insert_rows(
                conn,
                "INSERT INTO shops (shop_id, head) VALUES ",
                new,
                " ON CONFLICT (shop_id) DO UPDATE SET head = max(head, excluded.head)",
            )

    def _trim_chunk(
        self, conn: sqlite3.Connection, event_cutoff: float, dedupe_cutoff: float
    ) -> int:
        """Delete at most one chunk of expired events and dedupe ids; returns rows deleted."""
        cut = _last_id_before(conn, "events", event_cutoff, _TRIM_CHUNK)
        removed = 0
        if cut is not None:
            rows = conn.execute(
                "SELECT shop_id, max(seq) FROM events WHERE id <= ? GROUP BY shop_id", (cut,)
            ).fetchall()
            # The head floor follows the trim: a shop whose every event goes keeps its head.
            conn.executemany(
                "INSERT INTO shops (shop_id, head, trimmed) VALUES (?, ?, ?) "
                "ON CONFLICT (shop_id) DO UPDATE SET head = max(head, excluded.head), "
                "trimmed = max(trimmed, excluded.trimmed)",
                [(shop, seq, seq) for shop, seq in rows],
            )
            if dedupe_cutoff < event_cutoff:
                # Dedupe ids outlive their events: keep the young ones' keys in `dedupe`
                # (ids increase with received_at there too, as `_last_id_before` needs).
                conn.execute(
                    "INSERT OR IGNORE INTO dedupe (key, received_at) "
                    "SELECT dedupe_key, received_at FROM events WHERE id <= ? "
                    "AND dedupe_key IS NOT NULL AND received_at >= ? ORDER BY id",
                    (cut, dedupe_cutoff),
                )
            removed = conn.execute("DELETE FROM events WHERE id <= ?", (cut,)).rowcount
        dcut = _last_id_before(conn, "dedupe", dedupe_cutoff, _TRIM_CHUNK)
        if dcut is not None:
            removed += conn.execute("DELETE FROM dedupe WHERE id <= ?", (dcut,)).rowcount
        return removed

    # --- reads ---------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._pragma)
            self._local.conn = conn
        return conn

    async def _read[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()

        def run() -> T:
            return fn(self._reader())

        try:
            return await loop.run_in_executor(self._readers, run)
        except sqlite3.Error as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None

    # --- Backend API ---------------------------------------------------------------------

    def append_soon(self, item: Incoming, received_at: float) -> asyncio.Future[StoredEvent | None]:
        assert self._loop is not None
        future: asyncio.Future[StoredEvent | None] = self._loop.create_future()
        self._submit(_Append(item, received_at, functools.partial(_settle, future)))
        return future

    def append_then(self, item: Incoming, received_at: float, then: AppendDone) -> None:
        # No future: `then` is called straight from the commit's report (the fast path).
        self._submit(_Append(item, received_at, then))

    async def read(self, shop_id: str, after: str | None, limit: int) -> list[StoredEvent]:
        """Events after `after`, up to the newest whose senders were answered. A committed
        event is in the WAL before the syncer's fdatasync covers it; one read then and lost to
        a power loss would leave a subscriber holding a sequence number the relay hands out
        again, so readers see an event only once its 200 went out (as with SQLite's own FULL,
        where the commit becomes visible after its sync)."""
        seq = parse_cursor(after) if after is not None else 0
        newest = self._answered.get(shop_id, 0)

        def run(conn: sqlite3.Connection) -> list[StoredEvent]:
            rows = conn.execute(
                "SELECT seq, received_at, body FROM events WHERE shop_id = ? AND seq > ? "
                "AND seq <= ? ORDER BY seq LIMIT ?",
                (shop_id, seq, newest, limit),
            ).fetchall()
            return [StoredEvent(shop_id, _cursor(shop_id, s), r, b) for s, r, b in rows]

        return await self._read(run)

    async def position(self, shop_id: str) -> ShopPosition:
        newest = self._answered.get(shop_id, 0)  # the head as readers see it (`read`)

        def run(conn: sqlite3.Connection) -> ShopPosition:
            row = conn.execute(
                f"SELECT {_SHOP_HEAD}, trimmed FROM shops WHERE shop_id = ?",  # noqa: S608
                (shop_id,),
            ).fetchone()
            if row is None or newest == 0:
                return ShopPosition(None, None)
            head, trimmed = row
            head = min(head, newest)
            return ShopPosition(
                _cursor(shop_id, head), _cursor(shop_id, trimmed) if trimmed else None
            )

        return await self._read(run)

    def cursor_key(self, cursor: str) -> tuple[int, ...]:
        return (parse_cursor(cursor),)

    def canonical(self, position: str) -> str:
        return format_cursor(parse_cursor(position))

    async def legacy_head(self, shop_id: str) -> str | None:
        def run(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT legacy_head FROM shops WHERE shop_id = ?", (shop_id,)
            ).fetchone()
            return None if row is None or row[0] is None else int(row[0])

        seq = await self._read(run)
        return None if seq is None else format_cursor(seq)

    async def ack(self, token_hash: str, shop_id: str, cursor: str) -> None:
        # Not awaited to disk: a lost ack only means a re-delivery (at-least-once). The
        # in-memory copy makes a reconnect right after an ack resume at the right place.
        seq = parse_cursor(cursor)
        key = (token_hash, shop_id)
        if seq <= self._acks.get(key, 0):
            return
        self._acks[key] = seq
        self._submit(_Ack(token_hash, shop_id, seq))

    async def acked(self, token_hash: str, shop_id: str) -> str | None:
        memory = self._acks.get((token_hash, shop_id))

        def run(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT seq FROM acks WHERE token_hash = ? AND shop_id = ?", (token_hash, shop_id)
            ).fetchone()
            return None if row is None else int(row[0])

        stored = await self._read(run)
        best = max((s for s in (memory, stored) if s is not None), default=None)
        return None if best is None else _cursor(shop_id, best)

    async def add_token(self, token_hash: str, shops: Sequence[str]) -> None:
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        self._submit(_Token(token_hash, tuple(shops), future))
        await future

    async def token_shops(self, token_hash: str) -> frozenset[str] | None:
        def run(conn: sqlite3.Connection) -> frozenset[str] | None:
            row = conn.execute(
                "SELECT shops FROM tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else frozenset(json.loads(row[0]))

        return await self._read(run)

    async def list_tokens(self) -> list[TokenRecord]:
        def run(conn: sqlite3.Connection) -> list[TokenRecord]:
            rows = conn.execute(
                "SELECT token_hash, shops, created_at FROM tokens ORDER BY created_at"
            ).fetchall()
            return [TokenRecord(h, frozenset(json.loads(shops)), at) for h, shops, at in rows]

        return await self._read(run)

    async def token_created(self, token_hash: str) -> float | None:
        def run(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT created_at FROM tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else float(row[0])

        return await self._read(run)

    async def record_shop_ciphers(self, ciphers: Mapping[str, str]) -> None:
        rows = [(shop, cipher, time.time()) for shop, cipher in ciphers.items()]

        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO shop_ciphers (shop_id, cipher, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (shop_id) DO UPDATE SET cipher = excluded.cipher, "
                "updated_at = excluded.updated_at",
                rows,
            )

        await self._read(run)

    async def shop_ciphers(self, shops: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(shops))

        def run(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    conn.execute(
                        f"SELECT shop_id, cipher FROM shop_ciphers WHERE shop_id IN ({marks})",  # noqa: S608
                        chunk,
                    ).fetchall()
                )
            return found

        return await self._read(run)

    async def mark_deauthorized(self, shop_id: str, cursor: str, at: float) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO deauthorized (shop_id, cursor, at) VALUES (?, ?, ?) "
                "ON CONFLICT (shop_id) DO UPDATE SET cursor = excluded.cursor, at = excluded.at",
                (shop_id, cursor, at),
            )

        await self._read(run)

    async def deauthorized(self, shop_id: str) -> tuple[str, float] | None:
        def run(conn: sqlite3.Connection) -> tuple[str, float] | None:
            row = conn.execute(
                "SELECT cursor, at FROM deauthorized WHERE shop_id = ?", (shop_id,)
            ).fetchone()
            return None if row is None else (str(row[0]), float(row[1]))

        return await self._read(run)

    async def map_owner(self, open_id: str, shops: Sequence[str]) -> None:
        """A direct upsert on a reader connection (autocommit), like `mark_deauthorized`.
        The table is created by `ensure_schema` (CREATE TABLE IF NOT EXISTS), which is also
        the migration step for a relay file made before it existed."""
        record = json.dumps(sorted(set(shops)))

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO owners (open_id, shops, at) VALUES (?, ?, ?) "
                "ON CONFLICT (open_id) DO UPDATE SET shops = excluded.shops, at = excluded.at",
                (open_id, record, time.time()),
            )

        await self._read(run)

    async def owner_shops(self, open_id: str) -> frozenset[str] | None:
        def run(conn: sqlite3.Connection) -> frozenset[str] | None:
            row = conn.execute("SELECT shops FROM owners WHERE open_id = ?", (open_id,)).fetchone()
            return None if row is None else frozenset(json.loads(row[0]))

        return await self._read(run)

    async def revoke_token(self, token_hash: str) -> bool:
        """A direct delete on a reader connection (autocommit, WAL, busy timeout): works from
        `token revoke` in another process while `serve` writes."""

        def run(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM tokens WHERE token_hash = ?", (token_hash,))
            conn.execute("DELETE FROM acks WHERE token_hash = ?", (token_hash,))
            return gone.rowcount > 0

        return await self._read(run)

    async def trim(self, now: float) -> int:
        assert self._loop is not None
        total = 0
        while True:
            future: asyncio.Future[int] = self._loop.create_future()
            self._submit(_Trim(now - self.event_retention, now - self.dedupe_retention, future))
            removed = await future
            total += removed
            if removed == 0:
                return total

    async def healthy(self) -> bool:
        try:
            await self._read(lambda conn: conn.execute("SELECT 1").fetchone())
        except BackendError:
            return False
        if self._syncer is not None and (not self._syncer.is_alive() or self.sync_failure):
            return False
        return self._writer is not None and self._writer.is_alive()


# Bound parameters per statement: SQLite before 3.32 refuses more than 999
# (SQLITE_MAX_VARIABLE_NUMBER), 3.32 and later 32,766.
_MAX_PARAMS = 999 if sqlite3.sqlite_version_info < (3, 32, 0) else 32_766
# Rows per multi-row INSERT (SQLite's VALUES lists allow far more; this bounds the statement).
_ROWS_PER_INSERT = 256


def _insert_rows(
    conn: sqlite3.Connection,
    head: str,
    rows: Sequence[tuple[Any, ...]],
    tail: str = "",
) -> None:
    """`INSERT ... VALUES (?, ...), (?, ...), ...`: one statement and one sqlite3_step for many
    rows. `executemany` steps once per row, and the sqlite3 module releases and retakes the
    GIL around every step: on a busy loop each retake waits for the loop thread, so a batch of
    N webhooks cost the writer about 2N retakes of the GIL instead of 6 in all."""
    if not rows:
        return
    width = len(rows[0])
    group = "(" + ", ".join("?" * width) + ")"
    per = min(_ROWS_PER_INSERT, _MAX_PARAMS // width)
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        sql = head + ", ".join([group] * len(chunk)) + tail
        conn.execute(sql, [value for row in chunk for value in row])


def _unsynced(outcome: _Outcome, failure: BackendError) -> _Outcome:
    """A committed batch answered after a WAL sync failed: its callers get the failure (a 503,
    and so does TikTok's retry: the failure is sticky, see `_sync_loop`). Its events go to no
    live subscriber and its heads to no reader: after a crash SQLite's recovery may lose them
    and hand their sequence numbers out again, so nobody may hold one."""
    return _Outcome(
        jobs=outcome.jobs,
        appends=[(then, failure) for then, _ in outcome.appends],
        results=[(future, failure) for future, _ in outcome.results],
    )


def _settle(future: asyncio.Future[StoredEvent | None], value: object) -> None:
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)  # type: ignore[arg-type]


def _last_id_before(conn: sqlite3.Connection, table: str, cutoff: float, limit: int) -> int | None:
    """The largest id whose received_at is before `cutoff`, at most `limit` rows past the
    smallest id. Relies on received_at never decreasing with id (the writer ensures it)."""
    lo_row = conn.execute(f"SELECT min(id) FROM {table}").fetchone()  # noqa: S608
    if lo_row is None or lo_row[0] is None:
        return None
    lo = int(lo_row[0])
    first = conn.execute(f"SELECT received_at FROM {table} WHERE id = ?", (lo,)).fetchone()  # noqa: S608
    if first is None or first[0] >= cutoff:
        return None
    hi_row = conn.execute(f"SELECT max(id) FROM {table}").fetchone()  # noqa: S608
    hi = min(int(hi_row[0]), lo + limit - 1)
    best = lo
    while lo <= hi:
        mid = (lo + hi) // 2
        row = conn.execute(
            f"SELECT id, received_at FROM {table} WHERE id >= ? ORDER BY id LIMIT 1",  # noqa: S608
            (mid,),
        ).fetchone()
        if row is None or row[1] >= cutoff:
            hi = mid - 1
        else:
            best = max(best, int(row[0]))
            lo = mid + 1
    return best
