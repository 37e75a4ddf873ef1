"""Webhooks recorded once, and the relay cursor committed together with the data it delivered."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from app.store import (
    DeliveredWebhook,
    Store,
    get_cursor,
    get_cursors,
    mark_webhook_processed,
    open_store,
    pending_webhooks,
    prune_webhooks,
    record_webhook,
    record_webhooks,
    sales_events,
    upsert_orders,
    upsert_shop,
)
from app.tiktok.models import loads
from app.tiktok.webhooks import parse_webhook
from tests.store.factories import NOW, SHOP_ID, order, shop

# The official example body (tiktok-shop-api.md 6.2), exact bytes.
RAW = (
    b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
    b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
    b'"order_status":"UNPAID","update_time":1718305585}}'
)


class Crash(Exception):
    pass


def _count(store: Store, table: str) -> int:
    with store.read() as session:
        query = text(f"SELECT count(*) FROM {table}")  # noqa: S608 - test table names only
        return int(session.execute(query).scalar_one())


def test_record_once_and_cursor_moves_even_on_duplicates(shop_store: Store) -> None:
    event = parse_webhook(RAW)
    assert event.tts_notification_id is not None
    with shop_store.write() as session:
        assert get_cursor(session, SHOP_ID) is None
        assert record_webhook(
            session, SHOP_ID, "1-0", event.tts_notification_id, event.type, RAW, NOW + 0.5
        )
    with shop_store.write() as session:  # the relay resends it after a reconnect
        assert not record_webhook(
            session, SHOP_ID, "2-0", event.tts_notification_id, event.type, RAW, NOW + 1.5
        )
        assert get_cursor(session, SHOP_ID) == "2-0"
    assert _count(shop_store, "webhook_events") == 1
    with shop_store.read() as session:
        stored = session.execute(text("SELECT payload, cursor, type FROM webhook_events")).one()
    assert stored[0].encode() == RAW  # the bytes TikTok signed, unchanged
    assert tuple(stored)[1:] == ("1-0", 1)


def test_a_batch_stores_each_event_once_and_leaves_the_cursor_at_its_last(
    shop_store: Store,
) -> None:
    """The sink's batch: an event already stored and one repeated inside the batch are kept
    once; the cursor is the batch's last, as event-by-event recording would leave it."""
    event = parse_webhook(RAW)
    with shop_store.write() as session:
        record_webhook(session, SHOP_ID, "1-0", event.tts_notification_id, event.type, RAW, NOW)
    batch = [
        DeliveredWebhook(SHOP_ID, "2-0", event.tts_notification_id, event.type, RAW),  # resent
        DeliveredWebhook(SHOP_ID, "3-0", "n-3", 1, "{}"),
        DeliveredWebhook(SHOP_ID, "4-0", "n-3", 1, "{}"),  # twice in one batch
        DeliveredWebhook(SHOP_ID, "5-0", "n-5", 1, "{}"),
    ]
    with shop_store.write() as session:
        record_webhooks(session, batch, NOW + 1)
        assert get_cursor(session, SHOP_ID) == "5-0"
    with shop_store.read() as session:
        rows = session.execute(
            text("SELECT tts_notification_id, cursor FROM webhook_events ORDER BY id")
        ).all()
        assert pending_webhooks(session, SHOP_ID) == []  # recorded as processed
    assert [tuple(row) for row in rows] == [
        (event.tts_notification_id, "1-0"),
        ("n-3", "3-0"),
        ("n-5", "5-0"),
    ]


def test_crash_inside_the_transaction_stores_neither_event_data_nor_cursor(
    shop_store: Store,
) -> None:
    with shop_store.write() as session:
        record_webhook(session, SHOP_ID, "1-0", "n-1", 1, "{}", NOW)
    with pytest.raises(Crash), shop_store.write() as session:
        assert record_webhook(session, SHOP_ID, "2-0", "n-2", 1, RAW, NOW + 1)
        upsert_orders(session, SHOP_ID, [order("576653688135258178", skus={"a": 2})], NOW + 1)
        session.flush()
        raise Crash  # e.g. the process dies before COMMIT
    with shop_store.read() as session:
        assert get_cursor(session, SHOP_ID) == "1-0"
        assert sales_events(session, SHOP_ID, 0, NOW + 10) == []
    assert _count(shop_store, "webhook_events") == 1
    assert _count(shop_store, "orders") == 0
    # The relay redelivers from "1-0": the event is new again and applied exactly once.
    with shop_store.write() as session:
        assert record_webhook(session, SHOP_ID, "2-0", "n-2", 1, RAW, NOW + 2)
        upsert_orders(session, SHOP_ID, [order("576653688135258178", skus={"a": 2})], NOW + 2)
    with shop_store.read() as session:
        assert get_cursor(session, SHOP_ID) == "2-0"
        assert [e.units for e in sales_events(session, SHOP_ID, 0, NOW + 10)] == [2]


def test_cursor_survives_reopening(tmp_path: Path) -> None:
    folder = tmp_path
    first = open_store(folder)
    with first.write() as session:
        upsert_shop(session, shop(), NOW)
        upsert_shop(session, shop("2"), NOW)
        record_webhook(session, SHOP_ID, "1718305585000-3", "n-1", 1, "{}", NOW)
        record_webhook(session, "2", "7", "n-2", 5, "{}", NOW)
    first.close()
    again = open_store(folder)
    try:
        with again.read() as session:
            assert get_cursors(session) == {SHOP_ID: "1718305585000-3", "2": "7"}
    finally:
        again.close()


def test_pending_until_processed(shop_store: Store) -> None:
    with shop_store.write() as session:
        record_webhook(session, SHOP_ID, "1", "n-1", 1, "{}", NOW, processed=False)
        record_webhook(session, SHOP_ID, "2", "n-2", 4, "{}", NOW + 1, processed=False)
        record_webhook(session, SHOP_ID, "3", "n-3", 1, "{}", NOW + 2)  # applied inline
    with shop_store.read() as session:
        pending = pending_webhooks(session, SHOP_ID)
    assert [(p.tts_notification_id, p.cursor, p.type) for p in pending] == [
        ("n-1", "1", 1),
        ("n-2", "2", 4),
    ]
    with shop_store.write() as session:
        mark_webhook_processed(session, "n-1", NOW + 5)
    with shop_store.read() as session:
        assert [p.tts_notification_id for p in pending_webhooks(session, SHOP_ID)] == ["n-2"]
    with shop_store.write() as session:  # pruning keeps what is still pending
        assert prune_webhooks(session, NOW + 10) == 2
    with shop_store.read() as session:
        assert [p.tts_notification_id for p in pending_webhooks(session, SHOP_ID)] == ["n-2"]
    assert _count(shop_store, "webhook_events") == 1


def test_missing_notification_id_is_deduplicated_by_body(shop_store: Store) -> None:
    body = '{"type":3,"shop_id":"7495540735365777507","timestamp":1,"data":{"order_id":"9"}}'
    other = body.replace('"9"', '"10"')
    with shop_store.write() as session:
        assert record_webhook(session, SHOP_ID, "1", None, 3, body, NOW)
        assert not record_webhook(session, SHOP_ID, "2", None, 3, body, NOW + 120)  # a retry
        assert record_webhook(session, SHOP_ID, "3", None, 3, other, NOW + 121)
    assert _count(shop_store, "webhook_events") == 2


def test_decoded_payload_keeps_big_numbers(shop_store: Store) -> None:
    decoded = loads(b'{"type":5,"data":{"product_id":576486316948490000123,"price":12.10}}')
    with shop_store.write() as session:
        record_webhook(session, SHOP_ID, None, "n-5", 5, decoded, NOW)
        assert get_cursor(session, SHOP_ID) is None  # no cursor given, none stored
    with shop_store.read() as session:
        payload = session.execute(text("SELECT payload FROM webhook_events")).scalar_one()
    again = loads(payload)
    assert again["data"]["product_id"] == 576486316948490000123
    assert Decimal(again["data"]["price"]) == Decimal("12.10")


def test_unknown_shop_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"), store.write() as session:
        record_webhook(session, "unknown", "1", "n-1", 1, "{}", NOW)
