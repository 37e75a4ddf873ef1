"""Live fan-out: recent events per watched shop, kept in memory, and wake-ups for subscribers.

The backend tells the hub about each committed event (on the loop, in commit order). A shop's
ring exists only while someone watches the shop, holds at most `capacity` events and
`max_bytes` of bodies, and remembers the newest cursor it evicted (`floor`). A subscriber that
has caught up with storage takes its next events from the ring; one that fell behind the floor
reads storage again. So a slow subscriber costs no memory beyond the shared ring and never
slows anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from relay.backend.base import StoredEvent

__all__ = ["Hub", "event_frame"]


def event_frame(event: StoredEvent) -> str:
    """The `event` text frame. The webhook goes in as the exact text TikTok sent (already
    validated as a JSON object), so nothing is re-serialised, dropped or rounded."""
    return (
        '{"op":"event","shop_id":'
        + json.dumps(event.shop_id)
        + ',"cursor":"'
        + event.cursor
        + '","received_at":'
        + repr(event.received_at)
        + ',"webhook":'
        + event.body
        + "}"
    )


@dataclass(slots=True)
class _Entry:
    key: tuple[int, ...]
    event: StoredEvent
    frame: str


@dataclass(slots=True)
class _Ring:
    entries: deque[_Entry] = field(default_factory=deque)
    size: int = 0
    floor: tuple[int, ...] | None = None  # key of the newest evicted event
    watchers: int = 0
    # One future per waiting subscriber: a subscriber that leaves cancels only its own, so
    # no `asyncio.shield` (one more future and one more loop pass per wake-up) is needed.
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class Hub:
    """Per-shop recent events and wake-ups, for the subscribers of one process."""

    def __init__(
        self,
        cursor_key: Callable[[str], tuple[int, ...]],
        capacity: int = 2048,
        max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self._key = cursor_key
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._rings: dict[str, _Ring] = {}
        # Bumped by `reset`: a subscriber whose last storage read predates it must read again.
        self.generation = 0

    def watch(self, shop_id: str) -> None:
        """Start keeping a shop's events (call before reading storage, so nothing falls
        between the read and the ring)."""
        ring = self._rings.get(shop_id)
        if ring is None:
            ring = self._rings[shop_id] = _Ring()
        ring.watchers += 1

    def unwatch(self, shop_id: str) -> None:
        ring = self._rings.get(shop_id)
        if ring is None:
            return
        ring.watchers -= 1
        if ring.watchers <= 0:
            del self._rings[shop_id]
            ring.wake()

    def reset(self) -> None:
        """Notifications may have been missed: forget every ring's content and wake everyone,
        so subscribers re-read storage before trusting the ring again."""
        self.generation += 1
        for ring in self._rings.values():
            ring.entries.clear()
            ring.size = 0
            ring.floor = None
            ring.wake()

    def publish(self, events: Sequence[StoredEvent]) -> None:
        """Committed events, in commit order (the backend's listener)."""
        woken: list[_Ring] = []
        for event in events:
            ring = self._rings.get(event.shop_id)
            if ring is None:
                continue
            frame = event_frame(event)
            ring.entries.append(_Entry(self._key(event.cursor), event, frame))
            ring.size += len(frame)
            while len(ring.entries) > self._capacity or (
                ring.size > self._max_bytes and len(ring.entries) > 1
            ):
                old = ring.entries.popleft()
                ring.size -= len(old.frame)
                ring.floor = old.key
            if ring.waiters:
                woken.append(ring)
        for ring in woken:
            ring.wake()

    def after(self, shop_id: str, cursor: str | None) -> list[tuple[StoredEvent, str]] | None:
        """Ring events newer than `cursor` with their frames, or None when the ring cannot
        vouch for completeness (evicted past the cursor): read storage instead."""
        ring = self._rings.get(shop_id)
        if ring is None:
            return None
        if cursor is None:
            return None if ring.floor is not None else self._from(ring, None)
        key = self._key(cursor)
        if ring.floor is not None and key < ring.floor:
            return None
        return self._from(ring, key)

    @staticmethod
    def _from(ring: _Ring, key: tuple[int, ...] | None) -> list[tuple[StoredEvent, str]]:
        entries = ring.entries
        if key is None:
            return [(e.event, e.frame) for e in entries]
        if not entries or entries[-1].key <= key:
            return []
        # Usually the subscriber is near the head: scan from the right.
        index = len(entries)
        while index > 0 and entries[index - 1].key > key:
            index -= 1
        return [(entries[i].event, entries[i].frame) for i in range(index, len(entries))]

    def newer_than(self, shop_id: str, cursor: str | None) -> bool:
        ring = self._rings.get(shop_id)
        if ring is None or not ring.entries:
            return False
        return cursor is None or ring.entries[-1].key > self._key(cursor)

    async def wait(self, shop_id: str, cursor: str | None) -> None:
        """Return once the shop has an event newer than `cursor` (or the ring goes away)."""
        ring = self._rings.get(shop_id)
        if ring is None or self.newer_than(shop_id, cursor):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ring.waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter.cancelled():  # its subscriber left: no publish will clear it
                with contextlib.suppress(ValueError):
                    ring.waiters.remove(waiter)
