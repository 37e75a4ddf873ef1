"""The webhook inbox and the relay cursor per shop.

Exactly-once on top of the relay's at-least-once delivery (DESIGN.md section 3): the caller
records each delivered event *and* whatever it changed in one transaction, which also moves
the shop's cursor. Only after that commit does it ack the cursor to the relay. A crash before
the commit loses nothing (the relay resends from the old cursor); a crash after it loses
nothing either (the resent events are recognised by `tts_notification_id` and skipped).

    with store.write() as session:
        if record_webhook(session, shop_id, cursor, event.tts_notification_id, event.type,
                          raw, received_at):
            ... apply the event with the same session ...
    # committed: now send {"op": "ack", "shop_id": shop_id, "cursor": cursor}

An event whose handling needs the network (re-fetching the order) can be recorded first and
marked processed later: `pending_webhooks` lists what a crash left unhandled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.store.schema import Base, RelayCursorRow, WebhookEventRow

__all__ = [
    "DeliveredWebhook",
    "StoredWebhook",
    "count_failed_webhooks",
    "get_cursor",
    "get_cursors",
    "known_notifications",
    "mark_webhook_processed",
    "notification_key",
    "payload_text",
    "pending_webhooks",
    "prune_webhooks",
    "record_webhook",
    "record_webhooks",
    "set_cursor",
]

Payload = str | bytes | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredWebhook:
    id: int
    shop_id: str
    tts_notification_id: str
    cursor: str | None
    type: int
    payload: str
    received_at: float


@dataclass(frozen=True, slots=True)
class DeliveredWebhook:
    """One webhook as the relay delivered it, to be recorded with `record_webhooks`."""

    shop_id: str
    cursor: str | None
    notification_id: str | None
    type: int
    payload: Payload
    #: What it is stored and deduplicated under (`notification_key`), derived once: the sink
    #: checks it against the store before the commit that records it.
    key: str = field(init=False)

    def __post_init__(self) -> None:
        text = payload_text(self.payload)
        key = notification_key(self.shop_id, self.notification_id, self.type, text)
        object.__setattr__(self, "key", key)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a webhook payload")


def payload_text(payload: Payload) -> str:
    """The webhook as stored: raw text kept as is, a mapping as canonical JSON (sorted keys,
    no spaces, Decimals as strings so big ids and money stay exact)."""
    if isinstance(payload, bytes):
        return payload.decode("utf-8")
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, default=_json_default, separators=(",", ":"), sort_keys=True)


def _synthetic_id(shop_id: str, kind: int, text: str) -> str:
    """A stable key for the rare webhook without `tts_notification_id`: TikTok retries the
    same body, so the same shop, type and body is the same notification."""
    digest = hashlib.sha256(f"{shop_id}\0{kind}\0{text}".encode()).hexdigest()
    return f"body-sha256:{digest}"


def notification_key(shop_id: str, notification_id: str | None, type: int, text: str) -> str:
    """The key a webhook is stored (and deduplicated) under: its `tts_notification_id`, or the
    synthetic body key when it has none. `text` is `payload_text(...)` of the webhook."""
    return notification_id or _synthetic_id(shop_id, type, text)


# Built once: a statement rebuilt per event costs more than the SQL it runs.
_EVENTS = Base.metadata.tables[WebhookEventRow.__tablename__]
_CURSORS = Base.metadata.tables[RelayCursorRow.__tablename__]
_INSERT_EVENTS = sqlite_insert(_EVENTS).on_conflict_do_nothing(
    index_elements=[_EVENTS.c.tts_notification_id]
)
_INSERT_EVENT = _INSERT_EVENTS.returning(_EVENTS.c.id)
_upsert_cursor = sqlite_insert(_CURSORS)
_UPSERT_CURSOR = _upsert_cursor.on_conflict_do_update(
    index_elements=[_CURSORS.c.shop_id],
    set_={
        "cursor": _upsert_cursor.excluded.cursor,
        "updated_at": _upsert_cursor.excluded.updated_at,
    },
)


def set_cursor(session: Session, shop_id: str, cursor: str, at: float) -> None:
    """Store the shop's relay cursor (the last delivered event stored)."""
    session.execute(_UPSERT_CURSOR, {"shop_id": shop_id, "cursor": cursor, "updated_at": at})


def record_webhook(
    session: Session,
    shop_id: str,
    cursor: str | None,
    notification_id: str | None,
    type: int,
    payload: Payload,
    received_at: float,
    *,
    processed: bool = True,
    error_kind: str | None = None,
) -> bool:
    """Store one delivered webhook once; True if it is new (the caller should apply it).

    The shop's relay cursor moves to `cursor` even for a duplicate, since the relay delivered
    it and must not send it again. `payload` is the webhook JSON as TikTok sent it (raw text
    preferred; a decoded mapping is re-serialised with Decimals as strings). The shop must
    already be stored (`upsert_shop`). Pass `processed=False` when the event will be
    handled after this transaction (it then shows in `pending_webhooks` until marked).
    `error_kind` (a short class name) records an event processed without effect because its
    re-read failed for good: a dead letter that no longer holds back the events after it.
    """
    delivered = DeliveredWebhook(shop_id, cursor, notification_id, type, payload)
    row = _event_row(delivered, received_at, processed, error_kind)
    new = session.execute(_INSERT_EVENT, row).scalar() is not None
    if cursor is not None:
        set_cursor(session, shop_id, cursor, received_at)
    return new


def record_webhooks(
    session: Session,
    delivered: Sequence[DeliveredWebhook],
    received_at: float,
    *,
    error_kind: str | None = None,
) -> None:
    """Store a batch of delivered webhooks as processed, each once, and move each shop's
    cursor to the last of its events in the batch: what `record_webhook` does per event, in
    one statement for the events and one per shop for the cursors.

    Why a batch: under a storm the sink commits ~30 events at a time, and the per-event pair
    of statements (insert, then cursor) was a quarter of the store writer's time, almost all of
    it SQLAlchemy's per-statement work rather than SQLite's.
    """
    if not delivered:
        return
    rows = [_event_row(event, received_at, True, error_kind) for event in delivered]
    session.execute(_INSERT_EVENTS, rows)
    last: dict[str, str] = {}
    for event in delivered:  # in delivery order: the last one of each shop wins
        if event.cursor is not None:
            last[event.shop_id] = event.cursor
    for shop_id, cursor in last.items():
        set_cursor(session, shop_id, cursor, received_at)


def _event_row(
    event: DeliveredWebhook, received_at: float, processed: bool, error_kind: str | None
) -> dict[str, object]:
    return {
        "shop_id": event.shop_id,
        "tts_notification_id": event.key,
        "cursor": event.cursor,
        "type": event.type,
        "payload": payload_text(event.payload),
        "received_at": received_at,
        "processed_at": received_at if processed else None,
        "error_kind": error_kind,
    }


def get_cursor(session: Session, shop_id: str) -> str | None:
    """The cursor to resume the shop's relay stream after, or None to start fresh."""
    return session.execute(
        select(RelayCursorRow.cursor).where(RelayCursorRow.shop_id == shop_id)
    ).scalar()


def get_cursors(session: Session) -> dict[str, str]:
    """Every shop's cursor, ready for the subscribe frame's `after`."""
    rows = session.execute(select(RelayCursorRow.shop_id, RelayCursorRow.cursor))
    return {shop_id: cursor for shop_id, cursor in rows}


def mark_webhook_processed(session: Session, notification_id: str, at: float) -> None:
    session.execute(
        update(WebhookEventRow)
        .where(WebhookEventRow.tts_notification_id == notification_id)
        .values(processed_at=at)
    )


def pending_webhooks(session: Session, shop_id: str, limit: int = 1000) -> list[StoredWebhook]:
    """Recorded but not yet processed webhooks of a shop, in delivery order."""
    rows = session.execute(
        select(
            WebhookEventRow.id,
            WebhookEventRow.shop_id,
            WebhookEventRow.tts_notification_id,
            WebhookEventRow.cursor,
            WebhookEventRow.type,
            WebhookEventRow.payload,
            WebhookEventRow.received_at,
        )
        .where(WebhookEventRow.shop_id == shop_id, WebhookEventRow.processed_at.is_(None))
        .order_by(WebhookEventRow.id)
        .limit(limit)
    )
    return [StoredWebhook(*row) for row in rows]


def prune_webhooks(session: Session, before: float) -> int:
    """Delete processed webhooks received before `before`; returns how many.

    Keep at least the relay's dedupe retention (48 h by default; TikTok retries for 15.5 h):
    a notification id deleted earlier could be applied twice if redelivered.
    """
    result = session.execute(
        delete(WebhookEventRow).where(
            WebhookEventRow.received_at < before, WebhookEventRow.processed_at.is_not(None)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def count_failed_webhooks(session: Session, shop_id: str | None = None) -> int:
    """How many webhooks were recorded as processed with an error (dead letters)."""
    query = select(func.count()).select_from(WebhookEventRow)
    query = query.where(WebhookEventRow.error_kind.is_not(None))
    if shop_id is not None:
        query = query.where(WebhookEventRow.shop_id == shop_id)
    return int(session.execute(query).scalar_one())


def known_notifications(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of these notification keys (`notification_key`) are already stored: a webhook
    TikTok (or the relay) delivers again is a duplicate."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        part = list(keys[start : start + 500])
        found.update(
            session.execute(
                select(WebhookEventRow.tts_notification_id).where(
                    WebhookEventRow.tts_notification_id.in_(part)
                )
            ).scalars()
        )
    return found
