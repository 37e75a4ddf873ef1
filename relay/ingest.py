"""`POST /webhooks/tiktok` as a bare ASGI handler: the hot path, kept free of framework cost.

Order of checks, cheapest refusal first: per-IP rate (429), declared size (413), body read with
a running size limit (413), HMAC on the raw bytes (401, empty body), JSON and envelope (400),
timestamp window (400 `future` / `stale`), routing, then the durable append (503 if storage
fails) and 200 with an empty body, sent only once the backend has committed the event (or had
already stored its `tts_notification_id`: a duplicate is acknowledged, not stored again).

The envelope's shape and owner come from `app.tiktok.webhooks` (the one home of a webhook's
shape); routing by `seller_open_id` / `creator_open_id` uses the owners the relay learned at
pairing (`Backend.map_owner`, see vendor.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.tiktok.models import PayloadError
from app.tiktok.signing import verify_webhook
from app.tiktok.webhooks import Envelope, Owner, WebhookType, parse_envelope
from relay.backend.base import Backend, BackendError, Incoming, StoredEvent
from relay.config import RelayConfig
from relay.logs import log
from relay.metrics import Metrics
from relay.proxy import ClientAddress
from relay.ratelimit import Buckets

__all__ = ["UNROUTED", "Ingest"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_logger = logging.getLogger("relay.ingest")

_EMPTY: list[tuple[bytes, bytes]] = [(b"content-length", b"0")]
_BODY_END: Message = {"type": "http.response.body", "body": b""}


# Where a webhook goes whose owner the relay cannot map to a paired shop (a `seller_open_id`
# or `creator_open_id` never seen at pairing). Not a TikTok shop id (those are digits), so no
# pairing ever streams it; an admin token for it (`token create --shop unrouted`) can read it.
UNROUTED = "unrouted"


class Ingest:
    """The ASGI callable for the webhook POST."""

    def __init__(
        self, config: RelayConfig, backend: Backend, metrics: Metrics, ip_limit: Buckets
    ) -> None:
        self.config = config
        self.backend = backend
        self.metrics = metrics
        self.ip_limit = ip_limit
        self._key = config.app_key
        self._secret = config.app_secret
        self._max = config.max_body
        self.client_address = ClientAddress(config.proxy_headers, config.trusted_proxies)

    async def _reply(self, send: Send, status: int, reason: str | None = None) -> None:
        if reason is None or status == 401:
            headers = _EMPTY
            body = b""
        else:
            body = b'{"error":"' + reason.encode() + b'"}'
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _deauthorized(self, event: StoredEvent) -> None:
        """Mark the shop so that streams of older tokens stop after this event (stream.py
        stops live streams by itself; the mark covers subscribers that connect later)."""
        try:
            await self.backend.mark_deauthorized(event.shop_id, event.cursor, event.received_at)
        except BackendError:
            log(_logger, logging.ERROR, "deauthorization not marked", shop=event.shop_id)
        log(_logger, logging.INFO, "shop deauthorized", shop=event.shop_id)

    async def _refuse(self, send: Send, status: int, reason: str, ip: str) -> None:
        self.metrics.rejected[reason] += 1
        log(_logger, logging.INFO, "webhook refused", reason=reason, status=status, ip=ip)
        await self._reply(send, status, reason)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.received += 1
        ip = self.client_address.resolve(scope)
        if not self.ip_limit.allow(ip):
            return await self._refuse(send, 429, "rate_limited", ip)
        authorization: bytes | None = None
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                declared = value
        if declared is not None:
            try:
                if int(declared) > self._max:
                    return await self._refuse(send, 413, "too_large", ip)
            except ValueError:
                return await self._refuse(send, 400, "malformed", ip)
        message = await receive()
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):
            chunks = [body]
            size = len(body)
            while message.get("more_body", False):
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self._max:
                    return await self._refuse(send, 413, "too_large", ip)
                chunks.append(chunk)
            body = b"".join(chunks)
        elif len(body) > self._max:
            return await self._refuse(send, 413, "too_large", ip)
        signature = authorization.decode("latin-1") if authorization is not None else None
        if not verify_webhook(self._key, self._secret, body, signature):
            return await self._refuse(send, 401, "bad_signature", ip)
        try:
            text = body.decode("utf-8")
            envelope = parse_envelope(text)
        except (UnicodeDecodeError, PayloadError):
            return await self._refuse(send, 400, "malformed", ip)
        now = time.time()
        stamp = envelope.timestamp
        if stamp > now + self.config.future_skew:
            return await self._refuse(send, 400, "future", ip)
        if stamp < now - self.config.dedupe_retention:
            return await self._refuse(send, 400, "stale", ip)
        # Without an id, identical bytes carry an identical signature: dedupe on that.
        nid = envelope.tts_notification_id
        key = "n:" + nid if nid is not None else "s:" + (signature or "")
        try:
            shops = await self._route(envelope, ip)
            stored: list[StoredEvent | None] = []
            for shop in shops:
                # One webhook fanned out to several shops of one seller: one key per shop.
                shop_key = key if len(shops) == 1 else f"{key}@{shop}"
                stored.append(await self.backend.append(Incoming(shop, shop_key, text), now))
        except BackendError:
            self.metrics.rejected["storage"] += 1
            log(_logger, logging.ERROR, "storage failed", ip=ip)
            return await self._reply(send, 503, "storage")
        if all(event is None for event in stored):
            self.metrics.duplicates += 1
        else:
            self.metrics.accepted += 1
            if envelope.type == WebhookType.SELLER_DEAUTHORIZATION:
                for event in stored:
                    if event is not None:
                        await self._deauthorized(event)
        await send({"type": "http.response.start", "status": 200, "headers": _EMPTY})
        await send({"type": "http.response.body", "body": b""})
        return None

    async def _route(self, envelope: Envelope, ip: str) -> list[str]:
        """The shops a webhook belongs to: its `shop_id`, or the shops paired to the
        `seller_open_id` / `creator_open_id` it names (learned at pairing). A webhook whose
        owner maps to no shop is kept in the UNROUTED bucket, counted and logged, and
        acknowledged: a 400 would make TikTok retry for 15.5 hours and then drop it."""
        owner = envelope.owner
        assert owner is not None  # parse_envelope refuses a body without one
        field, owner_id = owner
        if field is Owner.SHOP:
            return [owner_id]
        shops = await self.backend.owner_shops(owner_id)
        if shops:
            return sorted(shops)
        self.metrics.unrouted[str(envelope.type)] += 1
        log(
            _logger,
            logging.WARNING,
            "webhook unrouted",
            type=envelope.type,
            owner=field.value,
            ip=ip,
        )
        return [UNROUTED]
