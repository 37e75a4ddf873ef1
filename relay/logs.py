"""Structured (one JSON object per line) logs. Callers pass fields, never payload bodies,
tokens or secrets; `redact` is the last line of defence for fields with a secret's name."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

__all__ = ["JsonFormatter", "RedactQuery", "configure", "log", "redact_library_logs"]

_SECRET_FIELDS = frozenset(
    {"app_secret", "access_token", "refresh_token", "sign", "token", "authorization", "code"}
)
_STD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "fields"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(redact(fields))
        if record.exc_info and record.exc_info[0] is not None:
            # The class only: exception text can carry URLs with secrets in their query.
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def redact(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if k.lower() in _SECRET_FIELDS else v) for k, v in fields.items()}


_SECRET_QUERY = re.compile(
    r"((?:app_secret|access_token|refresh_token|sign|auth_code|code)=)[^&\s\"']+"
)


class RedactQuery(logging.Filter):
    """Rewrites a record whose text contains secret query parameters. httpx logs every request
    URL at INFO, and TikTok's token endpoints take the app secret in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = _SECRET_QUERY.sub(r"\1[redacted]", text)
        if cleaned != text:
            record.msg = cleaned
            record.args = None
        return True


def redact_library_logs() -> None:
    """Install `RedactQuery` on the HTTP client's loggers (once)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuery) for f in logger.filters):
            logger.addFilter(RedactQuery())


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for the relay's loggers; uvicorn's access log stays off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("relay")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True


def log(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, msg, extra={"fields": fields})


_started = time.time()
