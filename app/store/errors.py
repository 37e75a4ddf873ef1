"""Storage failures the sync engine can act on: what went wrong with the file, not SQL text.

SQLAlchemy raises `OperationalError` for "database or disk is full", a read-only file, a lock
held too long or an I/O error alike. The engine needs the kind (to tell the user "disk full"
rather than "something failed", and to pause instead of refetching from TikTok in a loop), so
`storage_error()` maps such an exception to a `StorageError` with a `StorageErrorKind`.
Constraint violations and programming errors are *not* storage failures (they are our bugs)
and are left alone.
"""

from __future__ import annotations

import enum
import sqlite3

from sqlalchemy.exc import DatabaseError, OperationalError

__all__ = ["StorageError", "StorageErrorKind", "storage_error"]

# SQLite primary result codes (https://sqlite.org/rescode.html).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_FULL = 13


class StorageErrorKind(enum.StrEnum):
    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"
    LOCKED = "locked"
    OTHER = "other"


_TEXT = {
    StorageErrorKind.DISK_FULL: "Disk full: ViralStock can't save new orders",
    StorageErrorKind.READ_ONLY: "Database is read-only: ViralStock can't save new orders",
    StorageErrorKind.LOCKED: "Database is busy (locked by another program)",
    StorageErrorKind.OTHER: "Database error: ViralStock can't save new orders",
}


class StorageError(Exception):
    """The local database could not be read or written. `str()` is the user-facing text."""

    def __init__(self, kind: StorageErrorKind, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(_TEXT[kind])

    @property
    def text(self) -> str:
        return _TEXT[self.kind]


def _kind(exc: BaseException) -> StorageErrorKind:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF
        if primary == _SQLITE_FULL:
            return StorageErrorKind.DISK_FULL
        if primary == _SQLITE_READONLY:
            return StorageErrorKind.READ_ONLY
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return StorageErrorKind.LOCKED
    text = str(orig if orig is not None else exc).lower()
    if "disk is full" in text or "disk full" in text:
        return StorageErrorKind.DISK_FULL
    if "readonly" in text or "read-only" in text:
        return StorageErrorKind.READ_ONLY
    if "locked" in text or "busy" in text:
        return StorageErrorKind.LOCKED
    return StorageErrorKind.OTHER


def storage_error(exc: BaseException) -> StorageError | None:
    """The `StorageError` for a failure of the file itself, or None for anything else.

    Only `OperationalError` and a bare `DatabaseError` (e.g. "file is not a database") count;
    their subclasses `IntegrityError`, `ProgrammingError` & co. are bugs, not storage.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OperationalError) or type(exc) is DatabaseError:
        orig = getattr(exc, "orig", None)
        return StorageError(_kind(exc), str(orig if orig is not None else exc)[:200])
    if isinstance(exc, sqlite3.OperationalError):
        return StorageError(_kind(exc), str(exc)[:200])
    return None
