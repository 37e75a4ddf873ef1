"""Rotating log file in the user log directory, with secrets redacted from every line.

Redaction is the shared one (`app.tiktok.redact`): `install_redaction()` masks every record at
creation, so this file, the in-app log view and any handler added later see the same redacted
text; the formatter runs `redact` once more over the whole line (message, exception, stack) as
a last line of defence, which is safe because `redact` is idempotent.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from platformdirs import user_log_dir

from app.tiktok.redact import install_redaction, redact
from app.ui.application import APP_NAME, ORG_NAME

__all__ = [
    "DEFAULT_FORMAT",
    "LOG_FILE_NAME",
    "RedactingFormatter",
    "default_log_dir",
    "redact",
    "setup_logging",
]

LOG_FILE_NAME = "viralstock.log"
# Libraries that log every request at INFO: the file keeps ViralStock's own INFO lines (what
# the Sync page shows) but only their warnings, or a busy shop's log is all HTTP lines.
CHATTY_LIBRARIES = ("httpx", "httpcore", "websockets", "asyncio", "qasync", "uvicorn")


class RedactingFormatter(logging.Formatter):
    """A Formatter whose whole output (message, exception, stack) passes through `redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def only_warnings_from_libraries(record: logging.LogRecord) -> bool:
    """The file's filter: a chatty library's record passes only from WARNING up. A filter on
    our handler, not a level on their loggers, so nothing else that listens is affected."""
    if record.levelno >= logging.WARNING:
        return True
    top = record.name.split(".", 1)[0]
    return top not in CHATTY_LIBRARIES


DEFAULT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def default_log_dir() -> Path:
    """The per-user log directory (platformdirs)."""
    return Path(user_log_dir(APP_NAME, ORG_NAME))


def setup_logging(
    log_dir: Path | None = None,
    level: int = logging.INFO,
    max_bytes: int = 2_000_000,
    backups: int = 5,
) -> Path:
    """Attach a rotating, redacting file handler to the root logger; return the log file path.

    Idempotent: calling it again replaces the handler it installed before.
    """
    install_redaction()
    directory = log_dir if log_dir is not None else default_log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOG_FILE_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_viralstock", False):
            root.removeHandler(handler)
            handler.close()
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(RedactingFormatter(DEFAULT_FORMAT))
    handler.addFilter(only_warnings_from_libraries)
    handler._viralstock = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)

    logging.captureWarnings(True)
    return path
