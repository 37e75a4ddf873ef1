"""Keep secrets out of log lines and exception text (DESIGN.md section 2): the one redactor.

Two layers, because either alone leaks:
- patterns catch a secret by its *name* wherever it is spelled out: `sign=...` in a URL httpx
  logs, `"access_token": "..."` in JSON, `x-tts-access-token: ...` or `Authorization: Bearer
  ...` in a header dump, `(b'x-tts-access-token', b'...')` in a header tuple list, `code=` in an
  OAuth redirect URL;
- a registry of known secret *values* catches the same token bare, for instance inside a
  message a server echoed back.

`redact()` is idempotent (`redact(redact(x)) == redact(x)`): the mask is itself a value every
pattern maps to the mask, so stacking redactors (ours, the UI log file's formatter, the relay's)
cannot corrupt a line.

Where it runs: `install_redaction()` wraps the process's LogRecord factory, so every record is
redacted *when it is created*, before any filter, handler or formatter sees it. That covers
handlers added later (pytest's caplog included) and loggers nobody configured, which filters
attached to named loggers or to the handlers existing at call time do not.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = [
    "MASK",
    "SECRET_NAMES",
    "RedactingFilter",
    "fingerprint",
    "forget_secret",
    "install_redaction",
    "redact",
    "redact_record",
    "register_secret",
]

MASK = "***"

# Names whose values are secrets. `auth_code` is the single-use OAuth code as TikTok's token
# endpoint spells it; `x-tts-access-token` is the header TikTok reads the access token from;
# `token` and `secret` catch the relay's subscriber tokens and any `*_secret` spelled alone.
SECRET_NAMES = (
    "app_secret",
    "client_secret",
    "access_token",
    "refresh_token",
    "subscriber_token",
    "sign",
    "auth_code",
    "x-tts-access-token",
    "authorization",
    "token",
    "secret",
    "password",
)

_NAMES = "|".join(re.escape(name) for name in sorted(SECRET_NAMES, key=len, reverse=True))
# A value ends at a delimiter of URLs, JSON, reprs and header lists. Another redactor's mask
# (`[redacted]`, `<redacted>`) counts as one whole value, so running after it gives `sign=***`,
# not `sign=***]`.
_VALUE = r"""(?:\[redacted\]|<redacted>|[^&'"\s,;}\])]+)"""
# name, then `=` or `:` (optionally quoted, as in JSON or a dict repr), an optional auth scheme,
# then the value. The look-behind keeps `design=`, `resign=`, `next_page_token=` alone.
_BY_NAME = re.compile(
    rf"""(?<![A-Za-z0-9_-])({_NAMES})(['"]?\s*[:=]\s*(?:b?['"])?(?:(?:bearer|basic)\s+)?)({_VALUE})""",
    re.IGNORECASE,
)
# A header as a (name, value) tuple, bytes or str: (b'x-tts-access-token', b'TTP_...').
_TUPLE = re.compile(
    rf"""(?<=['"])({_NAMES})(['"]\s*,\s*b?['"])([^'"]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([^\s'\",;]+)")
# The OAuth redirect's one-time code: only as a URL query parameter (`?code=` / `&code=`), so
# TikTok's numeric `code=105002` in an error text stays readable.
_OAUTH_CODE = re.compile(r"([?&](?:amp;)?code=)([^&#\s'\"]+)")

_known_lock = threading.Lock()
_known: OrderedDict[str, None] = OrderedDict()
_known_sorted: tuple[str, ...] = ()
_KNOWN_MAX = 256
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked even where no name precedes it."""
    global _known_sorted
    if not value or len(value) < _MIN_SECRET_LENGTH or value in _known:
        return
    with _known_lock:
        _known[value] = None
        while len(_known) > _KNOWN_MAX:
            _known.popitem(last=False)
        # Longest first, so a secret containing another is masked whole.
        _known_sorted = tuple(sorted(_known, key=len, reverse=True))


def forget_secret(value: str | None) -> None:
    global _known_sorted
    if value:
        with _known_lock:
            _known.pop(value, None)
            _known_sorted = tuple(sorted(_known, key=len, reverse=True))


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible stand-in for a secret, to compare or log instead of it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def redact(text: object) -> str:
    """`text` as a string with every secret we can recognise replaced by `***`. Idempotent."""
    result = str(text)
    for value in _known_sorted:
        if value in result:
            result = result.replace(value, MASK)
    result = _TUPLE.sub(_mask_third, result)
    result = _BY_NAME.sub(_mask_third, result)
    result = _BEARER.sub(_mask_second, result)
    return _OAUTH_CODE.sub(_mask_second, result)


def _mask_third(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{MASK}"


def _mask_second(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}"


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask secrets in `record` in place: message, arguments, exception and stack text.

    A record whose text holds no secret is left exactly as it was (its `args` included, which
    some formatters, uvicorn's access log for one, read directly). Otherwise the arguments are
    redacted one by one when that yields the redacted message, else merged into `msg`. An
    exception is rendered now, redacted, into `exc_text` (which every Formatter prefers to
    re-rendering); if that text held a secret the raw `exc_info` is dropped, so no handler can
    reach the unredacted exception.
    """
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not kill the log call
        message = f"{record.msg!r} {record.args!r}"
        record.args = None
    clean = redact(message)
    if clean != message:
        record.msg, record.args = _redacted_args(record, clean)
    if record.exc_info and record.exc_info[1] is not None:
        rendered = _formatter.formatException(record.exc_info)
        record.exc_text = redact(rendered)
        if record.exc_text != rendered:
            record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


_formatter = logging.Formatter()


def _redacted_args(record: logging.LogRecord, clean: str) -> tuple[object, Any]:
    """(msg, args) that format to `clean`: the arguments redacted alone if that suffices."""
    args = record.args
    if isinstance(args, tuple) and args and isinstance(record.msg, str):
        redacted = tuple(_redact_arg(arg) for arg in args)
        try:
            if record.msg % redacted == clean and redact(record.msg) == record.msg:
                return record.msg, redacted
        except (TypeError, ValueError):
            pass
    return clean, None


def _redact_arg(arg: object) -> object:
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = str(arg)
    clean = redact(text)
    return arg if clean == text else clean


class RedactingFilter(logging.Filter):
    """`redact_record` as a filter, for a handler fed records made elsewhere (a QueueListener's
    or a socket receiver's `makeLogRecord`, whose fields arrive after the factory ran)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_install_lock = threading.Lock()


def install_redaction() -> None:
    """Redact every LogRecord at creation, process-wide. Idempotent and cheap to call again.

    Wraps whatever factory is current (keeping another library's wrapper working); a factory
    that already redacts is not wrapped twice.
    """
    with _install_lock:
        current = logging.getLogRecordFactory()
        if getattr(current, "_viralstock_redacting", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(current(*args, **kwargs))

        marked: Callable[..., logging.LogRecord] = factory
        marked._viralstock_redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(marked)
