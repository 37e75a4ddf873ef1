"""`POST /webhooks/tiktok` as a bare ASGI handler: the hot path, kept free of framework cost.

Order of checks, cheapest refusal first: per-IP rate (429), declared size (413), body read with
a running size limit (413), HMAC on the raw bytes (401, empty body), JSON and envelope (400),
timestamp window (400 `future` / `stale`), then the durable append (503 if storage fails) and
200 with an empty body, sent only once the backend has committed the event (or had already
stored its `tts_notification_id`: a duplicate is acknowledged, not stored again).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.tiktok.signing import verify_webhook
from relay.backend.base import Backend, BackendError, Incoming, StoredEvent
from relay.config import RelayConfig
from relay.deauth import is_deauthorization
from relay.logs import log
from relay.metrics import Metrics
from relay.proxy import ClientAddress
from relay.ratelimit import Buckets

__all__ = ["Ingest", "Refused", "parse_envelope"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_logger = logging.getLogger("relay.ingest")

_EMPTY: list[tuple[bytes, bytes]] = [(b"content-length", b"0")]
_BODY_END: Message = {"type": "http.response.body", "body": b""}


class Refused(Exception):
    """A webhook body we will not store; `reason` names the metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every request: `json.loads` with options builds a new one each call.
_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def _id(value: object, field: str) -> str:
    if isinstance(value, str) and value and len(value) <= 128:
        if not value.isascii():
            try:
                # A JSON escape of a lone surrogate ("\ud800") decodes to a str that no
                # storage can encode: refuse it here (400) rather than fail to store it (503,
                # which TikTok would retry for days).
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Refused("malformed") from None
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)  # big ids as JSON numbers: exact, never via float
    raise Refused("malformed")


def parse_envelope(text: str) -> tuple[str, str | None, int]:
    """(shop id, notification id or None, timestamp) from a webhook body, or Refused.

    The routing key is `shop_id`, or `creator_open_id` for creator-scope topics; a body with
    neither has no subscriber to reach and is refused as malformed.
    """
    try:
        data = _DECODER.decode(text)
    except (ValueError, RecursionError):
        raise Refused("malformed") from None
    if not isinstance(data, dict):
        raise Refused("malformed")
    kind = data.get("type")
    stamp = data.get("timestamp")
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise Refused("malformed")
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise Refused("malformed")
    shop = data.get("shop_id")
    if shop is None:
        shop = data.get("creator_open_id")
    if shop is None:
        raise Refused("malformed")
    nid = data.get("tts_notification_id")
    if "data" in data and not isinstance(data["data"], dict):
        raise Refused("malformed")
    return _id(shop, "shop_id"), (None if nid is None else _id(nid, "id")), stamp


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
            shop, nid, stamp = parse_envelope(text)
        except UnicodeDecodeError:
            return await self._refuse(send, 400, "malformed", ip)
        except Refused as refused:
            return await self._refuse(send, 400, refused.reason, ip)
        now = time.time()
        if stamp > now + self.config.future_skew:
            return await self._refuse(send, 400, "future", ip)
        if stamp < now - self.config.dedupe_retention:
            return await self._refuse(send, 400, "stale", ip)
        # Without an id, identical bytes carry an identical signature: dedupe on that.
        key = "n:" + nid if nid is not None else "s:" + (signature or "")
        try:
            stored = await self.backend.append(Incoming(shop, key, text), now)
        except BackendError:
            self.metrics.rejected["storage"] += 1
            log(_logger, logging.ERROR, "storage failed", ip=ip)
            return await self._reply(send, 503, "storage")
        if stored is None:
            self.metrics.duplicates += 1
        else:
            self.metrics.accepted += 1
            if is_deauthorization(text):
                await self._deauthorized(stored)
        await send({"type": "http.response.start", "status": 200, "headers": _EMPTY})
        await send({"type": "http.response.body", "body": b""})
        return None
