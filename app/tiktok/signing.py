"""TikTok Shop request and webhook signatures.

Both schemes are HMAC-SHA256 keyed with the app secret (tiktok-shop-api.md sections 3 and 6.2).
They live here, in one small module without I/O, because three parts must agree on them to the
byte: the API client signs, the sandbox checks like TikTok does, and the relay verifies webhooks
and signs on behalf of vendor-mode desktops.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

__all__ = [
    "EXCLUDED_FROM_SIGNATURE",
    "QueryLike",
    "is_multipart",
    "sign_request",
    "string_to_sign",
    "verify_webhook",
    "webhook_signature",
]

# `sign` cannot sign itself, and the access token is a bearer credential, never part of a digest.
EXCLUDED_FROM_SIGNATURE = frozenset({"sign", "access_token"})

QueryLike = Mapping[str, object] | Iterable[tuple[str, object]]


def is_multipart(content_type: str | None) -> bool:
    """Whether the media type is multipart/form-data, parameters such as boundary ignored."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def _pairs(query: QueryLike) -> list[tuple[str, str]]:
    items = query.items() if isinstance(query, Mapping) else query
    return [(str(name), "" if value is None else str(value)) for name, value in items]


def _body_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def string_to_sign(
    app_secret: str,
    path: str,
    query: QueryLike,
    body: bytes | str | None = None,
    content_type: str = "application/json",
) -> bytes:
    """The exact bytes TikTok's algorithm feeds to HMAC. Contains the secret: never log it."""
    params = sorted(
        (pair for pair in _pairs(query) if pair[0] not in EXCLUDED_FROM_SIGNATURE),
        key=lambda pair: pair[0].encode("utf-8"),
    )
    parts = [path.encode("utf-8")]
    parts.extend(name.encode("utf-8") + value.encode("utf-8") for name, value in params)
    if not is_multipart(content_type):
        parts.append(_body_bytes(body))
    secret = app_secret.encode("utf-8")
    return secret + b"".join(parts) + secret


def sign_request(
    app_secret: str,
    path: str,
    query: QueryLike,
    body: bytes | str | None = None,
    content_type: str = "application/json",
) -> str:
    """The `sign` query parameter for an Open API request, as lowercase hex.

    `query` holds decoded values; `body` must be the exact bytes that go on the wire, because
    TikTok hashes what it receives, not what we meant to send.
    """
    message = string_to_sign(app_secret, path, query, body, content_type)
    return hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def webhook_signature(app_key: str, app_secret: str, raw_body: bytes) -> str:
    """The `Authorization` header TikTok puts on a webhook: hex HMAC of app_key + raw body."""
    return hmac.new(
        app_secret.encode("utf-8"), app_key.encode("utf-8") + raw_body, hashlib.sha256
    ).hexdigest()


def verify_webhook(
    app_key: str, app_secret: str, raw_body: bytes, authorization: str | None
) -> bool:
    """Whether `authorization` is TikTok's signature of exactly these bytes.

    Constant time. The header is the bare hex digest. TikTok's documented vector is
    lowercase, but hex digits are case-insensitive (RFC 4648 section 8), and a sender or proxy
    that upper-cases them must not make us answer 401 to a genuine webhook (TikTok would retry
    it for 15.5 hours and then drop it). So the header's ASCII letters are lowered first and
    the bytes are then compared with `hmac.compare_digest`. A missing or empty header, a
    "Bearer ..." prefix, surrounding spaces or any non-hex text are refused. (EcomPHP's
    `Webhook::verify` and `tiktok-shop-api` compare case-sensitively; we are more lenient
    on purpose, which costs nothing: the digest is the same 256 bits either way.)
    """
    if not authorization:
        return False
    expected = webhook_signature(app_key, app_secret, raw_body).encode("ascii")
    given = authorization.encode("utf-8", "replace")
    # bytes.lower() touches only A-Z, so a non-ASCII header cannot be folded into a match.
    return hmac.compare_digest(expected, given.lower())
