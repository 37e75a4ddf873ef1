"""`POST /webhooks/tiktok`: the hot path, kept free of framework cost.

Two entries share every rule: `__call__` (ASGI, for any server) and `handle` (relay/edge.py's
fast path, which parses the request itself and calls `handle` with the raw pieces, then writes
the answer from a callback: no ASGI scope, no task, no message dicts per webhook).

Order of checks, cheapest refusal first: the source's refusal budget (429), declared size (413),
body read with a running size limit (413), HMAC on the raw bytes (401, empty body), JSON and
envelope (400), timestamp window (400 `future` / `stale`), routing, then the durable append (503
if storage fails) and 200 with an empty body, sent only once the backend has committed the event
(or had already stored its `tts_notification_id`: a duplicate is acknowledged, not stored again).

The per-IP limit counts refusals, not webhooks. TikTok publishes neither the addresses it pushes
from nor a push rate: every webhook of every shop of the app may come from one address, as fast
as sellers sell, and a 429 is a failed delivery that TikTok retries 2 minutes later and drops
after the 4th retry (15.5 hours). A cap on signed webhooks per address would refuse exactly
that source on a busy day. What TikTok never sends is a request that fails verification (bad
signature, malformed, oversize, outside the timestamp window: its retries end within the
dedupe retention), so those draw on a per-address budget (`ip_refusal_rate`/`_burst`); an
address that spent it is answered 429 before any work until it refills. A signed, well-formed
webhook (new or duplicate) never costs budget. Refusals are counted on /metrics by reason
(`rate_limited` for the 429s).

The envelope's shape and owner come from `app.tiktok.webhooks` (the one home of a webhook's
shape); routing by `seller_open_id` / `creator_open_id` uses the owners the relay learned at
pairing (`Backend.map_owner`, see vendor.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from app.tiktok.buckets import Buckets
from app.tiktok.models import PayloadError
from app.tiktok.signing import verify_webhook
from app.tiktok.webhooks import Envelope, Owner, WebhookType, parse_envelope
from relay.backend.base import Backend, BackendError, Incoming, StoredEvent
from relay.config import RelayConfig
from relay.logs import log
from relay.metrics import Metrics
from relay.proxy import ClientAddress

__all__ = ["UNROUTED", "Ingest", "Outcome"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# (status, error reason or None, Retry-After seconds or None)
Outcome = tuple[int, str | None, int | None]
Answer = Callable[[Outcome], None]

_logger = logging.getLogger("relay.ingest")

_EMPTY: list[tuple[bytes, bytes]] = [(b"content-length", b"0")]
_OK: Outcome = (200, None, None)
_STORAGE: Outcome = (503, "storage", None)
_RAW_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


# Where a webhook goes whose owner the relay cannot map to a paired shop (a `seller_open_id`
# or `creator_open_id` never seen at pairing). Not a TikTok shop id (those are digits), so no
# pairing ever streams it; an admin token for it (`token create --shop unrouted`) can read it.
UNROUTED = "unrouted"


@dataclass(slots=True)
class _Verified:
    """A webhook that passed every check and waits to be stored."""

    envelope: Envelope
    text: str
    key: str
    now: float
    ip: str


class Ingest:
    """The webhook POST: `__call__` as ASGI, `handle` for the edge's fast path."""

    def __init__(
        self,
        config: RelayConfig,
        backend: Backend,
        metrics: Metrics,
        ip_limit: Buckets,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self.config = config
        self.backend = backend
        self.metrics = metrics
        self.ip_limit = ip_limit
        self._key = config.app_key
        self._secret = config.app_secret
        self._max = config.max_body
        self.client_address = ClientAddress(config.proxy_headers, config.trusted_proxies)
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the rules, shared by both entries -------------------------------------------------

    def _refuse(self, status: int, reason: str, ip: str) -> Outcome:
        self.metrics.rejected[reason] += 1
        if reason != "rate_limited":
            self.ip_limit.allow(ip)  # spend one of the source's refusal budget
        log(_logger, logging.INFO, "webhook refused", reason=reason, status=status, ip=ip)
        if reason == "rate_limited":
            return status, reason, max(1, math.ceil(self.ip_limit.retry_after(ip)))
        return status, reason, None

    def admit(self, ip: str, declared: bytes | None) -> Outcome | None:
        """Checks before the body is read: the source's budget and the declared size."""
        self.metrics.received += 1
        if self.ip_limit.rate > 0 and self.ip_limit.retry_after(ip) > 0:
            return self._refuse(429, "rate_limited", ip)
        if declared is not None:
            try:
                if int(declared) > self._max:
                    return self._refuse(413, "too_large", ip)
            except ValueError:
                return self._refuse(400, "malformed", ip)
        return None

    def too_large(self, ip: str) -> Outcome:
        """The body grew past the limit while being read."""
        return self._refuse(413, "too_large", ip)

    def verify(self, ip: str, authorization: bytes | None, body: bytes) -> Outcome | _Verified:
        """Signature, envelope and timestamp window of a whole body."""
        if len(body) > self._max:
            return self._refuse(413, "too_large", ip)
        signature = authorization.decode("latin-1") if authorization is not None else None
        if not verify_webhook(self._key, self._secret, body, signature):
            return self._refuse(401, "bad_signature", ip)
        try:
            text = body.decode("utf-8")
            envelope = parse_envelope(text)
        except (UnicodeDecodeError, PayloadError):
            return self._refuse(400, "malformed", ip)
        now = self._clock()
        stamp = envelope.timestamp
        if stamp > now + self.config.future_skew:
            return self._refuse(400, "future", ip)
        if stamp < now - self.config.dedupe_retention:
            return self._refuse(400, "stale", ip)
        # Without an id, identical bytes carry an identical signature: dedupe on that.
        nid = envelope.tts_notification_id
        key = "n:" + nid if nid is not None else "s:" + (signature or "")
        return _Verified(envelope, text, key, now, ip)

    async def store(self, verified: _Verified) -> Outcome:
        """Route and append durably (every case: fan-out, deauthorization)."""
        try:
            shops = await self._route(verified.envelope, verified.ip)
            stored: list[StoredEvent | None] = []
            for shop in shops:
                # One webhook fanned out to several shops of one seller: one key per shop.
                shop_key = verified.key if len(shops) == 1 else f"{verified.key}@{shop}"
                item = Incoming(shop, shop_key, verified.text)
                stored.append(await self.backend.append(item, verified.now))
        except BackendError:
            return self._storage_failed(verified.ip)
        self._count(stored)
        if verified.envelope.type == WebhookType.SELLER_DEAUTHORIZATION:
            for event in stored:
                if event is not None:
                    await self._deauthorized(event)
        return _OK

    def _count(self, stored: list[StoredEvent | None]) -> None:
        if all(event is None for event in stored):
            self.metrics.duplicates += 1
        else:
            self.metrics.accepted += 1

    def _storage_failed(self, ip: str) -> Outcome:
        self.metrics.rejected["storage"] += 1
        log(_logger, logging.ERROR, "storage failed", ip=ip)
        return _STORAGE

    async def _deauthorized(self, event: StoredEvent) -> None:
        """Mark the shop so that streams of older tokens stop after this event (stream.py
        stops live streams by itself; the mark covers subscribers that connect later)."""
        try:
            await self.backend.mark_deauthorized(event.shop_id, event.cursor, event.received_at)
        except BackendError:
            log(_logger, logging.ERROR, "deauthorization not marked", shop=event.shop_id)
        log(_logger, logging.INFO, "shop deauthorized", shop=event.shop_id)

    # --- the edge's fast path ----------------------------------------------------------------

    def handle(self, ip: str, authorization: bytes | None, body: bytes, answer: Answer) -> None:
        """A whole request, already read by the edge (which called `admit` at its headers):
        `answer` is called exactly once with the outcome, at once for a refusal, after the
        commit otherwise. The common case (one shop named by `shop_id`, not a deauthorization)
        costs one callback, called from the backend's commit report."""
        verified = self.verify(ip, authorization, body)
        if not isinstance(verified, _Verified):
            answer(verified)
            return
        envelope = verified.envelope
        owner = envelope.owner
        if (
            owner is None
            or owner[0] is not Owner.SHOP
            or envelope.type == WebhookType.SELLER_DEAUTHORIZATION
        ):
            task = asyncio.get_running_loop().create_task(self._slow(verified, answer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return

        def done(result: StoredEvent | BaseException | None) -> None:
            if isinstance(result, BaseException):
                if not isinstance(result, BackendError):
                    _logger.error("append failed", exc_info=result)
                answer(self._storage_failed(ip))
                return
            if result is None:
                self.metrics.duplicates += 1
            else:
                self.metrics.accepted += 1
            answer(_OK)

        item = Incoming(owner[1], verified.key, verified.text)
        self.backend.append_then(item, verified.now, done)

    async def _slow(self, verified: _Verified, answer: Answer) -> None:
        try:
            outcome = await self.store(verified)
        except Exception:  # a bug must still answer, as uvicorn's 500 does on the ASGI path
            _logger.exception("webhook store failed")
            outcome = (500, None, None)
        answer(outcome)

    @staticmethod
    def render(outcome: Outcome, keep_alive: bool) -> bytes:
        """The raw HTTP/1.1 answer for the edge's fast path (the same answer `_reply` sends
        through ASGI)."""
        if outcome is _OK and keep_alive:
            return _RAW_OK
        status, reason, retry_after = outcome
        body = b"" if reason is None or status == 401 else b'{"error":"' + reason.encode() + b'"}'
        head = [b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())]
        if body:
            head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: %d\r\n" % len(body))
        if retry_after is not None:
            head.append(b"retry-after: %d\r\n" % retry_after)
        if not keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        return b"".join(head) + body

    # --- ASGI --------------------------------------------------------------------------------

    async def _reply(self, send: Send, outcome: Outcome) -> None:
        status, reason, retry_after = outcome
        if reason is None or status == 401:
            headers = _EMPTY
            body = b""
        else:
            body = b'{"error":"' + reason.encode() + b'"}'
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            if retry_after is not None:
                headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ip = self.client_address.resolve(scope)
        authorization: bytes | None = None
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                declared = value
        early = self.admit(ip, declared)
        if early is not None:
            return await self._reply(send, early)
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
                    return await self._reply(send, self._refuse(413, "too_large", ip))
                chunks.append(chunk)
            body = b"".join(chunks)
        verified = self.verify(ip, authorization, body)
        if not isinstance(verified, _Verified):
            return await self._reply(send, verified)
        return await self._reply(send, await self.store(verified))

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
