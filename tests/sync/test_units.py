"""The pure pieces of app.sync: event planning, notification keys, percentiles, backoff,
the published state and its change stream."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from app.sync.clock import FunctionClock, WallClock
from app.sync.consumer import RelayEvent
from app.sync.handlers import delivered_webhook, plan_events
from app.sync.latency import LatencyRecorder, percentile
from app.sync.state import ChangeKind, LinkState, LinkStatus, Publisher, ShopRef

SHOP = "7495540735365777507"


def test_plan_names_what_each_type_touches() -> None:
    events = [
        (SHOP, {"type": 1, "data": {"order_id": "1", "order_status": "UNPAID"}}),
        (SHOP, {"type": 11, "data": {"order_id": "2"}}),
        (SHOP, {"type": 12, "data": {"order_id": "3"}}),
        (
            SHOP,
            {"type": 4, "data": {"package_list": [{"package_id": "p", "order_id_list": ["4", 5]}]}},
        ),
        (SHOP, {"type": 27, "data": {"product_id": "9", "sku_id": "s1"}}),
        (SHOP, {"type": 71, "data": {"sku_id": "s2"}}),
        (SHOP, {"type": 5, "data": {"product_id": 576486316948490000}}),
        (SHOP, {"type": 7, "data": {"expiration_time": "1767600000"}}),
        ("other", {"type": 6, "data": {"message": "bye"}}),
        (SHOP, {"type": 99, "data": {"anything": True}}),
    ]
    plan = plan_events(events)
    assert plan.orders == {SHOP: {"1", "2", "3", "4", "5"}}
    assert plan.skus == {SHOP: {"s1", "s2"}}
    assert plan.products == {SHOP: {"576486316948490000"}}
    assert plan.deauthorized == {"other"}
    assert plan.expiring == {SHOP: 1767600000.0}


def test_plan_is_order_independent_and_idempotent() -> None:
    events = [(SHOP, {"type": 1, "data": {"order_id": str(i)}}) for i in range(20)]
    shuffled = events * 2
    random.Random(4).shuffle(shuffled)
    assert plan_events(events).orders == plan_events(shuffled).orders


def _key(webhook: dict[str, Any]) -> str:
    return delivered_webhook(RelayEvent(SHOP, "1", 0.0, webhook)).key


def test_notification_key_prefers_tiktoks_id_and_is_stable_without_it() -> None:
    with_id = {"type": 1, "tts_notification_id": "7380066284010030890", "data": {}}
    assert _key(with_id) == "7380066284010030890"
    a = {"type": 3, "timestamp": 1, "data": {"order_id": "1"}}
    b = {"data": {"order_id": "1"}, "timestamp": 1, "type": 3}  # same body, other key order
    assert _key(a) == _key(b)
    c = {"type": 3, "timestamp": 2, "data": {"order_id": "1"}}
    assert _key(a) != _key(c)


def test_percentiles_by_nearest_rank() -> None:
    assert percentile([], 50) is None
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    recorder = LatencyRecorder(capacity=10)
    assert recorder.percentiles(50, 99) == (None, None)
    for v in range(3):
        recorder.add(v)
    assert recorder.samples() == [0.0, 1.0, 2.0]
    assert recorder.percentiles(50, 99) == (1.0, 2.0)
    for v in range(3, 100):
        recorder.add(v)
    assert recorder.count == 100
    # Only the last 10 are held, oldest first; the percentiles are of those, as `percentile`.
    assert recorder.samples() == [float(v) for v in range(90, 100)]
    assert recorder.percentiles(50, 99) == (94.0, 99.0)
    assert recorder.percentiles(0, 10, 100) == (90.0, 90.0, 99.0)
    recorder.add(-5.0)  # a clock step back is no negative latency
    assert recorder.samples()[-1] == 0.0 and recorder.p(0) == 0.0
    recorder.clear()
    assert recorder.samples() == [] and recorder.p(50) is None


def test_clocks() -> None:
    assert abs(WallClock().now() - __import__("time").time()) < 5
    assert FunctionClock(lambda: 42.0).now() == 42.0


async def test_publisher_snapshots_and_change_stream() -> None:
    publisher = Publisher(queue_size=2)
    seen: list[ChangeKind] = []
    remove = publisher.add_listener(lambda change: seen.append(change.kind))
    with publisher.subscribe() as queue:
        publisher.ensure_shop(ShopRef(SHOP, "Demo"), 1.0)
        status = LinkStatus(LinkState.DEAUTHORIZED, "revoked", 2.0)
        publisher.update(SHOP, ChangeKind.CONNECTION, 2.0, api=status)
        publisher.update(SHOP, ChangeKind.ALERT, 3.0, sku_ids=("s1",))
        # Bounded: the oldest change was dropped, the latest snapshot is always readable.
        assert queue.qsize() == 2
        first = queue.get_nowait()
        assert first.kind is ChangeKind.CONNECTION
        assert first.snapshot.api.state is LinkState.DEAUTHORIZED
        last = await asyncio.wait_for(queue.get(), 1)
        assert last.sku_ids == ("s1",)
    remove()
    publisher.update(SHOP, ChangeKind.METRICS, 4.0)
    assert seen == [ChangeKind.SHOP, ChangeKind.CONNECTION, ChangeKind.ALERT]
    assert publisher.snapshot(SHOP).shop.name == "Demo"
    assert publisher.snapshot(SHOP).updated_at == 4.0


def test_a_failing_listener_does_not_break_publishing() -> None:
    publisher = Publisher()

    def broken(change: object) -> None:
        raise RuntimeError("listener bug")

    publisher.add_listener(broken)
    publisher.ensure_shop(ShopRef(SHOP), 0.0)
    publisher.update(SHOP, ChangeKind.METRICS, 1.0)
    assert publisher.snapshot(SHOP).updated_at == 1.0


def test_only_final_per_event_failures_are_poison() -> None:
    """What the sink dead-letters (recorded with an error) and what it replays."""
    from app.store.errors import StorageError, StorageErrorKind
    from app.sync.handlers import is_poison
    from app.tiktok.errors import (
        ApiError,
        ClientBugError,
        MalformedResponseError,
        RateLimitedError,
        ReauthorizationRequired,
        TransientError,
    )

    assert is_poison(ApiError("not this seller", code=21008111))
    assert is_poison(MalformedResponseError("bad envelope"))
    assert is_poison(ClientBugError("invalid parameter", code=36009004))
    # Not about one event: every request would fail alike, so replay with backoff.
    assert not is_poison(ClientBugError("invalid sign", code=106001))
    assert not is_poison(TransientError("5xx"))
    assert not is_poison(RateLimitedError("429"))
    assert not is_poison(ReauthorizationRequired("revoked", code=105001))
    assert not is_poison(StorageError(StorageErrorKind.DISK_FULL))
    assert not is_poison(RuntimeError("a bug of ours"))
