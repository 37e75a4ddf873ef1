"""The store, reached from asyncio without blocking the loop.

SQLAlchemy sessions are synchronous, so every unit of work runs in an executor: writes on one
dedicated thread (SQLite has one writer anyway, and one thread keeps them in submission order),
reads on a small pool (WAL lets them run beside the writer). A unit of work is a plain function
of a `Session`, committed as one transaction: that is how a batch of webhooks and the relay
cursor that delivered them land together or not at all.

A failure of the file itself (disk full, read-only, locked, I/O) comes out as a `StorageError`
with a kind, and `storage` holds the last write's outcome: the engine shows it, and pauses the
work that would only refetch from TikTok to fail the same write again. The first write that
succeeds clears it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from app.store.db import Store
from app.store.errors import StorageError, storage_error

__all__ = ["Database", "StorageError"]

StorageListener = Callable[[StorageError | None], None]


class Database:
    def __init__(self, store: Store, readers: int = 2) -> None:
        self.store = store
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="viralstock-db-write")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="viralstock-db-read")
        #: The last write's storage failure, or None once a write succeeded.
        self.storage: StorageError | None = None
        self._listeners: list[StorageListener] = []

    def on_storage(self, listener: StorageListener) -> None:
        """Call `listener(error_or_None)` (on the loop) whenever the storage state changes."""
        self._listeners.append(listener)

    async def write[T](self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in one write transaction (BEGIN IMMEDIATE ... COMMIT)."""
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._writer, self._write, work)
        except StorageError as exc:
            self._set_storage(exc)
            raise
        self._set_storage(None)
        return result

    async def read[T](self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` on one consistent read snapshot."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, work)

    def _write[T](self, work: Callable[[Session], T]) -> T:
        try:
            with self.store.write() as session:
                return work(session)
        except Exception as exc:
            mapped = storage_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _read[T](self, work: Callable[[Session], T]) -> T:
        try:
            with self.store.read() as session:
                return work(session)
        except Exception as exc:
            mapped = storage_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _set_storage(self, error: StorageError | None) -> None:
        before = self.storage
        self.storage = error
        changed = (before is None) != (error is None) or (
            before is not None and error is not None and before.kind != error.kind
        )
        if changed:
            for listener in list(self._listeners):
                listener(error)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.store.close()
