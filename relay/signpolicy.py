"""What `/v1/sign` agrees to sign: the one home of the rule (PROTOCOL.md, `/v1/sign`).

A signature made with the vendor's app secret is the relay's most valuable output, so the
request is read once, strictly, and refused (with a reason) unless it is exactly what an
honest desktop sends: an Open API path, each query name once, our `app_key`, one fresh
ASCII-decimal `timestamp`, and at most one `shop_cipher` (which the caller then checks against
the token's shops). Every pattern is ASCII-only: Python's `\\d`, `str.isdigit()` and `int()`
accept full-width and other Unicode digits that the allowed shapes never meant.

TikTok's string to sign concatenates names and values without separators, so different
queries can produce the same bytes: a value ending in `...shop_cipherX` followed by the next
name reads, to TikTok, as a pair of its own. The relay therefore refuses any request whose
signed material holds `app_key`, `timestamp` or `shop_cipher` anywhere but at the one pair it
checked (a JSON key in the body, followed by its closing quote, is fine).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from app.tiktok.signing import is_multipart

__all__ = [
    "MAX_SIGN_BODY",
    "OPEN_API_PATH",
    "SIGN_FUTURE",
    "SIGN_PAST",
    "Refusal",
    "SignRequest",
    "parse_sign_request",
]

# `/{category}/{6-digit version}/{resource...}`, e.g. /order/202309/orders/search. The auth
# host's `/api/v2/token/*` does not match, nor anything with `%`, `?`, `..` or a non-ASCII
# character. Used with fullmatch: `$` would also match before a trailing newline.
OPEN_API_PATH = re.compile(r"/[a-z][a-z_]*/[0-9]{6}(?:/[A-Za-z0-9_.\-]+)+", re.ASCII)
_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII)
_TIMESTAMP = re.compile(r"[1-9][0-9]{0,11}", re.ASCII)
_CIPHER = re.compile(r"[A-Za-z0-9_\-]{1,128}", re.ASCII)
# TikTok accepts timestamps in [now - 5 min, now + 30 s] (tiktok-shop-api.md 1).
SIGN_PAST = 300
SIGN_FUTURE = 30
MAX_SIGN_BODY = 4 * 1024 * 1024
MAX_PATH = 512
MAX_PAIRS = 200
# Names the string to sign leaves out (`sign`, `access_token`) or that must never travel.
_RESERVED = frozenset({"sign", "access_token", "app_secret"})
# Names whose value the relay vouches for: each may appear in the signed bytes only once.
_PROTECTED = (b"app_key", b"timestamp", b"shop_cipher")


class Refusal(Exception):
    """The request is not signed; `reason` is the error code and the metrics label."""

    def __init__(self, status: int, reason: str, **detail: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SignRequest:
    """A request that passed every check except the caller's shop_cipher ownership check."""

    path: str
    query: list[tuple[str, str]]
    body: bytes | None
    content_type: str
    shop_cipher: str | None


def parse_sign_request(payload: dict[str, Any], *, app_key: str, now: float) -> SignRequest:
    """Read a `/v1/sign` body once; raise `Refusal` for anything outside the allowed set."""
    path = _path(payload.get("path"))
    query = _query(payload.get("query"))
    params = dict(query)  # names are unique by now: no "last one wins"
    if params.get("app_key") != app_key:
        raise Refusal(400, "bad_app_key")
    stamp = params.get("timestamp")
    if stamp is None or not _TIMESTAMP.fullmatch(stamp):
        raise Refusal(400, "bad_timestamp")
    if not now - SIGN_PAST <= int(stamp) <= now + SIGN_FUTURE:
        raise Refusal(400, "bad_timestamp")
    cipher = params.get("shop_cipher")
    if cipher is not None and not _CIPHER.fullmatch(cipher):
        raise Refusal(400, "forbidden_shop_cipher")
    body = _body(payload.get("body"))
    content_type = payload.get("content_type") or "application/json"
    if not isinstance(content_type, str) or len(content_type) > 200:
        raise Refusal(400, "malformed")
    _refuse_smuggled(path, query, None if is_multipart(content_type) else body)
    return SignRequest(path, query, body, content_type, cipher)


def _path(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_PATH or not OPEN_API_PATH.fullmatch(value):
        raise Refusal(400, "path_not_allowed")
    if any(segment.strip(".") == "" for segment in value[1:].split("/")):
        raise Refusal(400, "path_not_allowed")  # `.` or `..` segments
    return value


def _query(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_PAIRS:
        raise Refusal(400, "bad_query")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise Refusal(400, "bad_query")
        name, raw = pair
        if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name) or name in _RESERVED:
            raise Refusal(400, "bad_query")
        # Strings as sent; integers in their one decimal form. Floats and booleans have more
        # than one spelling, so what TikTok reads could differ from what was signed.
        if raw is None:
            text = ""
        elif isinstance(raw, str):
            text = raw
        elif isinstance(raw, int) and not isinstance(raw, bool):
            text = str(raw)
        else:
            raise Refusal(400, "bad_query")
        if name in seen:
            raise Refusal(400, "repeated_key", name=name)
        seen.add(name)
        pairs.append((name, text))
    return pairs


def _body(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Refusal(400, "malformed")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal(400, "malformed") from None
    if len(raw) > MAX_SIGN_BODY:
        raise Refusal(413, "too_large")
    return raw


def _refuse_smuggled(path: str, query: list[tuple[str, str]], body: bytes | None) -> None:
    """Refuse when a protected name occurs in the signed bytes other than as its own pair.

    The material is what TikTok hashes between the two secrets: path, the sorted name+value
    pairs, then the body. Whoever sends the real request chooses how those bytes split into
    path, pairs and body, so a protected name anywhere else could become a pair of its own.
    """
    params = sorted(query, key=lambda pair: pair[0].encode("utf-8"))
    head = bytearray(path.encode("utf-8"))
    allowed: set[int] = set()
    for name, value in params:
        if name.encode() in _PROTECTED:
            allowed.add(len(head))
        head += name.encode("utf-8") + value.encode("utf-8")
    body_start = len(head)
    material = bytes(head) + (body or b"")
    for word in _PROTECTED:
        start = material.find(word)
        while start != -1:
            end = start + len(word)
            in_body = start >= body_start
            if start not in allowed and not (in_body and material[end : end + 1] == b'"'):
                raise Refusal(400, "ambiguous_query", name=word.decode())
            start = material.find(word, start + 1)
