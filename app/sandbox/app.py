"""The sandbox's ASGI application: a lean dispatcher, no framework, for throughput.

One callable serves three hosts' worth of paths, as the real platform splits them:
- the seller authorization page `GET /open/authorize` (services.tiktokshop.com);
- the auth host `GET /api/v2/token/get|refresh` (auth.tiktok-shops.com);
- the Open API (open-api.tiktokglobalshop.com), behind the gateway checks;
plus the sandbox's own `/_sandbox/*` control paths (stats, truth, clock, faults, revoke).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.sandbox.auth import AuthStore
from app.sandbox.clock import SimClock
from app.sandbox.config import SandboxConfig
from app.sandbox.counters import Counters
from app.sandbox.endpoints import PATTERN_ROUTES, ROUTES, Handler
from app.sandbox.errors import ApiError, Code
from app.sandbox.faults import Faults
from app.sandbox.gateway import check_request, parse_request
from app.sandbox.ratelimit import RateLimiter
from app.sandbox.world import World

__all__ = ["SandboxApp"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Response = tuple[int, bytes, list[tuple[bytes, bytes]], float]

_log = logging.getLogger(__name__)
_JSON = [(b"content-type", b"application/json")]
_AUTH_PATHS = ("/api/v2/token/get", "/api/v2/token/refresh")


def _too_many() -> ApiError:
    return ApiError(Code.TOO_MANY_REQUESTS, "Too many requests. Please retry later.")


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class SandboxApp:
    """ASGI callable. `handle()` is synchronous so that the hot path has no awaits but I/O."""

    def __init__(
        self,
        *,
        config: SandboxConfig,
        clock: SimClock,
        world: World,
        auth: AuthStore,
        faults: Faults,
        counters: Counters,
        truth: Callable[[], dict[str, Any]],
        stats: Callable[[], dict[str, Any]],
        revoke: Callable[[str], bool],
    ) -> None:
        self.config = config
        self.clock = clock
        self.world = world
        self.auth = auth
        self.faults = faults
        self.counters = counters
        self.limiter = RateLimiter(config.qps)
        self._truth = truth
        self._stats = stats
        self._revoke = revoke
        self._request_ids = itertools.count(1)

    # --- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, payload, headers, delay = self.handle(
            scope["method"], scope["path"], scope["query_string"], scope["headers"], body
        )
        if delay > 0:
            await asyncio.sleep(delay)
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    # --- dispatch ------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query_string: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Response:
        if path.startswith("/_sandbox/"):
            return self._control(method, path, query_string, body)
        self.counters.inc("requests")
        if path == "/open/authorize":
            return self._authorize(method, query_string)
        if path in _AUTH_PATHS:
            return self._token(method, path, query_string)
        status, payload, headers, delay = self._open_api(
            method, path, query_string, raw_headers, body
        )
        garbled = self.faults.corrupt(payload)
        if garbled is not None:
            self.counters.inc("garbled_injected")
            payload = garbled
        return status, payload, headers, delay

    def _request_id(self) -> str:
        return f"2026{next(self._request_ids):016d}SANDBOX"

    def _envelope(
        self, code: int, message: str, data: Any, status: int = 200, delay: float = 0.0
    ) -> Response:
        envelope = {
            "code": code,
            "message": message,
            "request_id": self._request_id(),
            "data": data,
        }
        return status, _dump(envelope), list(_JSON), delay

    def _error(self, error: ApiError, delay: float = 0.0) -> Response:
        return self._envelope(error.code, error.message, None, error.status, delay)

    # --- Open API ------------------------------------------------------------------------------

    @staticmethod
    def _route(method: str, path: str) -> tuple[Handler, bool, tuple[str, ...]]:
        methods = ROUTES.get(path)
        params: tuple[str, ...] = ()
        if methods is None:
            for prefix, suffix, candidates in PATTERN_ROUTES:
                if path.startswith(prefix) and path.endswith(suffix):
                    middle = path[len(prefix) : len(path) - len(suffix)]
                    if middle.isascii() and middle.isdigit():
                        methods, params = candidates, (middle,)
                        break
        if methods is None:
            raise ApiError(Code.INVALID_PATH, "Invalid path.")
        route = methods.get(method)
        if route is None:
            raise ApiError(Code.INVALID_METHOD, "Invalid method.")
        return route[0], route[1], params

    def _open_api(
        self,
        method: str,
        path: str,
        query_string: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Response:
        faults = self.faults
        delay = faults.latency
        try:
            handler, needs_shop, params = self._route(method, path)
            request = parse_request(method, path, query_string, raw_headers, body)
            request.params = params
            now = self.clock.now()
            try:
                check_request(
                    request,
                    app_key=self.config.app_key,
                    app_secret=self.config.app_secret,
                    auth=self.auth,
                    shops_by_cipher=self.world.shop_by_cipher,
                    needs_shop=needs_shop,
                    now=now,
                )
            except ApiError as error:
                if error.code == Code.INVALID_SIGN:
                    self.counters.inc("bad_signatures")
                raise
            assert request.grant is not None
            scope = request.shop.id if request.shop is not None else request.grant.open_id
            if faults.take_429():
                self.counters.inc("rate_limited")
                refused = self._error(_too_many(), delay)
                refused[2].extend(faults.retry_after_header())
                return refused
            if not self.limiter.allow(self.config.app_key, scope):
                self.counters.inc("rate_limited")
                raise _too_many()
            if faults.roll(faults.error_rate):
                self.counters.inc("errors_injected")
                raise ApiError(Code.INTERNAL_ERROR, "Internal error. Please retry later.", 503)
            world = self.world
            with world.lock:
                world.advance_to(now)
                data = handler(world, request)
                response = self._envelope(Code.OK, "Success", data, 200, delay)
            return response
        except ApiError as error:
            return self._error(error, delay)
        except Exception:  # a sandbox bug: answer like TikTok's internal error, and say so
            _log.exception("sandbox handler failed for %s %s", method, path)
            return self._error(ApiError(Code.INTERNAL_ERROR, "Internal error.", 500), delay)

    # --- seller authorization and the auth host ------------------------------------------------

    def _authorize(self, method: str, query_string: bytes) -> Response:
        if method != "GET":
            return self._error(ApiError(Code.INVALID_METHOD, "Invalid method."))
        query = dict(parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True))
        if query.get("service_id") != self.config.service_id:
            return self._error(ApiError(Code.INVALID_PARAMETER, "Invalid service_id."))
        redirect = query.get("redirect_uri", "")
        parts = urlsplit(redirect)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return self._error(ApiError(Code.INVALID_PARAMETER, "Invalid redirect_uri."))
        shop_ids = [s for s in query.get("shop_id", "").split(",") if s] or None
        try:
            code = self.auth.issue_code(self.clock.now(), shop_ids)
        except ApiError as error:
            return self._error(error)
        params = {"code": code}
        if "state" in query:
            params["state"] = query["state"]
        location = redirect + ("&" if parts.query else "?") + urlencode(params)
        return 302, b"", [(b"location", location.encode("utf-8"))], 0.0

    def _token(self, method: str, path: str, query_string: bytes) -> Response:
        if method != "GET":
            return self._error(ApiError(Code.INVALID_METHOD, "Invalid method."))
        query = dict(parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True))
        now = self.clock.now()
        try:
            self.auth.check_client(query.get("app_key", ""), query.get("app_secret", ""))
            grant_type = query.get("grant_type")
            if path.endswith("/get"):
                if grant_type != "authorized_code":
                    raise ApiError(Code.AUTH_INVALID_GRANT_TYPE, "Invalid grant_type.")
                data = self.auth.exchange(query.get("auth_code", ""), now)
            else:
                if grant_type != "refresh_token":
                    raise ApiError(Code.AUTH_INVALID_GRANT_TYPE, "Invalid grant_type.")
                data = self.auth.refresh(query.get("refresh_token", ""), now)
        except ApiError as error:
            return self._error(error)
        return self._envelope(Code.OK, "success", data)

    # --- sandbox control -----------------------------------------------------------------------

    def _control(self, method: str, path: str, query_string: bytes, body: bytes) -> Response:
        def plain(value: Any, status: int = 200) -> Response:
            return status, _dump(value), list(_JSON), 0.0

        name = path[len("/_sandbox/") :]
        if method == "GET" and name == "stats":
            return plain(self._stats())
        if method == "GET" and name == "truth":
            return plain(self._truth())
        if name == "clock" and method in ("GET", "POST"):
            if method == "POST" and json.loads(body or b"{}").get("paused"):
                self.clock.pause()  # the world stands still: a run's end, for its truth
            return plain({"now": self.clock.now(), "speed": self.clock.speed})
        if name == "faults" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    values = json.loads(body or b"{}")
                    if not isinstance(values, dict):
                        raise ValueError("expected a JSON object")
                    self.faults.update(values)
                except (ValueError, TypeError) as exc:
                    return plain({"error": str(exc)}, 400)
            return plain(self.faults.as_dict())
        if method == "POST" and name == "revoke":
            query = dict(parse_qsl(query_string.decode("utf-8", "replace")))
            return plain({"revoked": self._revoke(query.get("shop_id", ""))})
        return plain({"error": "unknown sandbox control path"}, 404)
