"""What the engine holds about each shop it syncs, and the API-request counter."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

from app.store.metrics import ApiCall
from app.tiktok.models import Shop

__all__ = ["RequestCounter", "ShopContext"]


@dataclass
class ShopContext:
    """A shop being synced. `hot_skus` (set by insight) sends order fetches to the high lane."""

    shop: Shop
    hot_skus: set[str] = field(default_factory=set)
    deauthorized: bool = False
    # Held around every stock read *and* its commit (webhooks, reconciliation): stock has no
    # version, so two reads committed in the wrong order would store the older one.
    stock_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.shop.id


class RequestCounter:
    """Counts every HTTP attempt to the Open API and the 429s among them, and keeps the
    recent ones (method, path without query, status, duration) for the `api_calls` table.

    Installed as httpx request and response hooks on the client's connection pool, so retries
    count too: it is what the shop's rate limit sees. Only the URL path is kept, never the
    query (which carries `sign`, `app_key` and the token).
    """

    def __init__(self, keep: int = 10_000) -> None:
        self.requests = 0
        self.rate_limited = 0
        self._calls: deque[ApiCall] = deque(maxlen=keep)

    async def on_request(self, request: httpx.Request) -> None:
        request.extensions["viralstock_started"] = time.perf_counter()

    async def on_response(self, response: httpx.Response) -> None:
        self.requests += 1
        if response.status_code == 429:
            self.rate_limited += 1
        request = response.request
        started = request.extensions.get("viralstock_started")
        duration = (time.perf_counter() - started) * 1000.0 if started is not None else 0.0
        self._calls.append(
            ApiCall(
                at=time.time(),
                method=request.method,
                path=request.url.path,
                duration_ms=duration,
                http_status=response.status_code,
                error_kind=None if response.status_code < 400 else f"http_{response.status_code}",
            )
        )

    def take_calls(self) -> list[ApiCall]:
        """The calls seen since the last take (the metrics timer stores them)."""
        calls = list(self._calls)
        self._calls.clear()
        return calls

    def restore_calls(self, calls: list[ApiCall]) -> None:
        """Put back calls whose store failed (oldest first), within the buffer's bound."""
        self._calls.extendleft(reversed(calls))
