"""Signed webhooks to a real HTTP receiver: envelope, types, retries and injected mishaps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.sandbox import RunningSandbox
from app.tiktok.signing import verify_webhook
from app.tiktok.webhooks import FbtInventoryUpdate, parse_webhook
from tests.sandbox.receiver import Received, Receiver, run_receiver

HOUR = 3_600.0
QUIET = {"orders_per_hour": 1e-6}  # no sales: only the events a test triggers


def test_every_simulated_change_sends_a_signed_webhook(make_sandbox: Any) -> None:
    with (
        run_receiver() as receiver,
        make_sandbox(webhook_url=receiver.url, scenario="viral", orders_per_hour=1.0) as sandbox,
    ):
        sandbox.clock.advance(4.5 * 86_400)
        sandbox.truth()  # runs the simulation up to the clock
        assert sandbox.wait_webhooks(timeout=30)
        received = list(receiver.received)
        assert len(received) > 500
        shop_id = sandbox.shops[0]["id"]
        now = time.time()
        shop_items = [item for item in received if item.json["type"] != 24]
        for item in shop_items[:200] + shop_items[-50:]:
            assert item.content_type == "application/json"
            assert verify_webhook(
                sandbox.app_key, sandbox.app_secret, item.body, item.authorization
            )
            assert b" " not in item.body.split(b'"data"')[0]
            envelope = item.json
            assert list(envelope) == ["type", "tts_notification_id", "shop_id", "timestamp", "data"]
            assert envelope["shop_id"] == shop_id
            assert abs(envelope["timestamp"] - now) < 60  # the real push time
            parse_webhook(item.body)  # our own models accept every payload
        types = {item.json["type"] for item in received}
        assert {1, 4, 5, 11, 12, 24, 27} <= types, types
        # FBT inventory (24) as TikTok documents it: the seller's open_id, no shop_id.
        for item in receiver.of_type(24):
            fbt = item.json
            assert list(fbt) == [
                "type",
                "tts_notification_id",
                "seller_open_id",
                "timestamp",
                "data",
            ]
            assert fbt["seller_open_id"] == sandbox.auth.open_id
            assert verify_webhook(
                sandbox.app_key, sandbox.app_secret, item.body, item.authorization
            )
            assert isinstance(parse_webhook(item.body), FbtInventoryUpdate)
        # Type 27: total = available + creator reserved + campaign reserved + committed.
        for item in receiver.of_type(27):
            dist = item.json["data"]["inventory_distribution"]
            parts = ("available", "creator_reserved", "campaign_reserved", "committed")
            assert dist["total_quantity"] == sum(dist[f"{p}_quantity"] for p in parts)

        ids = [item.json["tts_notification_id"] for item in received]
        assert len(set(ids)) == len(ids)
        statuses = {item.json["data"]["order_status"] for item in receiver.of_type(1)}
        assert "CANCEL" in statuses and "CANCELLED" not in statuses
        assert sandbox.stats()["webhooks_delivered"] == len(received)


def _authorized(sandbox: RunningSandbox) -> str:
    sandbox.auth.exchange(sandbox.authorize_code(), sandbox.clock.now())
    return sandbox.shops[0]["id"]


def test_revoke_sends_type_6(make_sandbox: Any) -> None:
    with run_receiver() as receiver, make_sandbox(webhook_url=receiver.url, **QUIET) as sandbox:
        shop_id = sandbox.shops[0]["id"]
        assert not sandbox.revoke(shop_id)  # nothing to revoke before an authorization
        _authorized(sandbox)
        assert sandbox.revoke(shop_id)
        assert receiver.wait_for(lambda got: any(r.json["type"] == 6 for r in got))
        event = receiver.of_type(6)[0].json
        assert event["shop_id"] == shop_id and event["data"]["message"]
        assert not sandbox.revoke("7495000000000000000")


def _attempts_of_type(receiver: Receiver, kind: int) -> int:
    return len(receiver.of_type(kind))


def _has_attempts(receiver: Receiver, count: int) -> Callable[[list[Received]], bool]:
    return lambda got: _attempts_of_type(receiver, 6) == count


def _settled(sandbox: RunningSandbox, retries: int) -> None:
    """Wait until the dispatcher has booked the outcome of the attempt the receiver saw."""
    deadline = time.monotonic() + 5
    while sandbox.webhooks.pending_retries() != retries or not sandbox.webhooks.idle():
        assert time.monotonic() < deadline, "the dispatcher did not settle"
        time.sleep(0.01)
    time.sleep(0.05)


def test_failed_delivery_is_retried_on_tiktoks_schedule(make_sandbox: Any) -> None:
    with run_receiver() as receiver, make_sandbox(webhook_url=receiver.url, **QUIET) as sandbox:
        receiver.fail = lambda body, attempt: body["type"] == 6 and attempt <= 3
        sandbox.revoke(_authorized(sandbox))
        assert receiver.wait_for(lambda got: _attempts_of_type(receiver, 6) == 1)
        _settled(sandbox, 1)
        for delay, attempts in ((119.0, 1), (1.0, 2), (1_800.0, 3), (10_800.0, 4)):
            sandbox.clock.advance(delay)
            assert receiver.wait_for(_has_attempts(receiver, attempts), 5)
            _settled(sandbox, 0 if attempts == 4 else 1)
        time.sleep(0.1)
        sandbox.clock.advance(43_200)
        time.sleep(0.2)
        assert _attempts_of_type(receiver, 6) == 4  # delivered at the 3rd retry: no more
        bodies = {r.body for r in receiver.of_type(6)}
        assert len(bodies) == 1  # a retry resends the same bytes
        stats = sandbox.stats()
        assert stats["webhooks_retried"] == 3 and stats["webhooks_dropped"] == 0


def test_delivery_gives_up_after_the_fourth_retry(make_sandbox: Any) -> None:
    with run_receiver() as receiver, make_sandbox(webhook_url=receiver.url, **QUIET) as sandbox:
        receiver.fail = lambda body, attempt: body["type"] == 6
        sandbox.revoke(_authorized(sandbox))
        assert receiver.wait_for(lambda got: _attempts_of_type(receiver, 6) == 1)
        _settled(sandbox, 1)
        for number, delay in enumerate((120.0, 1_800.0, 10_800.0, 43_200.0), start=2):
            sandbox.clock.advance(delay)
            assert receiver.wait_for(_has_attempts(receiver, number), 5)
            _settled(sandbox, 0 if number == 5 else 1)
        sandbox.clock.advance(86_400)
        time.sleep(0.2)
        assert _attempts_of_type(receiver, 6) == 5
        assert sandbox.stats()["webhooks_dropped"] >= 1


def test_injected_drops_duplicates_and_reordering(make_sandbox: Any) -> None:
    with run_receiver() as receiver, make_sandbox(webhook_url=receiver.url) as sandbox:
        sandbox.faults.webhook_drop_rate = 1.0
        sandbox.clock.advance(2 * HOUR)
        sandbox.truth()
        assert sandbox.wait_webhooks()
        assert receiver.received == []
        dropped = sandbox.stats()["webhooks_dropped"]
        assert dropped > 5

        sandbox.faults.webhook_drop_rate = 0.0
        sandbox.faults.webhook_duplicate_rate = 1.0
        sandbox.clock.advance(2 * HOUR)
        sandbox.truth()
        assert sandbox.wait_webhooks()
        ids = [r.json["tts_notification_id"] for r in receiver.received]
        assert ids and all(ids.count(i) == 2 for i in ids)

        receiver.received.clear()
        sandbox.faults.webhook_duplicate_rate = 0.0
        sandbox.faults.webhook_reorder_rate = 0.5
        sandbox.clock.advance(4 * HOUR)
        sandbox.truth()
        assert sandbox.wait_webhooks()
        time.sleep(0.1)
        ids = [int(r.json["tts_notification_id"]) for r in receiver.received]
        assert len(ids) > 10 and len(set(ids)) == len(ids)
        assert ids != sorted(ids)  # some arrived after a later one


def test_webhook_url_can_be_set_while_running(make_sandbox: Any) -> None:
    with run_receiver() as receiver, make_sandbox(**QUIET) as sandbox:
        shop_id = _authorized(sandbox)
        sandbox.webhook_url = receiver.url
        assert sandbox.revoke(shop_id)
        assert receiver.wait_for(lambda got: len(got) == 1)
        assert receiver.received[0].json["type"] == 6


def test_a_stalled_receiver_blocks_neither_the_simulation_nor_the_api(
    make_sandbox: Any, client: Any
) -> None:
    from tests.sandbox.helpers import Api, get_token

    with run_receiver() as receiver, make_sandbox(webhook_url=receiver.url) as sandbox:
        api = Api(sandbox, client, get_token(sandbox, client)["access_token"])
        receiver.gate.clear()  # every delivery now hangs in the receiver
        sandbox.clock.advance(6 * HOUR)
        first = api.ok("POST", "/order/202309/orders/search", {"page_size": "5"})
        sandbox.clock.advance(6 * HOUR)
        second = api.ok("POST", "/order/202309/orders/search", {"page_size": "5"})
        assert second["total_count"] > first["total_count"] > 0
        assert sandbox.truth()["orders"]["count"] == second["total_count"]
        assert not sandbox.webhooks.idle()  # the queue waits; the shop does not
        receiver.gate.set()
        assert sandbox.wait_webhooks(timeout=30)
        assert len(receiver.received) > 20
