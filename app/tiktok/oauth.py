"""Seller authorization and the token lifecycle (tiktok-shop-api.md section 2).

The flow, start to finish:
1. `new_state()` and `authorization_url()` give the link the seller opens; the random `state`
   is ours to check on return (CSRF).
2. The code comes back either to a `LoopbackRedirectCatcher` (when the app's registered redirect
   is a loopback URL) or as a URL / bare code the seller pastes; `parse_redirect()` checks the
   state and extracts the code.
3. A `TokenExchanger` turns the code into tokens: `DirectTokenExchanger` at TikTok's auth host
   with our own app secret (own-app mode), or `RelayTokenExchanger` through the relay's
   `/v1/oauth/token`, which also returns the shops and a subscriber token (vendor mode).
4. `TokenManager` hands out the access token, refreshes it ahead of expiry and on 105002 with a
   single refresh in flight however many callers ask, and persists every new token set to the
   credential store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from app.tiktok.backoff import Backoff
from app.tiktok.credentials import CredentialStore, load_tokens, save_tokens
from app.tiktok.errors import (
    ApiError,
    AuthorizationDenied,
    MalformedResponseError,
    OAuthStateMismatch,
    RateLimitedError,
    ReauthorizationRequired,
    TikTokError,
    TransientError,
)
from app.tiktok.hosts import AUTH_BASE_URL, AUTHORIZE_URL
from app.tiktok.models import PayloadError, Shop, TokenSet, loads, parse
from app.tiktok.redact import fingerprint, redact, register_secret

__all__ = [
    "DirectTokenExchanger",
    "LoopbackRedirectCatcher",
    "RelayTokenExchanger",
    "TokenExchanger",
    "TokenGrant",
    "TokenManager",
    "authorization_url",
    "new_state",
    "parse_redirect",
]

log = logging.getLogger(__name__)

DEFAULT_AUTHORIZE_URL = AUTHORIZE_URL
DEFAULT_AUTH_BASE_URL = AUTH_BASE_URL


# --- the link and the redirect -----------------------------------------------------------------


def new_state() -> str:
    """A fresh unguessable `state` for one authorization attempt."""
    return secrets.token_urlsafe(24)


def authorization_url(
    service_id: str,
    state: str,
    *,
    authorize_url: str = DEFAULT_AUTHORIZE_URL,
    redirect_uri: str | None = None,
) -> str:
    """The seller's authorization link. `service_id` is the app's service id, not app_key.

    `redirect_uri` is only sent when given: TikTok redirects to the URL registered in Partner
    Center; the sandbox accepts it as a parameter.
    """
    params = {"service_id": service_id, "state": state}
    if redirect_uri:
        params["redirect_uri"] = redirect_uri
    separator = "&" if "?" in authorize_url else "?"
    return f"{authorize_url}{separator}{urlencode(params)}"


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _code_from_query(query: dict[str, list[str]], expected_state: str) -> str:
    # The state first, for denials too: a forged "denied" must not end a real authorization.
    state = _first(query, "state") or ""
    if not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise OAuthStateMismatch("the redirect's state does not match this authorization")
    error = _first(query, "error")
    code = _first(query, "code")
    if error or code is None or code in ("", "null"):
        raise AuthorizationDenied(f"authorization not granted ({error or 'no code'})")
    return code


def parse_redirect(text: str, expected_state: str) -> str:
    """The authorization code from a pasted redirect URL (state checked) or a bare code.

    A bare code carries no state to check; it is accepted because the seller copied it from
    their own browser, which is the same trust as typing a password.
    """
    text = text.strip()
    if not text:
        raise AuthorizationDenied("no authorization code given")
    if "?" in text or "://" in text or "code=" in text:
        query_string = urlsplit(text).query if "?" in text or "://" in text else text
        return _code_from_query(parse_qs(query_string), expected_state)
    if any(ch.isspace() for ch in text) or len(text) > 512:
        raise AuthorizationDenied("that does not look like an authorization code")
    return text


class LoopbackRedirectCatcher:
    """A one-shot HTTP listener on 127.0.0.1 that catches TikTok's redirect.

    Use when the app's registered redirect URL is loopback (`http://127.0.0.1:PORT/callback`).
    Requests with a wrong `state` get a 400 and are ignored, so a stray or forged request
    cannot end the wait; a denial ends it with `AuthorizationDenied`.
    """

    def __init__(self, expected_state: str, *, port: int = 0, path: str = "/callback") -> None:
        self._state = expected_state
        self._port = port
        self._path = path
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[str] | None = None

    @property
    def redirect_uri(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the catcher first")
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}{self._path}"

    async def start(self) -> LoopbackRedirectCatcher:
        self._result = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self._port)
        return self

    async def wait(self, within: float | None = 600.0) -> str:
        """The code, once a valid redirect arrives (TimeoutError after `within` seconds)."""
        if self._result is None:
            raise RuntimeError("start() the catcher first")
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), within)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LoopbackRedirectCatcher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status, body = 400, "Not an authorization redirect."
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5.0)
            with contextlib.suppress(TimeoutError):  # drain headers, best effort
                while (await asyncio.wait_for(reader.readline(), 1.0)) not in (b"\r\n", b""):
                    pass
            parts = request_line.decode("latin-1").split()
            target = urlsplit(parts[1]) if len(parts) >= 2 else None
            if target is not None and target.path == self._path and self._result is not None:
                try:
                    code = _code_from_query(parse_qs(target.query), self._state)
                except OAuthStateMismatch:
                    log.warning("ignored an authorization redirect with a wrong state")
                except AuthorizationDenied as exc:
                    status, body = 200, "Authorization was not granted. You can close this tab."
                    if not self._result.done():
                        self._result.set_exception(exc)
                else:
                    status, body = 200, "ViralStock is connected. You can close this tab."
                    if not self._result.done():
                        self._result.set_result(code)
        except (TimeoutError, OSError, UnicodeError):
            pass
        payload = body.encode("utf-8")
        reason = "OK" if status == 200 else "Bad Request"
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            writer.write(head.encode("ascii") + payload)
            await writer.drain()
            writer.close()


# --- exchanging and refreshing -----------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    """What an authorization yields. Vendor mode also gets shops and a subscriber token."""

    tokens: TokenSet
    shops: list[Shop] = field(default_factory=list)
    subscriber_token: str | None = field(default=None, repr=False)


class TokenExchanger(Protocol):
    async def exchange(self, code: str) -> TokenGrant: ...

    async def refresh(self, refresh_token: str) -> TokenSet: ...


def _token_set(data: Any, where: str) -> TokenSet:
    try:
        tokens = parse(TokenSet, data)
    except PayloadError as exc:
        raise MalformedResponseError(f"{where}: {exc}") from None
    register_secret(tokens.access_token.get_secret_value())
    register_secret(tokens.refresh_token.get_secret_value())
    return tokens


_TOKEN_RETRY = Backoff(base=0.2, cap=10.0)


async def _with_retries[T](
    call: Callable[[], Awaitable[T]], *, attempts: int = 3, backoff: Backoff = _TOKEN_RETRY
) -> T:
    """Retry a token call on transient failures only; a refused token is final."""
    for attempt in range(attempts):
        try:
            return await call()
        except (TransientError, RateLimitedError) as exc:
            if attempt == attempts - 1:
                raise
            delay = exc.retry_after if isinstance(exc, RateLimitedError) else None
            await asyncio.sleep(delay or backoff.delay(attempt))
    raise AssertionError("unreachable")


class DirectTokenExchanger:
    """Own-app mode: `GET {auth}/api/v2/token/get|refresh` with our app secret in the query.

    These calls are not HMAC-signed and carry the secret in the URL, which is why httpx's
    request log line must pass through the redaction filter.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        auth_base_url: str = DEFAULT_AUTH_BASE_URL,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._app_key = app_key
        self.__secret = app_secret
        register_secret(app_secret)
        # The secret travels in this URL, which httpx logs at INFO: the process's composition
        # root installs the record redaction (`app.main.prepare_process`) before any of this.
        self._base = auth_base_url.rstrip("/")
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            response = await self._http.get(self._base + path, params=params, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise TransientError(f"token request failed: {type(exc).__name__}", path=path) from None
        try:
            envelope = loads(response.content)
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "code" not in envelope:
            if response.status_code >= 500:
                raise TransientError("auth host error", http_status=response.status_code, path=path)
            if response.status_code == 429:
                raise RateLimitedError("auth host rate limit", http_status=429, path=path)
            raise MalformedResponseError(
                "auth host answer is not an envelope", http_status=response.status_code, path=path
            )
        code = envelope.get("code")
        request_id = envelope.get("request_id")
        message = str(envelope.get("message") or "")
        if code == 0:
            return envelope.get("data")
        kw: dict[str, Any] = {
            "code": code if isinstance(code, int) else None,
            "request_id": str(request_id) if request_id else None,
            "http_status": response.status_code,
            "path": path,
        }
        if response.status_code >= 500 or code in (36009003, 36009007):
            raise TransientError(message or "auth host error", **kw)
        if response.status_code == 429 or code == 36009002:
            raise RateLimitedError(message or "auth host rate limit", **kw)
        # Bad or used code, dead refresh token, revoked authorization: the seller must act.
        raise ReauthorizationRequired(message or "token request refused", **kw)

    async def exchange(self, code: str) -> TokenGrant:
        params = {
            "app_key": self._app_key,
            "app_secret": self.__secret,
            "auth_code": code,
            "grant_type": "authorized_code",
        }
        # A code is single use: no retry once the request may have reached the server.
        data = await self._get("/api/v2/token/get", params)
        return TokenGrant(tokens=_token_set(data, "token/get"))

    async def refresh(self, refresh_token: str) -> TokenSet:
        params = {
            "app_key": self._app_key,
            "app_secret": self.__secret,
            "refresh_token": refresh_token,
            "grant_type": "refresh_token",
        }
        data = await _with_retries(lambda: self._get("/api/v2/token/refresh", params))
        return _token_set(data, "token/refresh")

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def __repr__(self) -> str:
        return f"DirectTokenExchanger(app_key={self._app_key!r}, auth={self._base!r})"


class RelayTokenExchanger:
    """Vendor mode: the relay exchanges and refreshes with the vendor's secret (DESIGN.md 3)."""

    def __init__(
        self,
        relay_url: str,
        *,
        subscriber_token: str | Callable[[], str | None] | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._base = relay_url.rstrip("/")
        self._token = subscriber_token
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout

    def set_subscriber_token(self, token: str) -> None:
        register_secret(token)
        self._token = token

    def _bearer(self) -> str | None:
        token = self._token() if callable(self._token) else self._token
        if token:
            register_secret(token)
        return token

    async def _post(self, path: str, body: dict[str, str], *, bearer: bool) -> Any:
        headers = {"content-type": "application/json"}
        if bearer:
            token = self._bearer()
            if not token:
                raise ReauthorizationRequired("no subscriber token: connect the shop first")
            headers["authorization"] = f"Bearer {token}"
        try:
            response = await self._http.post(
                self._base + path, json=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"relay request failed: {type(exc).__name__}", path=path) from None
        status = response.status_code
        try:
            payload = loads(response.content) if response.content else None
        except ValueError:
            payload = None
        if status == 200 and isinstance(payload, dict):
            return payload
        detail = redact(response.text[:200])
        if status >= 500:
            raise TransientError(f"relay error: {detail}", http_status=status, path=path)
        if status == 429:
            raise RateLimitedError("relay rate limit", http_status=status, path=path)
        if status in (400, 401, 403):
            raise ReauthorizationRequired(f"relay refused: {detail}", http_status=status, path=path)
        if status == 200:
            raise MalformedResponseError("relay answer is not a JSON object", path=path)
        raise ApiError(f"relay refused: {detail}", http_status=status, path=path)

    async def exchange(self, code: str) -> TokenGrant:
        payload = await self._post("/v1/oauth/token", {"code": code}, bearer=False)
        tokens = _token_set(payload.get("tokens"), "relay oauth/token")
        token = payload.get("token")
        if not isinstance(token, str) or not token:
            raise MalformedResponseError("relay oauth/token gave no subscriber token")
        self.set_subscriber_token(token)
        shops_raw = payload.get("shops") or []
        try:
            shops = [parse(Shop, shop) for shop in shops_raw]
        except PayloadError as exc:
            raise MalformedResponseError(f"relay oauth/token shops: {exc}") from None
        return TokenGrant(tokens=tokens, shops=shops, subscriber_token=token)

    async def refresh(self, refresh_token: str) -> TokenSet:
        payload = await _with_retries(
            lambda: self._post("/v1/oauth/refresh", {"refresh_token": refresh_token}, bearer=True)
        )
        data = payload
        if isinstance(payload, dict) and "access_token" not in payload:
            data = payload.get("tokens") or payload.get("data")
        return _token_set(data, "relay oauth/refresh")

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def __repr__(self) -> str:
        return f"RelayTokenExchanger(relay={self._base!r})"


# --- the live token ----------------------------------------------------------------------------


class TokenManager:
    """The access token for one authorization (which may cover several shops).

    - `access_token()` refreshes first when the token expires within `refresh_ahead` seconds;
    - `refresh(stale_fingerprint)` is single-flight: concurrent callers share one refresh,
      and a caller whose stale token was already replaced gets the new one without another
      round trip;
    - every new token set is saved for each of `shop_ids` in the credential store.
    `clock` gives epoch seconds on the same clock as TikTok's `*_expire_in` (the sandbox may
    run a simulated one).
    """

    def __init__(
        self,
        app_key: str,
        exchanger: TokenExchanger,
        store: CredentialStore,
        *,
        shop_ids: Sequence[str] = (),
        tokens: TokenSet | None = None,
        refresh_ahead: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_key = app_key
        self.shop_ids = list(shop_ids)
        self._exchanger = exchanger
        self._store = store
        self._refresh_ahead = refresh_ahead
        self._clock = clock
        if tokens is None and self.shop_ids:
            tokens = load_tokens(store, app_key, self.shop_ids[0])
        elif tokens is not None:
            self._save(tokens)
        self._tokens = tokens
        self._inflight: asyncio.Task[TokenSet] | None = None
        self.refresh_count = 0

    def bind_shops(self, shop_ids: Sequence[str]) -> None:
        """Record which shops this authorization covers (learnt from `authorized_shops`) and
        store the tokens under each of them."""
        self.shop_ids = list(dict.fromkeys([*self.shop_ids, *shop_ids]))
        if self._tokens is not None:
            self._save(self._tokens)

    @property
    def tokens(self) -> TokenSet | None:
        return self._tokens

    def set_tokens(self, tokens: TokenSet) -> None:
        """Adopt a new token set (after an authorization) and persist it."""
        self._tokens = tokens
        self._save(tokens)

    def _save(self, tokens: TokenSet) -> None:
        for shop_id in self.shop_ids:
            save_tokens(self._store, self.app_key, shop_id, tokens)

    def _current(self) -> TokenSet:
        if self._tokens is None:
            raise ReauthorizationRequired("this shop is not connected: authorize it first")
        return self._tokens

    async def access_token(self) -> str:
        """The access token, refreshed first when it expires within `refresh_ahead` seconds.

        A refresh *ahead* of expiry that fails transiently is not fatal: the current token is
        still good, so it is used and the refresh is tried again on the next call.
        """
        tokens = self._current()
        now = self._clock()
        if tokens.access_expires_within(self._refresh_ahead, now):
            try:
                tokens = await self._refresh_from(
                    fingerprint(tokens.access_token.get_secret_value())
                )
            except TikTokError as exc:
                if not exc.retryable or tokens.access_expires_within(0, self._clock()):
                    raise
                log.warning("early token refresh failed, using the current token: %s", exc)
        return tokens.access_token.get_secret_value()

    async def refresh(self, stale_fingerprint: str | None = None) -> str:
        """A fresh access token; `stale_fingerprint` is `redact.fingerprint` of the one that
        just failed with 105002 (the token itself is never passed around)."""
        return (await self._refresh_from(stale_fingerprint)).access_token.get_secret_value()

    async def _refresh_from(self, stale_fingerprint: str | None) -> TokenSet:
        tokens = self._current()
        if (
            stale_fingerprint is not None
            and fingerprint(tokens.access_token.get_secret_value()) != stale_fingerprint
        ):
            return tokens  # someone else already refreshed
        if self._inflight is None:
            self._inflight = asyncio.get_running_loop().create_task(self._do_refresh(tokens))
            self._inflight.add_done_callback(self._clear_inflight)
        # shield: one impatient caller's cancellation must not abort everyone's refresh.
        return await asyncio.shield(self._inflight)

    def _clear_inflight(self, task: asyncio.Task[TokenSet]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved: nobody may be left awaiting it

    async def _do_refresh(self, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token_expire_in <= self._clock():
            raise ReauthorizationRequired("the refresh token has expired: authorize again")
        try:
            new = await self._exchanger.refresh(tokens.refresh_token.get_secret_value())
        except ReauthorizationRequired:
            log.warning("token refresh refused for shops %s: authorize again", self.shop_ids)
            raise
        except TikTokError as exc:
            log.warning("token refresh failed: %s", exc)
            raise
        self.refresh_count += 1
        self._tokens = new
        self._save(new)
        log.info("access token refreshed for shops %s", ",".join(self.shop_ids))
        return new
