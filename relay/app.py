"""The relay as one ASGI application: a bare handler for the webhook POST in front of Starlette.

The webhook POST is the only hot path, so it bypasses routing, middleware and Request objects;
everything else (health, metrics, vendor endpoints, the WebSocket) is an ordinary Starlette
route, where convenience matters more than microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from app.tiktok.buckets import Buckets
from relay.backend import Backend, open_backend
from relay.config import RelayConfig
from relay.hub import Hub
from relay.ingest import Ingest
from relay.logs import log
from relay.metrics import Metrics
from relay.stream import StreamEndpoint
from relay.tokens import create_token, hash_token, looks_like_token
from relay.vendor import Vendor

__all__ = ["Relay"]

_logger = logging.getLogger("relay")

_TOKEN_CACHE_SECONDS = 30.0


class Relay:
    """Owns the backend, hub, metrics and handlers of one relay process. Call it as ASGI."""

    def __init__(
        self,
        config: RelayConfig,
        backend: Backend | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The event clock: webhooks' arrival, the timestamp window and retention. Injected so
        # tests move it forward instead of sleeping through a retention period.
        self.clock = clock
        self.config = config
        self.backend = backend or open_backend(config)
        self.metrics = Metrics()
        self.hub = Hub(self.backend.cursor_key, capacity=config.recent_per_shop)
        self.ingest = Ingest(
            config,
            self.backend,
            self.metrics,
            Buckets(config.ip_refusal_rate, config.ip_refusal_burst),
            clock=clock,
        )
        # A new stream always asks storage: a revoked token is refused at once.
        self.stream = StreamEndpoint(
            self.backend, self.hub, self.metrics, self.authenticate_fresh, clock=clock
        )
        self.vendor = Vendor(config, self.backend, self.metrics, self.authenticate)
        self.started_at = time.time()
        self._tokens: dict[str, tuple[frozenset[str], float]] = {}
        self._trimmer: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None
        self.app = Starlette(
            routes=[
                Route("/webhooks/tiktok", self._reachable, methods=["GET", "HEAD"]),
                Route("/healthz", self._healthz, methods=["GET"]),
                Route("/metrics", self._metrics, methods=["GET"]),
                Route("/v1/oauth/token", self.vendor.handle, methods=["POST"]),
                Route("/v1/oauth/refresh", self.vendor.handle, methods=["POST"]),
                Route("/v1/sign", self.vendor.handle, methods=["POST"]),
                Route("/v1/pair", self.vendor.handle, methods=["POST"]),
                WebSocketRoute("/v1/stream", self.stream),
            ],
            lifespan=self._lifespan,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/webhooks/tiktok"
            and scope["method"] == "POST"
        ):
            await self.ingest(scope, receive, send)
            return
        await self.app(scope, receive, send)

    # --- lifecycle -----------------------------------------------------------------------

    async def startup(self) -> None:
        self.backend.on_reset(self.hub.reset)
        await self.backend.start(self.hub.publish)
        await self.vendor.start()
        self._trimmer = asyncio.create_task(self._trim_forever())
        self._checker = asyncio.create_task(self._check_tokens_forever())
        log(
            _logger,
            logging.INFO,
            "relay started",
            backend=self.backend.name,
            store=self.config.store_display,
        )

    async def shutdown(self) -> None:
        for task in (self._trimmer, self._checker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await self.vendor.close()
        await self.backend.close()
        log(_logger, logging.INFO, "relay stopped")

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def _trim_forever(self) -> None:
        while True:
            try:
                removed = await self.backend.trim(self.clock())
                if removed:
                    self.metrics.trimmed += removed
                    log(_logger, logging.INFO, "trimmed", rows=removed)
            except Exception:
                _logger.exception("trim failed")
            await asyncio.sleep(self.config.trim_interval)

    async def _check_tokens_forever(self) -> None:
        """Revocations may happen in another process (`token revoke`): every interval, close
        the open streams of tokens that are gone and forget cached answers for them."""
        while True:
            await asyncio.sleep(self.config.token_check_interval)
            try:
                for digest in await self.stream.revalidate():
                    self._tokens.pop(digest, None)
            except Exception:
                _logger.exception("token check failed")

    # --- auth ----------------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> tuple[str, frozenset[str]] | None:
        """(token hash, shops) for a valid subscriber token. Positive answers are cached
        briefly; unknown tokens always ask storage, so a token minted elsewhere works at once."""
        if not token or not looks_like_token(token):
            return None
        digest = hash_token(token)
        cached = self._tokens.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return digest, cached[0]
        return await self._lookup(digest, now)

    async def authenticate_fresh(self, token: str | None) -> tuple[str, frozenset[str]] | None:
        """`authenticate` without the cache: for new streams, so a revocation counts at once."""
        if not token or not looks_like_token(token):
            return None
        return await self._lookup(hash_token(token), time.monotonic())

    async def _lookup(self, digest: str, now: float) -> tuple[str, frozenset[str]] | None:
        shops = await self.backend.token_shops(digest)
        if shops is None:
            return None
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[digest] = (
            shops,
            now + min(_TOKEN_CACHE_SECONDS, self.config.token_check_interval),
        )
        return digest, shops

    async def create_token(self, shops: list[str]) -> str:
        return await create_token(self.backend, shops)

    # --- small routes --------------------------------------------------------------------

    async def _reachable(self, request: Request) -> Response:
        return Response(status_code=200)

    async def _healthz(self, request: Request) -> Response:
        ok = await self.backend.healthy()
        return JSONResponse(
            {
                "status": "ok" if ok else "degraded",
                "backend": self.backend.name,
                "uptime": round(time.time() - self.started_at, 3),
                "subscribers": self.metrics.subscribers,
            },
            status_code=200 if ok else 503,
        )

    async def _metrics(self, request: Request) -> Response:
        extra: dict[str, float] = {}
        batches = getattr(self.backend, "batches", None)
        if isinstance(batches, int):
            extra["relay_storage_commits"] = batches
        return PlainTextResponse(self.metrics.render(extra), media_type="text/plain; version=0.0.4")
