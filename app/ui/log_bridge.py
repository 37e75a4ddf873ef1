"""Python logging -> the in-app log view on the Sync page (thread-safe, redacted).

Records may come from any thread (executor work, uvicorn threads in demo mode); the handler
emits a Qt signal, and the queued connection delivers it on the GUI thread.
"""

from __future__ import annotations

import itertools
import logging

from PySide6.QtCore import QObject, Qt, Signal

from app.ui.logging_setup import redact
from app.ui.viewmodel import LogEntry, LogLevel

SOURCES = (
    ("app.sync", "sync"),
    ("app.tiktok", "api"),
    ("app.store", "sync"),
    ("relay", "relay"),
    ("app.relay", "relay"),
)


def source_of(logger_name: str) -> str:
    """Which filter bucket a logger belongs to."""
    for prefix, source in SOURCES:
        if logger_name == prefix or logger_name.startswith(prefix + "."):
            return source
    return "app"


def level_of(levelno: int) -> LogLevel:
    if levelno >= logging.ERROR:
        return LogLevel.ERROR
    if levelno >= logging.WARNING:
        return LogLevel.WARNING
    if levelno >= logging.INFO:
        return LogLevel.INFO
    return LogLevel.DEBUG


class _Emitter(QObject):
    record = Signal(object)


class QtLogHandler(logging.Handler):
    """A logging handler whose records reach a slot on the GUI thread as `LogEntry`."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.emitter = _Emitter()
        self._seq = itertools.count()

    def connect(self, slot: object) -> None:
        """Connect a slot taking one LogEntry (queued: runs on the receiver's thread)."""
        self.emitter.record.connect(slot, Qt.ConnectionType.QueuedConnection)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = redact(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                message += (
                    f" ({type(record.exc_info[1]).__name__}: {redact(str(record.exc_info[1]))})"
                )
            entry = LogEntry(
                next(self._seq),
                record.created,
                level_of(record.levelno),
                source_of(record.name),
                message,
            )
            self.emitter.record.emit(entry)
        except Exception:  # logging must never raise
            self.handleError(record)
