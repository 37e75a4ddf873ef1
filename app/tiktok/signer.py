"""Who signs an Open API request (DESIGN.md section 2, "Who holds the app secret").

The client asks a `Signer` for each attempt's `sign` and never learns which mode it runs in:

- `LocalSigner` (own app): the seller typed their app secret; we sign in-process.
- `RelaySigner` (vendor app, the default): the secret lives only on the vendor's relay, which
  signs through `POST /v1/sign` for the holder of a subscriber token. The relay sees the path,
  query and body, never the shop's access token, so a signature alone grants nothing.

A signature is fetched per attempt, never cached: it covers the timestamp, which TikTok accepts
only within [now - 5 min, now + 30 s], and a retry after a backoff must carry a fresh one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import httpx

from app.tiktok.errors import (
    ApiError,
    ClientBugError,
    MalformedResponseError,
    RateLimitedError,
    ReauthorizationRequired,
    TikTokError,
    TransientError,
)
from app.tiktok.redact import redact, register_secret
from app.tiktok.retry_after import parse_retry_after
from app.tiktok.signing import sign_request

__all__ = ["LocalSigner", "RelaySigner", "RelaySigningError", "Signer", "SigningRefusedForContent"]


@runtime_checkable
class Signer(Protocol):
    """Produces the `sign` query parameter for one request attempt."""

    @property
    def app_key(self) -> str: ...

    async def sign(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        body: bytes | None,
        content_type: str,
    ) -> str: ...


class LocalSigner:
    """Own-app mode: HMAC with the app secret held in this process (from the keyring)."""

    def __init__(self, app_key: str, app_secret: str) -> None:
        if not app_key or not app_secret:
            raise ValueError("app_key and app_secret are both required for local signing")
        self._app_key = app_key
        self.__secret = app_secret
        register_secret(app_secret)

    @property
    def app_key(self) -> str:
        return self._app_key

    @property
    def app_secret(self) -> str:
        """Needed by own-app token exchange at TikTok's auth host. Never log it."""
        return self.__secret

    async def sign(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        body: bytes | None,
        content_type: str,
    ) -> str:
        return sign_request(self.__secret, path, query, body, content_type)

    def __repr__(self) -> str:
        return f"LocalSigner(app_key={self._app_key!r})"


class RelaySigningError(TikTokError):
    """Marker mixed into errors that came from the relay, not from TikTok."""


class _RelayRateLimited(RateLimitedError, RelaySigningError):
    """The relay's per-token signing budget ran out; TikTok's budget is untouched."""


class _RelayTransient(TransientError, RelaySigningError):
    pass


class _RelayRefused(ReauthorizationRequired, RelaySigningError):
    pass


class _RelayBadRequest(ClientBugError, RelaySigningError):
    pass


class SigningRefusedForContent(ApiError, RelaySigningError):
    """The relay refused to sign because a value of this one request holds a name it protects
    (`ambiguous_query`: e.g. an order id "timestamp" from a webhook). The client builds
    `app_key`, `timestamp` and `shop_cipher` once each, so only the data can cause it: the
    request is refused for good, like TikTok refusing an id, and other requests are unaffected.
    """


def _refusal(response: httpx.Response) -> object:
    """The relay's refusal reason (`{"error": ...}`), or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


class RelaySigner:
    """Vendor-app mode: `POST {relay}/v1/sign` with the subscriber token as Bearer."""

    def __init__(
        self,
        relay_url: str,
        app_key: str,
        subscriber_token: str | Callable[[], str],
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._url = relay_url.rstrip("/") + "/v1/sign"
        self._app_key = app_key
        self._token = subscriber_token
        if isinstance(subscriber_token, str):
            register_secret(subscriber_token)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout

    @property
    def app_key(self) -> str:
        return self._app_key

    def _bearer(self) -> str:
        token = self._token() if callable(self._token) else self._token
        register_secret(token)
        return token

    async def sign(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        body: bytes | None,
        content_type: str,
    ) -> str:
        payload = {
            "path": path,
            "query": [[name, value] for name, value in query],
            "body": base64.b64encode(body).decode("ascii") if body is not None else None,
            "content_type": content_type,
        }
        try:
            response = await self._http.post(
                self._url,
                content=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
                headers={
                    "authorization": f"Bearer {self._bearer()}",
                    "content-type": "application/json",
                },
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise _RelayTransient(
                f"relay signing failed: {exc.__class__.__name__}", path=path
            ) from None
        status = response.status_code
        if status == 200:
            try:
                sign = response.json()["sign"]
            except (ValueError, KeyError, TypeError):
                raise MalformedResponseError("relay /v1/sign gave no sign", path=path) from None
            if not isinstance(sign, str) or not sign:
                raise MalformedResponseError("relay /v1/sign answer has no sign", path=path)
            return sign
        detail = redact(response.text[:200])
        if status in (401, 403):
            raise _RelayRefused(f"relay refused the subscriber token: {detail}", http_status=status)
        if status == 429:
            raise _RelayRateLimited(
                "relay signing budget exhausted",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                http_status=status,
                path=path,
            )
        if status >= 500:
            raise _RelayTransient(f"relay error: {detail}", http_status=status, path=path)
        if status == 400 and _refusal(response) == "ambiguous_query":
            raise SigningRefusedForContent(
                f"relay refused to sign: {detail}", http_status=status, path=path
            )
        raise _RelayBadRequest(f"relay refused to sign: {detail}", http_status=status, path=path)

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def __repr__(self) -> str:
        return f"RelaySigner(url={self._url!r}, app_key={self._app_key!r})"
