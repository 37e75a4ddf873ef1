"""Signed webhook delivery on TikTok's retry schedule, off the simulation's critical path.

The world calls `submit()` under its lock; that only appends to a deque. A task on the server's
event loop builds TikTok's envelope, signs it (`Authorization` = HMAC of app_key + raw body),
POSTs it, and on failure retries after 2 min, 30 min, 3 h and 12 h of *simulated* time. The
envelope's `timestamp` is the real push time (what a receiver checks for freshness); times
inside `data` are simulated.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from app.sandbox.clock import SimClock
from app.sandbox.counters import Counters
from app.sandbox.faults import Faults
from app.tiktok.signing import webhook_signature
from app.tiktok.webhooks import OWNER_FIELDS, Owner

__all__ = ["RETRY_DELAYS", "WebhookDispatcher"]

_log = logging.getLogger(__name__)
RETRY_DELAYS = (120.0, 1_800.0, 10_800.0, 43_200.0)
_ACK_STATUSES = (200, 401)  # TikTok accepts 200, or 401 for a refused signature
_POLL = 0.02


@dataclass
class _Delivery:
    notification_id: str
    body: bytes
    attempts: int = 0
    due: float = 0.0


class WebhookDispatcher:
    def __init__(
        self,
        url: str | None,
        app_key: str,
        app_secret: str,
        clock: SimClock,
        faults: Faults,
        counters: Counters,
    ) -> None:
        self.url = url
        self._app_key = app_key
        self._app_secret = app_secret
        self._clock = clock
        self._faults = faults
        self._counters = counters
        self._pending: deque[tuple[str, str, int, dict[str, Any]]] = deque()
        # The open_id of the sandbox's one seller (its token data's `open_id`); set once the
        # auth store exists.
        self.seller_open_id = ""
        self._retries: list[_Delivery] = []
        self._held: _Delivery | None = None
        self._in_flight = 0
        self._sequence = 0
        self._stopping = False

    def submit(self, shop_id: str, kind: int, data: dict[str, Any]) -> None:
        """Queue one notification (cheap and thread-safe; never blocks the simulation)."""
        if self.url is None:
            return
        self._sequence += 1
        notification_id = f"73{self._sequence * 7_919 + 104_729:017d}"
        self._pending.append((notification_id, shop_id, kind, data))

    def idle(self) -> bool:
        """Nothing queued or in flight (scheduled retries and a held-back one do not count)."""
        return not self._pending and self._in_flight == 0

    def pending_retries(self) -> int:
        return len(self._retries)

    def stop(self) -> None:
        self._stopping = True

    def _body(self, notification_id: str, shop_id: str, kind: int, data: dict[str, Any]) -> bytes:
        # Each topic names its owner the way TikTok documents (app.tiktok.webhooks): FBT topics
        # such as 24 carry the seller's open_id and no shop_id.
        owner = OWNER_FIELDS.get(kind, Owner.SHOP)
        envelope: dict[str, Any] = {"type": kind, "tts_notification_id": notification_id}
        if owner is Owner.SHOP:
            envelope["shop_id"] = shop_id
        else:
            envelope[owner.value] = self.seller_open_id
        envelope["timestamp"] = int(time.time())
        envelope["data"] = data
        return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    async def run(self) -> None:
        """Deliver until stopped: fresh notifications in order, then any retry that is due."""
        async with httpx.AsyncClient(timeout=3.0, trust_env=False) as client:
            while not self._stopping:
                try:
                    await self._drain(client)
                    await self._run_due_retries(client)
                except Exception:  # keep delivering whatever one notification did
                    _log.exception("sandbox webhook delivery failed")
                await asyncio.sleep(_POLL)

    async def _drain(self, client: httpx.AsyncClient) -> None:
        while self._pending:
            notification_id, shop_id, kind, data = self._pending.popleft()
            delivery = _Delivery(notification_id, self._body(notification_id, shop_id, kind, data))
            self._in_flight += 1
            try:
                if self._faults.roll(self._faults.webhook_drop_rate):
                    self._counters.inc("webhooks_dropped")
                    continue
                if self._held is None and self._faults.roll(self._faults.webhook_reorder_rate):
                    self._held = delivery  # goes out right after the next notification
                    continue
                await self._attempt(client, delivery)
                if self._faults.roll(self._faults.webhook_duplicate_rate):
                    await self._send(client, delivery.body)
                if self._held is not None and self._held is not delivery:
                    held, self._held = self._held, None
                    await self._attempt(client, held)
            finally:
                self._in_flight -= 1
        if self._held is not None and not self._pending:
            # Nothing followed within this round: deliver it late rather than never.
            held, self._held = self._held, None
            await self._attempt(client, held)

    async def _run_due_retries(self, client: httpx.AsyncClient) -> None:
        if not self._retries:
            return
        now = self._clock.now()
        due = [d for d in self._retries if d.due <= now]
        if not due:
            return
        self._retries = [d for d in self._retries if d.due > now]
        self._in_flight += 1
        try:
            for delivery in due:
                self._counters.inc("webhooks_retried")
                await self._attempt(client, delivery)
        finally:
            self._in_flight -= 1

    async def _send(self, client: httpx.AsyncClient, body: bytes) -> bool:
        if self.url is None:  # the URL was removed meanwhile: a failed delivery
            return False
        headers = {
            "Content-Type": "application/json",
            "Authorization": webhook_signature(self._app_key, self._app_secret, body),
        }
        self._counters.inc("webhooks_sent")
        try:
            response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError:
            return False
        return response.status_code in _ACK_STATUSES

    async def _attempt(self, client: httpx.AsyncClient, delivery: _Delivery) -> None:
        delivery.attempts += 1
        if await self._send(client, delivery.body):
            self._counters.inc("webhooks_delivered")
            return
        self._counters.inc("webhooks_failed")
        if delivery.attempts > len(RETRY_DELAYS):
            self._counters.inc("webhooks_dropped")  # TikTok gives up after the 4th retry
            return
        delivery.due = self._clock.now() + RETRY_DELAYS[delivery.attempts - 1]
        self._retries.append(delivery)
