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
    """Counts every HTTP attempt to the Open API and the 429s among them.

    Installed as an httpx response hook on the client's connection pool, so retries count too:
    it is what the shop's rate limit sees.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.rate_limited = 0

    async def on_response(self, response: httpx.Response) -> None:
        self.requests += 1
        if response.status_code == 429:
            self.rate_limited += 1
