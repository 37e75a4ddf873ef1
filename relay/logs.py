"""Structured (one JSON object per line) logs. Callers pass fields, never payload bodies,
tokens or secrets; the shared redactor (app/tiktok/redact.py) is the last line of defence: it
masks fields with a secret's name, secret-looking text in any field or message, and (through
`install_redaction`) every record any library logs, httpx's request URLs with the app secret
in their query included."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from app.tiktok.redact import MASK, SECRET_NAMES, install_redaction, redact

__all__ = ["JsonFormatter", "configure", "log", "redact_fields", "redact_library_logs"]

# The shared names, plus the OAuth `code` a field may carry under its short name.
_SECRET_FIELDS = frozenset(SECRET_NAMES) | {"code"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(redact_fields(fields))
        if record.exc_info and record.exc_info[0] is not None:
            # The class only: exception text can carry URLs with secrets in their query.
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def redact_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields with a secret's name become `***`; string values go through `redact`."""
    return {
        k: MASK if k.lower() in _SECRET_FIELDS else (redact(v) if isinstance(v, str) else v)
        for k, v in fields.items()
    }


def redact_library_logs() -> None:
    """Redact every log record of the process at creation (the shared `install_redaction`):
    httpx logs each request URL at INFO, and TikTok's token endpoints take the app secret in
    the query string. Idempotent."""
    install_redaction()


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for the relay's loggers; uvicorn's access log stays off."""
    install_redaction()
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
