"""What TikTok's gateway checks before a business handler runs, in the order it checks them.

Each refusal raises `ApiError` with TikTok's code and message (tiktok-shop-api.md sections 1,
3.4 and 5). Signatures are checked with `app.tiktok.signing`, the code our client signs with;
the official vectors pin that code separately.
"""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from app.sandbox.auth import AuthStore, Grant
from app.sandbox.errors import ApiError, Code
from app.sandbox.state import ShopState
from app.tiktok.signing import is_multipart, sign_request

__all__ = ["Request", "check_request", "parse_request"]

TIMESTAMP_PAST = 300
TIMESTAMP_FUTURE = 30


@dataclass
class Request:
    method: str
    path: str
    pairs: list[tuple[str, str]]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: tuple[str, ...] = ()
    grant: Grant | None = None
    shop: ShopState | None = None
    _json: dict[str, Any] | None = field(default=None, repr=False)

    def json_body(self) -> dict[str, Any]:
        """The decoded JSON object body; `{}` when the request carries none."""
        if self._json is None:
            if not self.body:
                self._json = {}
            else:
                try:
                    value = json.loads(self.body)
                except ValueError:
                    raise ApiError(Code.INVALID_BODY, "Invalid request body format.") from None
                if not isinstance(value, dict):
                    raise ApiError(Code.INVALID_BODY, "The request body must be a JSON object.")
                self._json = value
        return self._json


def parse_request(
    method: str, path: str, query_string: bytes, raw_headers: list[tuple[bytes, bytes]], body: bytes
) -> Request:
    text = query_string.decode("utf-8", "replace")
    pairs = parse_qsl(text, keep_blank_values=True)
    query: dict[str, str] = {}
    for name, value in pairs:
        query.setdefault(name, value)  # the first value wins, as in TikTok's Go sample
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers
    }
    return Request(method, path, pairs, query, headers, body)


def check_signature(request: Request, app_key: str, app_secret: str) -> None:
    """app_key, sign, timestamp (wall clock), version, then the HMAC over the exact bytes."""
    query = request.query
    given_key = query.get("app_key")
    if not given_key:
        raise ApiError(Code.INVALID_PARAMETER, "Invalid app_key: the app_key parameter is missing.")
    if not hmac.compare_digest(given_key.encode(), app_key.encode()):
        raise ApiError(Code.INVALID_PARAMETER, "Invalid app_key.")
    sign = query.get("sign")
    if not sign:
        raise ApiError(Code.INVALID_PARAMETER, "Missing signature: the sign parameter is required.")
    raw_timestamp = query.get("timestamp", "")
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit() and len(raw_timestamp) == 10):
        raise ApiError(Code.INVALID_PARAMETER, "Invalid timestamp: expected 10-digit seconds.")
    drift = int(raw_timestamp) - time.time()
    if drift < -TIMESTAMP_PAST or drift > TIMESTAMP_FUTURE:
        raise ApiError(
            Code.INVALID_PARAMETER,
            "Invalid timestamp. The timestamp must be within 5 minutes before or 30 seconds "
            "after the current time.",
        )
    if "version" in query:
        raise ApiError(Code.INVALID_PARAMETER, "Invalid API version.")
    content_type = request.headers.get("content-type", "")
    signed_pairs = list(request.query.items())
    expected = sign_request(
        app_secret,
        request.path,
        signed_pairs,
        b"" if is_multipart(content_type) else request.body,
        content_type or "application/json",
    )
    if not hmac.compare_digest(expected.encode(), sign.encode("utf-8", "replace")):
        raise ApiError(Code.INVALID_SIGN, "Invalid sign.")


def check_content_type(request: Request) -> None:
    if not request.body:
        return
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise ApiError(
            Code.INVALID_CONTENT_TYPE,
            "Invalid content-type: requests with a body must use application/json.",
        )


def check_token(request: Request, auth: AuthStore, now: float) -> Grant:
    token = request.headers.get("x-tts-access-token", "")
    if not token:
        raise ApiError(
            Code.INVALID_PARAMETER,
            "Invalid access token header: x-tts-access-token is required.",
        )
    return auth.check_access(token, now)


def check_shop(
    request: Request, grant: Grant, shops_by_cipher: dict[str, ShopState], needs_shop: bool
) -> ShopState | None:
    cipher = request.query.get("shop_cipher")
    if not needs_shop:
        if cipher is not None:
            raise ApiError(
                Code.INVALID_PARAMETER,
                "Unexpected identifier. The shop_cipher query parameter is not required",
            )
        return None
    if not cipher:
        raise ApiError(Code.SHOP_CIPHER_MISSING, "The shop_cipher parameter is required.")
    shop = shops_by_cipher.get(cipher)
    if shop is None:
        raise ApiError(Code.INVALID_PARAMETER, "Invalid shop_cipher.")
    if shop.id not in grant.shop_ids:
        raise ApiError(
            Code.TOKEN_SHOP_MISMATCH, "The access token is not authorized for this shop."
        )
    if shop.id in grant.revoked:
        raise ApiError(
            Code.ACCESS_TOKEN_INVALID,
            "Access token is invalid. The seller has deauthorized the app for this shop.",
        )
    return shop


def check_request(
    request: Request,
    *,
    app_key: str,
    app_secret: str,
    auth: AuthStore,
    shops_by_cipher: dict[str, ShopState],
    needs_shop: bool,
    now: float,
) -> None:
    """Runs every gateway check; fills `request.grant` and `request.shop` on success."""
    check_signature(request, app_key, app_secret)
    check_content_type(request)
    grant = check_token(request, auth, now)
    request.grant = grant
    request.shop = check_shop(request, grant, shops_by_cipher, needs_shop)
