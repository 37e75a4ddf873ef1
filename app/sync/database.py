"""The store, reached from asyncio without blocking the loop.

SQLAlchemy sessions are synchronous, so every unit of work runs in an executor: writes on one
dedicated thread (SQLite has one writer anyway, and one thread keeps them in submission order),
reads on a small pool (WAL lets them run beside the writer). A unit of work is a plain function
of a `Session`, committed as one transaction: that is how a batch of webhooks and the relay
cursor that delivered them land together or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from app.store.db import Store

__all__ = ["Database"]


class Database:
    def __init__(self, store: Store, readers: int = 2) -> None:
        self.store = store
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="viralstock-db-write")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="viralstock-db-read")

    async def write[T](self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in one write transaction (BEGIN IMMEDIATE ... COMMIT)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._write, work)

    async def read[T](self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` on one consistent read snapshot."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, work)

    def _write[T](self, work: Callable[[Session], T]) -> T:
        with self.store.write() as session:
            return work(session)

    def _read[T](self, work: Callable[[Session], T]) -> T:
        with self.store.read() as session:
            return work(session)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.store.close()
