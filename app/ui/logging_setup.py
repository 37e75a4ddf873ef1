"""Rotating log file in the user log directory, with secrets redacted from every line.

The redaction runs as a Formatter so it also covers exception text and tracebacks, which a
Filter on `record.msg` would miss.
"""

from __future__ import annotations

import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

from platformdirs import user_log_dir

from app.ui.application import APP_NAME, ORG_NAME

LOG_FILE_NAME = "viralstock.log"
SECRET_NAMES = (
    "app_secret",
    "access_token",
    "refresh_token",
    "sign",
    "x-tts-access-token",
    "subscriber_token",
    "token",
    "secret",
    "password",
)
_NAMES = "|".join(re.escape(n) for n in sorted(SECRET_NAMES, key=len, reverse=True))
# key=value (query strings, reprs), "key": "value" (JSON), key: value (headers).
_KV = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b(?:{_NAMES})\b["']?\s*[:=]\s*)
    (?P<quote>["']?)
    (?P<value>[^"'&\s,;}})\]]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
REDACTED = "***"


def redact(text: str) -> str:
    """Replace the value of every secret-looking key and every bearer token with ***."""
    text = _KV.sub(lambda m: f"{m.group('key')}{m.group('quote')}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


class RedactingFormatter(logging.Formatter):
    """A Formatter whose whole output (message, exception, stack) passes through `redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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
    handler._viralstock = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    logging.captureWarnings(True)
    return path
