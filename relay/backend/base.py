"""The storage contract every relay backend fulfils (SQLite now, Redis Streams later).

A backend owns five things: the per-shop event log (with an opaque cursor that increases per
shop), the dedupe ids, the cursor each subscriber token acknowledged per shop, the hashes of
subscriber tokens, and which shops each seller's TikTok open_id owns (learned at pairing).
Everything above it (ingest, stream, vendor endpoints) speaks only this interface, so
`--bus redis://...` is a new class here and nothing else.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from relay.ratelimit import Budget, LocalBudget

__all__ = [
    "ASCII_NUMBER",
    "Backend",
    "BackendError",
    "CommittedListener",
    "Incoming",
    "ShopPosition",
    "StoredEvent",
    "TokenRecord",
    "bind_cursor",
    "shop_tag",
    "split_cursor",
]

# Cursor numbers are ASCII decimal: `str.isdigit()` and `int()` also take full-width digits.
ASCII_NUMBER = re.compile(r"[0-9]{1,19}", re.ASCII)
_TAG = re.compile(r"[0-9a-f]{8}", re.ASCII)


@functools.lru_cache(maxsize=65536)  # on the ingest and delivery paths: hash once per shop
def shop_tag(shop_id: str) -> str:
    """Eight hex digits naming the shop inside its cursors, so that a cursor is accepted only
    for the shop that issued it (not a secret: it only tells shops' cursors apart)."""
    return hashlib.sha256(b"vs-cursor\0" + shop_id.encode("utf-8")).hexdigest()[:8]


def bind_cursor(shop_id: str, position: str) -> str:
    """The cursor clients see: `<shop tag>.<position in the shop's log>`, fixed width."""
    return f"{shop_tag(shop_id)}.{position}"


def split_cursor(cursor: str) -> tuple[str | None, str]:
    """(shop tag, position); the tag is None for a cursor issued before cursors named their
    shop (a bare position). ValueError for anything else."""
    if not isinstance(cursor, str) or len(cursor) > 64:
        raise ValueError("not a cursor")
    tag, dot, position = cursor.partition(".")
    if not dot:
        return None, cursor
    if not _TAG.fullmatch(tag):
        raise ValueError("not a cursor")
    return tag, position


class BackendError(RuntimeError):
    """Storage failed; the caller answers 503 and the sender retries."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """A verified webhook waiting to be stored.

    `body` is the exact text TikTok sent (validated UTF-8 JSON object); `dedupe_key` is the
    `tts_notification_id`, or the signature when TikTok left the id out (same bytes, same key).
    """

    shop_id: str
    dedupe_key: str
    body: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event in a shop's log. `cursor` is opaque to clients and increases per shop."""

    shop_id: str
    cursor: str
    received_at: float
    body: str


@dataclass(frozen=True, slots=True)
class ShopPosition:
    """What a shop's log holds: `head` is the newest cursor, `trimmed` the newest cursor that
    retention removed (a client resuming after an older cursor has missed events: a gap)."""

    head: str | None
    trimmed: str | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored subscriber token: its hash (never the token), shops and creation time."""

    token_hash: str
    shops: frozenset[str]
    created_at: float | None


# Called on the event loop with events in commit order, right after they are durable.
CommittedListener = Callable[[Sequence[StoredEvent]], None]


class Backend(abc.ABC):
    """Asynchronous storage used by one relay process. Methods are called on the event loop."""

    name: str = "backend"

    @abc.abstractmethod
    async def start(self, on_committed: CommittedListener) -> None:
        """Open storage; from now on every newly committed event is passed to `on_committed`
        (for Redis: also events committed by other processes)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release resources."""

    async def append(self, item: Incoming, received_at: float) -> StoredEvent | None:
        """Store one event durably and return it, or None when its dedupe key was already
        seen. Returns only after the commit: the caller's 200 depends on it."""
        return await self.append_soon(item, received_at)

    @abc.abstractmethod
    def append_soon(self, item: Incoming, received_at: float) -> asyncio.Future[StoredEvent | None]:
        """`append` as a future, for the ingest fast path (relay/edge.py), which answers from a
        done-callback instead of a task per request. The future resolves only after the commit
        (or fails with BackendError)."""

    def append_then(
        self,
        item: Incoming,
        received_at: float,
        then: Callable[[StoredEvent | BaseException | None], None],
    ) -> None:
        """`append` with a callback, called on the loop once with what `append` returns or
        the error it raises (a BackendError, or a bug). The ingest fast path answers from it.
        A backend that reports commits itself calls `then` directly (SQLite: no future per
        webhook); this default goes through `append_soon`'s future."""

        def done(future: asyncio.Future[StoredEvent | None]) -> None:
            if future.cancelled():
                then(BackendError("storage failed: cancelled"))
                return
            error = future.exception()
            then(error if error is not None else future.result())

        self.append_soon(item, received_at).add_done_callback(done)

    @abc.abstractmethod
    async def read(self, shop_id: str, after: str | None, limit: int) -> list[StoredEvent]:
        """Up to `limit` events of a shop with cursor greater than `after` (None: from the
        oldest held), oldest first."""

    @abc.abstractmethod
    async def position(self, shop_id: str) -> ShopPosition:
        """The shop's newest and newest-trimmed cursors."""

    @abc.abstractmethod
    def cursor_key(self, cursor: str) -> tuple[int, ...]:
        """A sortable key for a cursor's position within its shop (the shop tag is not part
        of it); raises ValueError for a cursor this backend never issues."""

    @abc.abstractmethod
    async def legacy_head(self, shop_id: str) -> str | None:
        """The shop's newest position when the store was migrated to shop-bound cursors (the
        last bare cursor it issued), or None when it had issued none."""

    async def resume_cursor(self, shop_id: str, cursor: str) -> str | None:
        """`cursor` as a resume point of `shop_id` (in the bound form), or None when it is not
        one this shop issued: another shop's cursor, or a bare one beyond what the shop had
        issued before the migration. ValueError for a malformed cursor."""
        tag, position = split_cursor(cursor)
        key = self.cursor_key(position)
        if tag is not None:
            return cursor if tag == shop_tag(shop_id) else None
        legacy = await self.legacy_head(shop_id)
        if legacy is None or key > self.cursor_key(legacy):
            return None
        return bind_cursor(shop_id, split_cursor(self.canonical(position))[1])

    @abc.abstractmethod
    def canonical(self, position: str) -> str:
        """A position written the way this backend issues it (fixed width)."""

    @abc.abstractmethod
    async def ack(self, token_hash: str, shop_id: str, cursor: str) -> None:
        """Remember that the token durably holds everything up to `cursor` (never moves back)."""

    @abc.abstractmethod
    async def acked(self, token_hash: str, shop_id: str) -> str | None:
        """The last cursor the token acknowledged for the shop."""

    @abc.abstractmethod
    async def add_token(self, token_hash: str, shops: Sequence[str]) -> None:
        """Store a subscriber token's hash with the shops it may read."""

    @abc.abstractmethod
    async def token_shops(self, token_hash: str) -> frozenset[str] | None:
        """The shops of a token, or None when the hash is unknown."""

    @abc.abstractmethod
    async def list_tokens(self) -> list[TokenRecord]:
        """Every stored token (hash, shops, created_at)."""

    @abc.abstractmethod
    async def revoke_token(self, token_hash: str) -> bool:
        """Forget a token (and its acks); False when the hash was unknown."""

    @abc.abstractmethod
    async def token_created(self, token_hash: str) -> float | None:
        """When the token was created (None: unknown or not recorded)."""

    @abc.abstractmethod
    async def record_shop_ciphers(self, ciphers: Mapping[str, str]) -> None:
        """Remember each shop's `shop_cipher` (shop id -> cipher, as TikTok's
        `/authorization/202309/shops` answered at pairing); `/v1/sign` signs a cipher only
        for a shop of the calling token."""

    @abc.abstractmethod
    async def shop_ciphers(self, shops: Iterable[str]) -> dict[str, str]:
        """The known ciphers of `shops` (shops without one are left out)."""

    @abc.abstractmethod
    async def mark_deauthorized(self, shop_id: str, cursor: str, at: float) -> None:
        """Remember the shop's newest SELLER_DEAUTHORIZATION event: its cursor and time."""

    @abc.abstractmethod
    async def deauthorized(self, shop_id: str) -> tuple[str, float] | None:
        """(cursor, time) of the shop's newest SELLER_DEAUTHORIZATION event, if any."""

    @abc.abstractmethod
    async def map_owner(self, open_id: str, shops: Sequence[str]) -> None:
        """Remember which paired shops a seller's (or creator's) TikTok `open_id` owns, so
        that webhooks naming only `seller_open_id` / `creator_open_id` (e.g. type 24) reach
        them. The newest pairing replaces what was known."""

    @abc.abstractmethod
    async def owner_shops(self, open_id: str) -> frozenset[str] | None:
        """The shops mapped to an open_id, or None when the relay never learned it."""

    @abc.abstractmethod
    async def trim(self, now: float) -> int:
        """Drop events older than the event retention and dedupe ids older than the dedupe
        retention; returns how many rows went."""

    def sign_budget(self, rate: float, burst: float) -> Budget:
        """The `/v1/sign` budget per shop. In this process by default; a backend shared by
        several relay processes keeps it in storage, so a shop's tokens share one budget
        whichever process they reach."""
        return LocalBudget(rate, burst)

    def on_reset(self, callback: Callable[[], None]) -> None:
        """Register a call for when commit notifications may have been missed (a shared
        backend's notification channel reconnected); the hub then drops its rings."""
        del callback  # a backend that notifies in-process never misses a notification

    async def healthy(self) -> bool:
        """Whether storage answers; `/healthz` reports it."""
        return True
