"""WebSocket `/v1/stream`: subscribe, ready, event, ack, gap, error (relay/PROTOCOL.md).

The frames are the typed models of `app.tiktok.relay_frames`, shared with the desktop's
consumer; the per-event frame is pre-serialised text (`relay.hub.event_frame`).

One task per subscribed shop pulls that shop's events, first from storage (catch-up, in pages)
and then from the hub's in-memory ring (live), and writes frames under the connection's send
lock. Backpressure is the socket's: when a subscriber reads slowly its tasks wait on the write
buffer, so nothing queues up in memory for it and the other subscribers are untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.tiktok.backoff import Backoff
from app.tiktok.relay_frames import Ack, ErrorCode, ErrorFrame, Gap, Ready, Subscribe
from relay.backend.base import Backend, BackendError, StoredEvent, shop_tag, split_cursor
from relay.deauth import is_deauthorization
from relay.edge import SEND_MANY
from relay.hub import Hub, event_frame
from relay.logs import log
from relay.metrics import Metrics

__all__ = ["PAGE", "StreamEndpoint"]

_logger = logging.getLogger("relay.stream")

PAGE = 256
CLOSE_UNAUTHORIZED = 4401
# Frames written at once to one subscriber (a page is 256): bounds one write's size.
_BATCH_FRAMES = 64
STORAGE_RETRIES = 30  # about 25 s of retrying a failing storage read before `storage`
_STORAGE_RETRY = Backoff(base=0.05, cap=1.0, jitter=False)


def _error(code: ErrorCode, message: str) -> str:
    return ErrorFrame(code=code, message=message).model_dump_json()


def _cursors_only(exc: ValidationError) -> bool:
    """The subscribe frame's only fault is a cursor in `after` that is not a string."""
    return all(len(e["loc"]) > 1 and e["loc"][0] == "after" for e in exc.errors())


@dataclass(eq=False)  # hashed by identity: sessions live in a set
class _Session:
    ws: WebSocket
    token_hash: str
    allowed: frozenset[str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shops: list[str] = field(default_factory=list)
    sent: dict[str, str] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # SELLER_DEAUTHORIZATION: the token's creation time, and per shop the cursor of the
    # deauthorization event after which nothing more of that shop is sent on this token.
    created_at: float = 0.0
    limits: dict[str, str] = field(default_factory=dict)


class StreamEndpoint:
    """The ASGI WebSocket handler; `authenticate` maps a bearer token to (hash, shops)."""

    def __init__(
        self,
        backend: Backend,
        hub: Hub,
        metrics: Metrics,
        authenticate: Callable[[str | None], Awaitable[tuple[str, frozenset[str]] | None]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock  # the relay's event clock: latency is measured against arrival
        self.backend = backend
        self.hub = hub
        self.metrics = metrics
        self.authenticate = authenticate
        self.sessions: set[_Session] = set()

    async def revalidate(self) -> set[str]:
        """Ask storage about the token of every open stream; close (4401) the streams of
        tokens that are gone (revoked, perhaps by `token revoke` in another process) and
        narrow the others to their current shops. Returns the revoked hashes."""
        revoked: set[str] = set()
        for token_hash in {s.token_hash for s in self.sessions}:
            shops = await self.backend.token_shops(token_hash)
            for session in [s for s in self.sessions if s.token_hash == token_hash]:
                if shops is None:
                    revoked.add(token_hash)
                    self.sessions.discard(session)
                    log(_logger, logging.INFO, "stream closed", reason="token_revoked")
                    with contextlib.suppress(Exception):
                        await session.ws.close(code=CLOSE_UNAUTHORIZED, reason="token revoked")
                else:
                    session.allowed = shops
        return revoked

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        header = ws.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            identity = await self.authenticate(bearer)
        except BackendError:
            # The token cannot be looked up: say so on the socket (the desktop shows "relay
            # storage unavailable" and retries) rather than let the handler die in the server.
            log(_logger, logging.ERROR, "stream storage failure", during="authentication")
            await ws.accept()
            with contextlib.suppress(Exception):
                await ws.send_text(_error(ErrorCode.STORAGE, "storage unavailable"))
                await ws.close(code=1011)
            return
        await ws.accept()
        if identity is None:
            log(_logger, logging.INFO, "stream refused", reason="unauthenticated")
            await ws.close(code=CLOSE_UNAUTHORIZED, reason="missing or invalid token")
            return
        session = _Session(ws, identity[0], identity[1])
        self.metrics.subscribers += 1
        self.sessions.add(session)
        try:
            await self._serve(session)
        except WebSocketDisconnect:
            pass
        except BackendError:
            log(_logger, logging.ERROR, "stream storage failure")
            with contextlib.suppress(Exception):
                await self._send(session, _error(ErrorCode.STORAGE, "storage unavailable"))
                await ws.close(code=1011)
        finally:
            self.sessions.discard(session)
            self.metrics.subscribers -= 1
            for task in session.tasks:
                task.cancel()
            for task in session.tasks:
                with contextlib.suppress(BaseException):
                    await task
            for shop in session.shops:
                self.hub.unwatch(shop)

    async def _send(self, session: _Session, text: str) -> None:
        async with session.lock:
            await session.ws.send_text(text)

    async def _serve(self, session: _Session) -> None:
        ws = session.ws
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._send(session, _error(ErrorCode.BAD_FRAME, "send JSON text frames"))
                continue
            try:
                frame = json.loads(text)
            except (ValueError, RecursionError):
                await self._send(session, _error(ErrorCode.BAD_FRAME, "not JSON"))
                continue
            op = frame.get("op") if isinstance(frame, dict) else None
            if op == "subscribe":
                await self._subscribe(session, frame)
            elif op == "ack":
                await self._ack(session, frame)
            else:
                await self._send(session, _error(ErrorCode.BAD_OP, "expected subscribe or ack"))
            if any(task.done() for task in session.tasks):
                return  # a shop task ended (socket gone or storage failure): close

    async def _subscribe(self, session: _Session, frame: dict[str, Any]) -> None:
        if session.shops:
            await self._send(session, _error(ErrorCode.ALREADY_SUBSCRIBED, "subscribe once"))
            return
        try:
            request = Subscribe.model_validate(frame)
        except ValidationError as exc:
            if _cursors_only(exc):
                await self._send(session, _error(ErrorCode.BAD_CURSOR, "cursors are strings"))
            else:
                message = "shops: non-empty list of ids"
                await self._send(session, _error(ErrorCode.BAD_SUBSCRIBE, message))
            return
        after = request.after or {}
        shops = list(dict.fromkeys(request.shops))
        forbidden = [s for s in shops if s not in session.allowed]
        if forbidden:
            log(_logger, logging.INFO, "subscribe refused", reason="forbidden_shop")
            await self._send(
                session,
                _error(ErrorCode.FORBIDDEN_SHOP, "this token does not cover shop " + forbidden[0]),
            )
            return
        for shop, cursor in after.items():
            try:
                if shop not in shops:
                    raise ValueError("a cursor for a shop not subscribed to")
                self.backend.cursor_key(cursor)
            except ValueError:
                message = f"bad cursor for shop {shop}"
                await self._send(session, _error(ErrorCode.BAD_CURSOR, message))
                return
        for shop in shops:
            self.hub.watch(shop)
        session.shops = shops
        session.created_at = await self.backend.token_created(session.token_hash) or 0.0
        for shop in shops:
            mark = await self.backend.deauthorized(shop)
            if mark is not None and mark[1] >= session.created_at:
                session.limits[shop] = mark[0]
        starts: dict[str, str | None] = {}
        gaps: list[str] = []
        for shop in shops:
            start = after.get(shop)
            foreign = False
            if start is not None:
                # Only the shop that issued a cursor takes it as a resume point.
                start = await self.backend.resume_cursor(shop, start)
                foreign = start is None
            else:
                start = await self.backend.acked(session.token_hash, shop)
            start, gap = await self._resolve_start(shop, start)
            starts[shop] = start
            if gap or foreign:
                gaps.append(shop)
        await self._send(session, Ready(shops=shops).model_dump_json())
        for shop in gaps:
            await self._send(session, Gap(shop_id=shop).model_dump_json())
        for shop in shops:
            session.tasks.append(asyncio.create_task(self._pump(session, shop, starts[shop])))

    async def _resolve_start(self, shop: str, start: str | None) -> tuple[str | None, bool]:
        """Where delivery begins and whether the client missed events (a gap)."""
        if start is None:
            return None, False
        position = await self.backend.position(shop)
        key = self.backend.cursor_key(start)
        if position.head is None or key > self.backend.cursor_key(position.head):
            # A cursor we never issued (storage was replaced): start over, and say so.
            return None, True
        if position.trimmed is not None and key < self.backend.cursor_key(position.trimmed):
            return position.trimmed, True
        return start, False

    async def _ack(self, session: _Session, frame: dict[str, Any]) -> None:
        try:
            ack = Ack.model_validate(frame)
        except ValidationError:
            ack = None
        if ack is None or ack.shop_id not in session.shops:
            await self._send(session, _error(ErrorCode.BAD_ACK, "ack a subscribed shop's cursor"))
            return
        shop, cursor = ack.shop_id, ack.cursor
        sent = session.sent.get(shop)
        try:
            if split_cursor(cursor)[0] != shop_tag(shop):
                raise ValueError("not a cursor of this shop")
            key = self.backend.cursor_key(cursor)
            if sent is None or key > self.backend.cursor_key(sent):
                # Not sent on this connection (maybe on an earlier one): it must exist.
                head = (await self.backend.position(shop)).head
                if head is None or key > self.backend.cursor_key(head):
                    raise ValueError("beyond the shop's newest event")
        except ValueError:
            await self._send(session, _error(ErrorCode.BAD_ACK, "no such cursor for this shop"))
            return
        try:
            await self.backend.ack(session.token_hash, shop, cursor)
        except BackendError:
            # A lost ack only means a re-delivery later; keep the subscriber connected.
            log(_logger, logging.WARNING, "ack not stored", shop=shop)

    async def _pump(self, session: _Session, shop: str, cursor: str | None) -> None:
        """Deliver one shop's events in order, forever."""
        live = False
        hub = self.hub
        generation = hub.generation
        failures = 0
        try:
            while True:
                items: list[tuple[StoredEvent, str]] | None
                if live and hub.generation != generation:
                    live = False
                if live:
                    items = hub.after(shop, cursor)
                    if items is None:
                        live = False
                        continue
                    if not items:
                        await hub.wait(shop, cursor)
                        continue
                else:
                    generation = hub.generation
                    try:
                        cursor = await self._check_trimmed(session, shop, cursor)
                        events = await self.backend.read(shop, cursor, PAGE)
                    except BackendError:
                        # Storage blips (a Redis restart) should not cost the subscriber its
                        # connection: retry for a while, then give up with `storage`.
                        failures += 1
                        if failures > STORAGE_RETRIES:
                            raise
                        await asyncio.sleep(_STORAGE_RETRY.delay(failures))
                        continue
                    failures = 0
                    live = len(events) < PAGE
                    if not events:
                        continue
                    items = [(event, event_frame(event)) for event in events]
                items, done = self._cut(session, shop, items)
                if items:
                    await self._deliver(session, shop, items)
                    cursor = items[-1][0].cursor
                if done:
                    # Deauthorized: the shop stays subscribed, silent, until the connection
                    # ends (a new pairing gets a new token that streams it again).
                    await asyncio.Future()
        except (WebSocketDisconnect, OSError, RuntimeError):
            return  # the socket is gone; the receive loop sees the disconnect
        except BackendError:
            log(_logger, logging.ERROR, "stream read failed", shop=shop)
            with contextlib.suppress(Exception):
                await self._send(session, _error(ErrorCode.STORAGE, "storage unavailable"))
                await session.ws.close(code=1011)

    def _cut(
        self, session: _Session, shop: str, items: list[tuple[StoredEvent, str]]
    ) -> tuple[list[tuple[StoredEvent, str]], bool]:
        """`items` up to and including the shop's deauthorization event for this token, and
        whether that point is reached (then nothing more of the shop is sent)."""
        limit = session.limits.get(shop)
        key = self.backend.cursor_key
        for index, (event, _) in enumerate(items):
            if limit is not None and key(event.cursor) > key(limit):
                return items[:index], True
            if event.received_at >= session.created_at and is_deauthorization(event.body):
                session.limits[shop] = event.cursor
                return items[: index + 1], True
        return items, limit is not None and key(items[-1][0].cursor) >= key(limit)

    async def _check_trimmed(self, session: _Session, shop: str, cursor: str | None) -> str | None:
        """During catch-up, retention may overtake a slow reader: say `gap` and skip ahead
        rather than silently jumping over trimmed events."""
        if cursor is None:
            return None
        trimmed = (await self.backend.position(shop)).trimmed
        if trimmed is not None and self.backend.cursor_key(trimmed) > self.backend.cursor_key(
            cursor
        ):
            await self._send(session, Gap(shop_id=shop).model_dump_json())
            return trimmed
        return cursor

    async def _deliver(
        self, session: _Session, shop: str, items: list[tuple[StoredEvent, str]]
    ) -> None:
        ws = session.ws
        metrics = self.metrics
        # Behind relay/edge.py a batch of frames goes out in one socket write (SEND_MANY):
        # a group commit of N webhooks costs one syscall per subscriber, not N.
        many = SEND_MANY in ws.scope.get("extensions", {})
        step = _BATCH_FRAMES if many else 1
        async with session.lock:
            for start in range(0, len(items), step):
                chunk = items[start : start + step]
                if ws.application_state is not WebSocketState.CONNECTED:
                    raise WebSocketDisconnect(1006)
                if many:
                    await ws.send({"type": "websocket.send", "texts": [f for _, f in chunk]})
                else:
                    await ws.send_text(chunk[0][1])
                now = self.clock()
                for event, _ in chunk:
                    metrics.delivered += 1
                    metrics.latency.observe(now - event.received_at)
                session.sent[shop] = chunk[-1][0].cursor
