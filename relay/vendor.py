"""Vendor mode: the endpoints that keep the app secret on the relay (DESIGN.md 2 and 3).

`/v1/oauth/token` exchanges an authorization code and pairs in one step, `/v1/oauth/refresh`
refreshes, `/v1/sign` signs Open API requests within a per-token budget, `/v1/pair` pairs a
desktop that holds an access token. Nothing these endpoints receive or send is logged, and
upstream failures are reported by kind only: an httpx exception's text can contain the token
URL, whose query carries the app secret.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import time
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.tiktok.signing import sign_request
from relay.backend.base import Backend
from relay.config import RelayConfig
from relay.logs import log, redact_library_logs
from relay.metrics import Metrics
from relay.proxy import ClientAddress
from relay.ratelimit import Buckets
from relay.tokens import create_token

__all__ = ["OPEN_API_PATH", "Upstream", "Vendor"]

_logger = logging.getLogger("relay.vendor")

# `/{category}/{version}/{resource...}`, e.g. /order/202309/orders/search. The auth host's
# `/api/v2/token/*` does not match, and neither does anything with `..` or a query.
OPEN_API_PATH = re.compile(r"^/[a-z][a-z_]*/\d{6}(/[A-Za-z0-9_\-.]+)+$")
SHOPS_PATH = "/authorization/202309/shops"
# TikTok accepts timestamps in [now - 5 min, now + 30 s] (tiktok-shop-api.md 1).
SIGN_PAST = 300
SIGN_FUTURE = 30
MAX_SIGN_BODY = 4 * 1024 * 1024


# Anyone may call these (no subscriber token yet), so they have a per-IP budget of their own.
_UNAUTHENTICATED = frozenset({"/v1/oauth/token", "/v1/pair"})

_Params = list[tuple[str, str | int | float | bool | None]]


class Upstream(Exception):
    """TikTok (or the sandbox) refused or failed; `status` is what we answer."""

    def __init__(self, status: int, error: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail or {}


def _json_error(status: int, error: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


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
        self.sign_budget = Buckets(config.sign_rate, config.sign_burst)
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
            return _json_error(exc.status, exc.error, **exc.detail)
        except Exception as exc:  # never let an exception's text (maybe a URL) reach a log
            log(_logger, logging.ERROR, "vendor endpoint failed", kind=exc.__class__.__name__)
            return _json_error(500, "internal")

    async def oauth_token(self, request: Request) -> Response:
        body = await self._body(request)
        code = body.get("code")
        if not isinstance(code, str) or not code or len(code) > 2048:
            raise Upstream(400, "malformed")
        tokens = await self._token_call(
            "/api/v2/token/get", [("auth_code", code), ("grant_type", "authorized_code")]
        )
        shops = await self.authorized_shops(tokens["access_token"])
        token = await create_token(self.backend, [s["id"] for s in shops])
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
        _, shops = await self._bearer(request)
        body = await self._body(request)
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh or len(refresh) > 4096:
            raise Upstream(400, "malformed")
        tokens = await self._token_call(
            "/api/v2/token/refresh", [("refresh_token", refresh), ("grant_type", "refresh_token")]
        )
        await self._learn_owner(tokens, sorted(shops))
        return JSONResponse(tokens)

    async def pair(self, request: Request) -> Response:
        body = await self._body(request)
        access = body.get("access_token")
        if not isinstance(access, str) or not access or len(access) > 4096:
            raise Upstream(400, "malformed")
        shops = await self.authorized_shops(access)
        token = await create_token(self.backend, [s["id"] for s in shops])
        log(_logger, logging.INFO, "paired by access token", shops=len(shops))
        return JSONResponse({"token": token, "shops": shops})

    async def sign(self, request: Request) -> Response:
        token_hash, _ = await self._bearer(request)
        if not self.sign_budget.allow(token_hash):
            raise Upstream(429, "sign_budget_exceeded")
        body = await self._body(request, limit=MAX_SIGN_BODY * 2)
        path = body.get("path")
        if not isinstance(path, str) or not OPEN_API_PATH.match(path) or ".." in path:
            raise Upstream(400, "path_not_allowed")
        query = _query_pairs(body.get("query"))
        names = {name for name, _ in query}
        if "app_secret" in names:
            raise Upstream(400, "bad_query")
        if dict(query).get("app_key") != self.config.app_key:
            raise Upstream(400, "bad_app_key")
        stamp = dict(query).get("timestamp", "")
        now = time.time()
        if not stamp.isdigit() or not now - SIGN_PAST <= int(stamp) <= now + SIGN_FUTURE:
            raise Upstream(400, "bad_timestamp")
        payload = body.get("body")
        raw: bytes | None = None
        if payload is not None:
            if not isinstance(payload, str):
                raise Upstream(400, "malformed")
            try:
                raw = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise Upstream(400, "malformed") from None
            if len(raw) > MAX_SIGN_BODY:
                raise Upstream(413, "too_large")
        content_type = body.get("content_type") or "application/json"
        if not isinstance(content_type, str):
            raise Upstream(400, "malformed")
        self.metrics.sign_requests += 1
        return JSONResponse(
            {"sign": sign_request(self.config.app_secret, path, query, raw, content_type)}
        )


def _query_pairs(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list) or len(value) > 200:
        raise Upstream(400, "bad_query")
    pairs: list[tuple[str, str]] = []
    for pair in value:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise Upstream(400, "bad_query")
        name, val = pair
        if not isinstance(name, str) or isinstance(val, bool | dict | list):
            raise Upstream(400, "bad_query")
        pairs.append((name, "" if val is None else str(val)))
    return pairs
