"""Vendor mode: the endpoints that keep the app secret on the relay (DESIGN.md 2 and 3).

`/v1/oauth/token` exchanges an authorization code and pairs in one step, `/v1/oauth/refresh`
refreshes, `/v1/sign` signs Open API requests (what it agrees to sign: `relay.signpolicy`)
within a per-shop budget, `/v1/pair` pairs a desktop that holds an access token. Nothing these
endpoints receive or send is logged, and upstream failures are reported by kind only: an httpx
exception's text can contain the token URL, whose query carries the app secret.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.tiktok.buckets import Buckets
from app.tiktok.signing import sign_request
from relay.backend.base import Backend, BackendError
from relay.config import RelayConfig
from relay.logs import log, redact_library_logs
from relay.metrics import Metrics
from relay.proxy import ClientAddress
from relay.signpolicy import MAX_SIGN_BODY, Refusal, parse_sign_request
from relay.tokens import create_token

__all__ = ["Upstream", "Vendor"]

_logger = logging.getLogger("relay.vendor")

SHOPS_PATH = "/authorization/202309/shops"


# Anyone may call these (no subscriber token yet), so they have a per-IP budget of their own.
_UNAUTHENTICATED = frozenset({"/v1/oauth/token", "/v1/pair"})

_Params = list[tuple[str, str | int | float | bool | None]]


class Upstream(Exception):
    """TikTok (or the sandbox) refused or failed; `status` is what we answer."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail or {}
        self.headers = headers


def _json_error(
    status: int, error: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status, headers=headers)


class Vendor:
    """Handlers for the vendor-mode endpoints; `authenticate` checks a subscriber token."""

    def __init__(
        self,
        config: RelayConfig,
        backend: Backend,
        metrics: Metrics,
        authenticate: Any,
    ) -> None:
        self.config = config
        self.backend = backend
        self.metrics = metrics
        self.authenticate = authenticate
        # Per shop: every token of a shop (each pairing mints one) draws on the same budget,
        # kept in Redis when several processes share it.
        self.sign_budget = backend.sign_budget(config.sign_rate, config.sign_burst)
        # shop id -> cipher, as TikTok named them at pairing (storage holds the truth; this
        # only saves a read per signature). A cipher is stable per shop.
        self._ciphers: dict[str, str] = {}
        # Per source IP for the endpoints anyone may call: each one costs TikTok requests.
        self.pair_budget = Buckets(config.pair_per_minute / 60.0, config.pair_burst)
        self.client_address = ClientAddress(config.proxy_headers, config.trusted_proxies)
        self.http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        redact_library_logs()
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    # --- upstream calls ------------------------------------------------------------------

    async def _get(self, url: str, params: _Params, headers: dict[str, str]) -> Any:
        assert self.http is not None
        try:
            response = await self.http.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            log(_logger, logging.WARNING, "upstream unreachable", kind=exc.__class__.__name__)
            raise Upstream(502, "tiktok_unreachable") from None
        try:
            payload = response.json()
        except ValueError:
            raise Upstream(
                502, "tiktok_bad_response", {"upstream_status": response.status_code}
            ) from None
        if not isinstance(payload, dict):
            raise Upstream(502, "tiktok_bad_response", {"upstream_status": response.status_code})
        code = payload.get("code")
        if response.status_code != 200 or code not in (0, None):
            message = payload.get("message")
            raise Upstream(
                502 if response.status_code >= 500 else 400,
                "tiktok_refused",
                {
                    "code": code,
                    "message": message if isinstance(message, str) else "",
                    "upstream_status": response.status_code,
                },
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise Upstream(502, "tiktok_bad_response", {"upstream_status": response.status_code})
        return data

    async def _token_call(self, path: str, params: _Params) -> dict[str, Any]:
        base: _Params = [("app_key", self.config.app_key), ("app_secret", self.config.app_secret)]
        data: dict[str, Any] = await self._get(
            self.config.tiktok_auth.rstrip("/") + path, base + params, {}
        )
        if not isinstance(data.get("access_token"), str):
            raise Upstream(502, "tiktok_bad_response")
        return data

    async def authorized_shops(self, access_token: str) -> list[dict[str, str]]:
        """The shops TikTok says this access token covers, as {id, name, cipher}."""
        query = [("app_key", self.config.app_key), ("timestamp", str(int(time.time())))]
        sign = sign_request(self.config.app_secret, SHOPS_PATH, query, None)
        data = await self._get(
            self.config.tiktok_api.rstrip("/") + SHOPS_PATH,
            [*query, ("sign", sign)],
            {"x-tts-access-token": access_token, "content-type": "application/json"},
        )
        shops = data.get("shops")
        if not isinstance(shops, list):
            raise Upstream(502, "tiktok_bad_response")
        result = []
        for shop in shops:
            if isinstance(shop, dict) and shop.get("id") is not None:
                result.append(
                    {
                        "id": str(shop["id"]),
                        "name": str(shop.get("name") or ""),
                        "cipher": str(shop.get("cipher") or ""),
                    }
                )
        if not result:
            raise Upstream(403, "no_shops")
        return result

    # --- handlers ------------------------------------------------------------------------

    async def _body(self, request: Request, limit: int = 64 * 1024) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > limit:
            raise Upstream(413, "too_large")
        try:
            import json

            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Upstream(400, "malformed") from None
        if not isinstance(data, dict):
            raise Upstream(400, "malformed")
        return data

    async def _bearer(self, request: Request) -> tuple[str, frozenset[str]]:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        identity: tuple[str, frozenset[str]] | None = await self.authenticate(bearer)
        if identity is None:
            raise Upstream(401, "unauthenticated")
        return identity

    async def handle(self, request: Request) -> Response:
        """Dispatch on the path; every failure becomes a small JSON error."""
        handlers = {
            "/v1/oauth/token": self.oauth_token,
            "/v1/oauth/refresh": self.oauth_refresh,
            "/v1/sign": self.sign,
            "/v1/pair": self.pair,
        }
        path = request.url.path
        if path in _UNAUTHENTICATED:
            ip = self.client_address.resolve(request.scope)
            if not self.pair_budget.allow(ip):
                wait = max(1, math.ceil(self.pair_budget.retry_after(ip)))
                log(_logger, logging.INFO, "vendor call refused", reason="rate_limited", ip=ip)
                return JSONResponse(
                    {"error": "rate_limited"},
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
        try:
            return await handlers[path](request)
        except Upstream as exc:
            return _json_error(exc.status, exc.error, exc.headers, **exc.detail)
        except Exception as exc:  # never let an exception's text (maybe a URL) reach a log
            log(_logger, logging.ERROR, "vendor endpoint failed", kind=exc.__class__.__name__)
            return _json_error(500, "internal")

    async def _pair(self, shops: list[dict[str, str]]) -> str:
        """Remember each shop's cipher (what `/v1/sign` checks against), then mint a token."""
        await self._remember_ciphers(shops)
        return await create_token(self.backend, [s["id"] for s in shops])

    async def _remember_ciphers(self, shops: Iterable[dict[str, str]]) -> None:
        ciphers = {s["id"]: s["cipher"] for s in shops if s.get("cipher")}
        if ciphers:
            await self.backend.record_shop_ciphers(ciphers)
            self._ciphers.update(ciphers)

    async def oauth_token(self, request: Request) -> Response:
        body = await self._body(request)
        code = body.get("code")
        if not isinstance(code, str) or not code or len(code) > 2048:
            raise Upstream(400, "malformed")
        tokens = await self._token_call(
            "/api/v2/token/get", [("auth_code", code), ("grant_type", "authorized_code")]
        )
        shops = await self.authorized_shops(tokens["access_token"])
        token = await self._pair(shops)
        await self._learn_owner(tokens, [s["id"] for s in shops])
        log(_logger, logging.INFO, "paired by oauth", shops=len(shops))
        return JSONResponse({"tokens": tokens, "token": token, "shops": shops})

    async def _learn_owner(self, tokens: dict[str, Any], shops: list[str]) -> None:
        """Map the seller's `open_id` (TikTok's token data; authorization-overview-202407)
        to the shops the token covers, so webhooks that name only `seller_open_id` (FBT
        topics such as 24) or `creator_open_id` reach them. TikTok documents no Open API call
        that returns the open_id, so the relay learns it only where TikTok hands it the token
        data: the code exchange and each refresh."""
        open_id = tokens.get("open_id")
        if isinstance(open_id, str) and 0 < len(open_id) <= 128 and shops:
            await self.backend.map_owner(open_id, shops)

    async def oauth_refresh(self, request: Request) -> Response:
        _, token_shops = await self._bearer(request)
        body = await self._body(request)
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh or len(refresh) > 4096:
            raise Upstream(400, "malformed")
        tokens = await self._token_call(
            "/api/v2/token/refresh", [("refresh_token", refresh), ("grant_type", "refresh_token")]
        )
        await self._learn_missing_ciphers(token_shops, tokens["access_token"])
        await self._learn_owner(tokens, sorted(token_shops))
        return JSONResponse(tokens)

    async def _learn_missing_ciphers(self, shops: frozenset[str], access_token: str) -> None:
        """Pairings made before the relay stored ciphers have none: the first refresh asks
        TikTok once with the fresh access token. Best effort: the refresh itself succeeded."""
        try:
            known = await self.backend.shop_ciphers(shops)
            if set(known) >= shops:
                return
            await self._remember_ciphers(await self.authorized_shops(access_token))
        except Upstream as exc:
            log(_logger, logging.WARNING, "ciphers not learned on refresh", kind=exc.error)
        except BackendError:
            log(_logger, logging.WARNING, "ciphers not learned on refresh", kind="storage")

    async def pair(self, request: Request) -> Response:
        body = await self._body(request)
        access = body.get("access_token")
        if not isinstance(access, str) or not access or len(access) > 4096:
            raise Upstream(400, "malformed")
        shops = await self.authorized_shops(access)
        token = await self._pair(shops)
        log(_logger, logging.INFO, "paired by access token", shops=len(shops))
        return JSONResponse({"token": token, "shops": shops})

    async def sign(self, request: Request) -> Response:
        """Every refusal is counted on `/metrics` by reason (`relay_sign_refused_total`)."""
        try:
            return await self._sign(request)
        except Refusal as exc:
            self.metrics.sign_refused[exc.reason] += 1
            detail = dict(exc.detail)
            wait = detail.pop("retry_after", None)
            headers = None if wait is None else {"Retry-After": str(wait)}
            raise Upstream(exc.status, exc.reason, detail, headers) from None
        except Upstream as exc:
            self.metrics.sign_refused[exc.error] += 1
            raise

    async def _sign(self, request: Request) -> Response:
        _, shops = await self._bearer(request)
        body = await self._body(request, limit=MAX_SIGN_BODY * 2)
        wanted = parse_sign_request(body, app_key=self.config.app_key, now=time.time())
        owner = self._cipher_owner(shops, wanted.shop_cipher)
        # Charged to the cipher's shop; a call without (an app-level path) or with a cipher
        # not known yet is charged to every shop of the token.
        await self._charge(shops if owner is None else (owner,))
        if wanted.shop_cipher is not None and owner is None:
            try:
                known = await self.backend.shop_ciphers(shops)
            except BackendError:
                raise Upstream(503, "storage") from None
            self._ciphers.update(known)
            if wanted.shop_cipher not in known.values():
                raise Refusal(400, "forbidden_shop_cipher")
        self.metrics.sign_requests += 1
        sign = sign_request(
            self.config.app_secret, wanted.path, wanted.query, wanted.body, wanted.content_type
        )
        return JSONResponse({"sign": sign})

    def _cipher_owner(self, shops: frozenset[str], cipher: str | None) -> str | None:
        if cipher is None:
            return None
        for shop in shops:
            if self._ciphers.get(shop) == cipher:
                return shop
        return None

    async def _charge(self, shops: Iterable[str]) -> None:
        try:
            wait = await self.sign_budget.take(sorted(shops))
        except BackendError:
            raise Upstream(503, "storage") from None
        if wait > 0:
            raise Refusal(429, "sign_budget_exceeded", retry_after=max(1, math.ceil(wait)))
