"""The relay stream consumer (DESIGN.md section 3, client side).

One WebSocket to the relay carries every shop the subscriber token covers. The consumer:
- subscribes with the cursor stored for each shop, so a restart resumes exactly where the last
  committed batch ended (the relay may replay a little; handlers are idempotent);
- hands events to a `Sink` in small batches (whatever has arrived while the previous batch was
  being applied, up to `max_batch`), which commits data and cursor in one transaction;
- acknowledges a shop's last cursor only after that commit returned;
- on `gap` asks the sink to resync the shop through the Open API before going on;
- reconnects with exponential backoff and full jitter when the relay goes away, and gives up only
  when the relay refuses the token (close code 4401) or a shop (`forbidden_shop`), which no
  retry can fix;
- when applying a batch fails (TikTok down, the disk full), closes the stream and waits on a
  separate backoff before replaying: that one is *not* reset by the relay's `ready` (a healthy
  relay says nothing about our ability to apply), only by a batch that commits, so a failure
  that persists costs a few attempts a minute, not a reconnect and a refetch per second.

The frames are `app.tiktok.relay_frames`, the models the relay itself writes and reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from app.store.errors import StorageError
from app.sync.state import LinkState
from app.tiktok.backoff import Backoff
from app.tiktok.models import loads
from app.tiktok.relay_frames import (
    RELAY_FRAMES,
    Ack,
    ErrorCode,
    ErrorFrame,
    Event,
    Gap,
    Ready,
    Subscribe,
)

__all__ = ["STREAM_COMPRESSION", "RelayConsumer", "RelayEvent", "Sink", "StreamAuthError"]

log = logging.getLogger(__name__)

UNAUTHORIZED_CLOSE = 4401
# The desktop asks for no permessage-deflate: its frames are small JSON, a seller's link carries
# them easily, and inflating each one would cost the app CPU under a storm. The relay's
# benchmarks subscribe the same way, so they measure what a real desktop costs the relay.
STREAM_COMPRESSION = None


@dataclass(frozen=True, slots=True)
class RelayEvent:
    """One webhook as the relay delivered it."""

    shop_id: str
    cursor: str
    # Relay wall-clock time of arrival (epoch seconds): the start of "webhook to store".
    received_at: float
    webhook: dict[str, Any]
    # Local wall-clock time the frame was read.
    arrived_at: float = field(default_factory=time.time)


class Sink(Protocol):
    """Where events go. `apply` must commit the events' effects and their cursors together."""

    async def apply(self, events: Sequence[RelayEvent]) -> None: ...

    async def resync(self, shop_id: str) -> None: ...

    def cursors(self) -> dict[str, str]: ...


class StreamAuthError(RuntimeError):
    """The relay refused the subscriber token: re-pair or re-authorize."""


@dataclass(frozen=True, slots=True)
class _Gap:
    shop_id: str


StateCallback = Callable[[LinkState, str], None]


class RelayConsumer:
    """Keeps one WebSocket to the relay for `shop_ids` and feeds a `Sink`."""

    def __init__(
        self,
        stream_url: str,
        token: str,
        shop_ids: Sequence[str],
        sink: Sink,
        *,
        on_state: StateCallback | None = None,
        max_batch: int = 200,
        backoff: Backoff | None = None,
        failure_backoff: Backoff | None = None,
        open_timeout: float = 5.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 10.0,
    ) -> None:
        self.stream_url = stream_url
        self._token = token
        self.shop_ids = list(shop_ids)
        self._sink = sink
        self._on_state = on_state
        self.max_batch = max_batch
        self._backoff = backoff or Backoff(base=0.2, cap=10.0, floor=0.05)
        self._failure_backoff = failure_backoff or Backoff(base=1.0, cap=60.0, floor=0.5)
        # Set when the last batch failed: the delay before replaying, and why (for the state).
        self._failed: tuple[float, str] | None = None
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._pending: asyncio.Queue[RelayEvent | _Gap] = asyncio.Queue()
        self._busy = False
        self.last_frame_at = 0.0
        self.connected = asyncio.Event()
        self.frames = 0
        self.connects = 0
        self.gaps = 0
        self.fatal: BaseException | None = None
        self.apply_failures = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until `stop()`; reconnects on any failure except a refused token."""
        if not self.shop_ids:  # a subscription names at least one shop
            self._state(LinkState.IDLE, "no shop to stream")
            return
        first = True
        while not self._stopping.is_set():
            self._state(LinkState.CONNECTING if first else LinkState.RECONNECTING, "")
            first = False
            try:
                await self._session()
            except StreamAuthError as exc:
                self.fatal = exc
                self._state(LinkState.ERROR, str(exc))
                return
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.info("relay stream lost (%s); reconnecting", type(exc).__name__)
            finally:
                self.connected.clear()
                self._ws = None
            if self._stopping.is_set():
                break
            failed, self._failed = self._failed, None
            if failed is not None:
                delay, reason = failed
                self._state(LinkState.RECONNECTING, reason)
            else:
                delay = self._backoff.next_delay()
                self._state(LinkState.RECONNECTING, "relay unreachable")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        self._state(LinkState.STOPPED, "")

    async def stop(self) -> None:
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def drained(self, quiet: float = 0.3, limit: float = 30.0) -> bool:
        """Wait (at most `limit` s) until nothing is queued or applied and no frame came for
        `quiet` s."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            idle = self._pending.empty() and not self._busy
            if idle and time.monotonic() - self.last_frame_at >= quiet:
                return True
            await asyncio.sleep(min(0.05, quiet / 4))
        return False

    @property
    def queue_depth(self) -> int:
        return self._pending.qsize() + (1 if self._busy else 0)

    # --- one connection --------------------------------------------------------------------

    def _state(self, state: LinkState, detail: str) -> None:
        if self._on_state is not None:
            self._on_state(state, detail)

    async def _session(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            ws = await connect(
                self.stream_url,
                additional_headers=headers,
                proxy=None,
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                max_size=4 * 1024 * 1024,
                compression=STREAM_COMPRESSION,
            )
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise StreamAuthError("the relay refused the subscriber token") from None
            raise
        self._ws = ws
        self.connects += 1
        # Whatever a previous connection left unapplied will be replayed after the cursor.
        while not self._pending.empty():
            self._pending.get_nowait()
        try:
            stored = self._sink.cursors()
            after = {shop: cur for shop, cur in stored.items() if shop in self.shop_ids}
            subscribe = Subscribe(shops=self.shop_ids, after=after or None)
            await ws.send(subscribe.model_dump_json(exclude_none=True))
            processor = asyncio.create_task(self._process(ws), name="relay-apply")
            try:
                await self._read(ws)
            finally:
                # Let the processor finish what it has (it commits; acks may fail harmlessly).
                await self._pending.put(_STOP)
                with contextlib.suppress(Exception):
                    await processor
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code == UNAUTHORIZED_CLOSE:
                raise StreamAuthError("the relay refused the subscriber token") from None
            raise
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read(self, ws: ClientConnection) -> None:
        async for message in ws:
            self.last_frame_at = time.monotonic()
            self.frames += 1
            try:
                # `loads` keeps the webhook's numbers exact (decimals as `Decimal`).
                frame = RELAY_FRAMES.validate_python(loads(message))
            except (ValueError, UnicodeDecodeError, ValidationError):
                log.warning("relay sent a frame this version does not know; ignored")
                continue
            if isinstance(frame, Event):
                await self._pending.put(
                    RelayEvent(frame.shop_id, frame.cursor, frame.received_at, frame.webhook)
                )
            elif isinstance(frame, Ready):
                self._backoff.reset()
                self.connected.set()
                self._state(LinkState.CONNECTED, "")
            elif isinstance(frame, Gap):
                self.gaps += 1
                await self._pending.put(_Gap(frame.shop_id))
            elif isinstance(frame, ErrorFrame):
                log.warning("relay error frame: %s %s", frame.code.value, frame.message)
                if frame.code is ErrorCode.FORBIDDEN_SHOP:
                    raise StreamAuthError(f"relay refused the subscription ({frame.code.value})")
        if ws.close_code == UNAUTHORIZED_CLOSE:
            raise StreamAuthError("the relay refused the subscriber token")

    async def _process(self, ws: ClientConnection) -> None:
        while True:
            item = await self._pending.get()
            if item is _STOP:
                return
            batch: list[RelayEvent] = []
            gap: _Gap | None = None
            stop_after = False
            if isinstance(item, _Gap):
                gap = item
            else:
                batch.append(item)
                while len(batch) < self.max_batch:
                    try:
                        nxt = self._pending.get_nowait()
                    except asyncio.QueueEmpty:
                        break
                    if nxt is _STOP:
                        stop_after = True
                        break
                    if isinstance(nxt, _Gap):
                        gap = nxt
                        break
                    batch.append(nxt)
            self._busy = True
            try:
                if batch:
                    await self._apply(ws, batch)
                if gap is not None:
                    await self._sink.resync(gap.shop_id)
            except Exception as exc:
                # Nothing was acknowledged past the last commit: reconnecting replays the rest,
                # after a delay that grows while the failures go on.
                self.apply_failures += 1
                delay = self._failure_backoff.next_delay()
                if isinstance(exc, StorageError):
                    reason = f"paused: {exc.text}"
                    log.warning("relay events not saved (%s); retrying in %.1f s", exc.kind, delay)
                elif self._failure_backoff.attempt <= 1:
                    reason = "paused: applying events failed; retrying"
                    log.exception("applying relay events failed; replaying in %.1f s", delay)
                else:
                    reason = "paused: applying events failed; retrying"
                    log.warning(
                        "applying relay events failed again (%s); replaying in %.1f s",
                        type(exc).__name__,
                        delay,
                    )
                self._failed = (delay, reason)
                with contextlib.suppress(Exception):
                    await ws.close()
                return
            finally:
                self._busy = False
            self._failure_backoff.reset()
            if stop_after:
                return

    async def _apply(self, ws: ClientConnection, batch: list[RelayEvent]) -> None:
        await self._sink.apply(batch)
        last: dict[str, str] = {}
        for event in batch:
            last[event.shop_id] = event.cursor
        for shop_id, cursor in last.items():
            with contextlib.suppress(ConnectionClosed):
                await ws.send(Ack(shop_id=shop_id, cursor=cursor).model_dump_json())


class _Stop:
    pass


_STOP: Any = _Stop()
