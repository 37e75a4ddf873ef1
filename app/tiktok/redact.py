"""Keep secrets out of log lines and exception text (DESIGN.md section 2).

Two layers, because either alone leaks:
- patterns catch a secret by its *name* wherever it is spelled out (`sign=...` in a URL that
  httpx logs, `"access_token": "..."` in a JSON body, `Bearer ...` in a header dump);
- a small registry of known secret *values* catches the same token when it appears bare, for
  instance inside a message a server echoed back.

`RedactingFilter` applies both to every record (message and arguments merged first, since a
filter that only looks at `record.msg` misses `%s` arguments), and `redact()` is what our
exception classes call on any text they did not write themselves.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

__all__ = [
    "MASK",
    "SECRET_NAMES",
    "RedactingFilter",
    "forget_secret",
    "install_redaction",
    "redact",
    "register_secret",
]

MASK = "***"

# Names whose values are secrets. `auth_code` and `code` in an OAuth redirect are single-use
# credentials too; `x-tts-access-token` is the header TikTok reads the access token from.
SECRET_NAMES = (
    "app_secret",
    "access_token",
    "refresh_token",
    "sign",
    "auth_code",
    "x-tts-access-token",
    "subscriber_token",
    "token",
    "secret",
)

_NAMES = "|".join(re.escape(name) for name in sorted(SECRET_NAMES, key=len, reverse=True))
# name, then `=` or `:` (optionally quoted, as in JSON or a dict repr), then the value up to a
# delimiter. The look-behind keeps `design=` or `resign=` alone.
_BY_NAME = re.compile(
    rf"""(?<![A-Za-z0-9_-])({_NAMES})(['"]?\s*[:=]\s*(?:b?['"])?)([^&'"\s,;}}\])]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([^\s'\",;]+)")

_known_lock = threading.Lock()
_known: OrderedDict[str, None] = OrderedDict()
_KNOWN_MAX = 256
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked even where no name precedes it."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _known_lock:
        _known[value] = None
        _known.move_to_end(value)
        while len(_known) > _KNOWN_MAX:
            _known.popitem(last=False)


def forget_secret(value: str | None) -> None:
    if value:
        with _known_lock:
            _known.pop(value, None)


def redact(text: object) -> str:
    """`text` as a string with every secret we can recognise replaced by `***`."""
    result = str(text)
    with _known_lock:
        known = list(_known)
    for value in known:
        if value in result:
            result = result.replace(value, MASK)
    result = _BY_NAME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", result)
    return _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", result)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (and its exception text) before any handler.

    Attach it to handlers (records from child loggers reach handlers, but not the filters of
    the loggers they propagate through) or to the logger that creates the records.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill the log call
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, and stop handlers from re-rendering it.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_DEFAULT_LOGGERS = ("app", "relay", "httpx", "httpcore")


def install_redaction(
    loggers: Iterable[str] = _DEFAULT_LOGGERS, *, root_handlers: bool = True
) -> RedactingFilter:
    """Attach one `RedactingFilter` to the named loggers and to the root logger's handlers.

    Idempotent: a logger or handler that already has a `RedactingFilter` is left alone.
    """
    flt = RedactingFilter()
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in loggers]
    if root_handlers:
        targets.extend(logging.getLogger().handlers)
    for target in targets:
        if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
            target.addFilter(flt)
    return flt
