"""Ingest over real HTTP: what is accepted, what is refused, and that refusals forward nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from relay.ingest import UNROUTED
from relay.server import RunningRelay, run_relay
from tests.relay.conftest import (
    SHOP_A,
    SHOP_B,
    Subscriber,
    body,
    make_config,
    nids,
    post,
    sign,
)


async def _subscriber(relay: RunningRelay, shops: list[str] | None = None) -> Subscriber:
    token = relay.create_token(shops or [SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    ready = await sub.subscribe(shops or [SHOP_A])
    assert ready == {"op": "ready", "shops": shops or [SHOP_A]}
    return sub


async def test_valid_webhook_is_stored_and_forwarded_exactly(
    relay: RunningRelay, http: httpx.Client
) -> None:
    sub = await _subscriber(relay)
    # Big ids as JSON numbers, unknown fields, unicode and a float: all must survive as sent.
    raw = (
        b'{"type":5,"tts_notification_id":"7380066284010030890","shop_id":"'
        + SHOP_A.encode()
        + b'","timestamp":'
        + str(int(time.time())).encode()
        + b',"data":{"product_id":576486316948490001234,"status":"ok","price":12.10,'
        + b'"name":"\xc3\xa9t\xc3\xa9 \\u00e9","new_field":[1,{"x":null}]},"extra":true}'
    )
    response = post(http, raw)
    assert response.status_code == 200
    assert response.content == b""
    (event,) = await sub.events(1)
    assert event["shop_id"] == SHOP_A
    assert isinstance(event["received_at"], float)
    assert event["webhook"] == json.loads(raw)
    assert event["webhook"]["data"]["product_id"] == 576486316948490001234
    # The frame carries the webhook text byte-for-byte.
    assert json.dumps(event["webhook"], ensure_ascii=False) == json.dumps(
        json.loads(raw), ensure_ascii=False
    )
    await sub.close()


async def test_every_refusal_forwards_nothing(relay: RunningRelay, http: httpx.Client) -> None:
    sub = await _subscriber(relay)
    now = time.time()
    good = body("ok-1")

    forged = post(http, good, sign(good, secret="wrong-secret"))
    assert (forged.status_code, forged.content) == (401, b"")
    unsigned = post(http, good, {})
    assert (unsigned.status_code, unsigned.content) == (401, b"")
    bearer = post(http, good, {"Authorization": "Bearer " + sign(good)["Authorization"]})
    assert bearer.status_code == 401
    tampered = good.replace(b"UNPAID", b"PAID!!")
    assert post(http, tampered, sign(good)).status_code == 401

    stale = body("stale-1", stamp=now - 49 * 3600)
    assert post(http, stale).status_code == 400
    assert post(http, stale).json() == {"error": "stale"}
    future = body("future-1", stamp=now + 600)
    assert post(http, future).json() == {"error": "future"}

    for raw in (
        b"not json",
        b"[1,2,3]",
        b'{"type":1}',
        b'{"type":"1","shop_id":"1","timestamp":1}',
        b'{"type":1,"shop_id":"1","timestamp":true}',
        b'{"type":1,"shop_id":"1","timestamp":NaN}',
        b'{"type":true,"shop_id":"1","timestamp":' + str(int(now)).encode() + b"}",
        b'{"type":1,"timestamp":' + str(int(now)).encode() + b"}",
        b'{"type":1,"shop_id":{"a":1},"timestamp":' + str(int(now)).encode() + b"}",
        # An envelope key twice: parsers disagree on which wins, so it is refused.
        b'{"type":1,"shop_id":"1","shop_id":"2","timestamp":' + str(int(now)).encode() + b"}",
        b'{"type":1,"type":6,"shop_id":"1","timestamp":' + str(int(now)).encode() + b"}",
        b'{"type":1,"shop_id":"1","timestamp":' + str(int(now)).encode() + b',"data":[]}',
        b'{"type":1,"shop_id":"\xff","timestamp":1}',
        b'{"type":1,"tts_notification_id":"","shop_id":"1","timestamp":'
        + str(int(now)).encode()
        + b"}",
    ):
        response = post(http, raw)
        assert response.status_code == 400, raw
        assert response.json() == {"error": "malformed"}

    oversize = body("big-1", data={"blob": "x" * (1024 * 1024)})
    assert post(http, oversize).status_code == 413

    def chunks() -> Iterator[bytes]:  # no content-length: the limit holds while streaming too
        for _ in range(20):
            yield b"x" * 65536

    streamed = http.post("/webhooks/tiktok", content=chunks(), headers=sign(b""))
    assert streamed.status_code == 413

    await sub.silence(0.5)
    # The refusals did not poison the stream: a valid webhook still arrives, alone.
    assert post(http, good).status_code == 200
    assert nids(await sub.events(1)) == ["ok-1"]
    await sub.silence(0.3)
    metrics = http.get("/metrics").text
    for reason in ("bad_signature", "stale", "future", "malformed", "too_large"):
        assert f'relay_webhooks_rejected_total{{reason="{reason}"}}' in metrics
    assert "relay_webhooks_accepted_total 1" in metrics
    await sub.close()


async def test_duplicate_is_acknowledged_and_not_stored_twice(
    relay: RunningRelay, http: httpx.Client
) -> None:
    sub = await _subscriber(relay)
    raw = body("dup-1")
    assert post(http, raw).status_code == 200
    assert post(http, raw).status_code == 200
    # Same id, different bytes (TikTok retry with a new timestamp): still a duplicate.
    again = body("dup-1", stamp=time.time() - 5)
    assert post(http, again).status_code == 200
    assert post(http, body("dup-2")).status_code == 200
    assert nids(await sub.events(2)) == ["dup-1", "dup-2"]
    await sub.silence(0.5)
    assert "relay_webhooks_duplicate_total 2" in http.get("/metrics").text
    # A webhook without tts_notification_id is deduped on its exact bytes.
    bare = body(None, data={"order_id": "77"})
    assert post(http, bare).status_code == 200
    assert post(http, bare).status_code == 200
    (event,) = await sub.events(1)
    assert "tts_notification_id" not in event["webhook"]
    await sub.silence(0.3)
    await sub.close()


def _map_owner(relay: RunningRelay, open_id: str, shops: list[str]) -> None:
    """What pairing does (vendor.py `_learn_owner`), through the running relay's backend."""
    job = relay.relay.backend.map_owner(open_id, shops)
    asyncio.run_coroutine_threadsafe(job, relay.loop).result(10)


def _owned(kind: int, field: str, owner: str, nid: str, data: dict[str, object]) -> bytes:
    envelope = {"type": kind, "tts_notification_id": nid, field: owner}
    return json.dumps({**envelope, "timestamp": int(time.time()), "data": data}).encode()


async def test_creator_topic_routes_by_creator_open_id(
    relay: RunningRelay, http: httpx.Client
) -> None:
    _map_owner(relay, "creator-42", [SHOP_A])
    sub = await _subscriber(relay, [SHOP_A])
    raw = _owned(20, "creator_open_id", "creator-42", "c-1", {"cancel_time": 1644412885})
    assert post(http, raw).status_code == 200
    (event,) = await sub.events(1)
    assert event["shop_id"] == SHOP_A
    assert json.loads(raw) == event["webhook"]
    await sub.close()


async def test_fbt_inventory_routes_by_seller_open_id_to_every_paired_shop(
    relay: RunningRelay, http: httpx.Client
) -> None:
    """Type 24 names the seller by seller_open_id only (no shop_id): it reaches the shops the
    seller paired, each once, and a TikTok retry is a duplicate for all of them."""
    other = SHOP_B
    _map_owner(relay, "VIyStQAAAADCBQ40s4TzOSSOEIW-bM5O9cod3vK8OytW8m-bnBYlXw", [SHOP_A, other])
    sub_a = await _subscriber(relay, [SHOP_A])
    sub_b = await _subscriber(relay, [other])
    data = {
        "goods_id": "732357708734418520388",
        "sku_id": "123513234",
        "fbt_warehouse_inventory": [
            {
                "fbt_warehouse_id": "73823232239293999999",
                "on_hand_detail": {
                    "total_quantity": 7,
                    "reserved_quantity": 5,
                    "available_quantity": 2,
                },
            }
        ],
        "update_time": 1644412845,
    }
    raw = _owned(
        24, "seller_open_id", "VIyStQAAAADCBQ40s4TzOSSOEIW-bM5O9cod3vK8OytW8m-bnBYlXw", "f-1", data
    )
    assert post(http, raw).status_code == 200
    assert post(http, raw).status_code == 200  # TikTok's retry
    (event_a,) = await sub_a.events(1)
    (event_b,) = await sub_b.events(1)
    assert (event_a["shop_id"], event_b["shop_id"]) == (SHOP_A, other)
    assert event_a["webhook"] == event_b["webhook"] == json.loads(raw)
    await sub_a.silence(0.3)
    metrics = http.get("/metrics").text
    assert "relay_webhooks_duplicate_total 1" in metrics
    assert "relay_webhooks_unrouted_total{" not in metrics
    await sub_a.close()
    await sub_b.close()


async def test_unmapped_owner_is_stored_unrouted_counted_and_acknowledged(
    relay: RunningRelay, http: httpx.Client
) -> None:
    """A documented topic whose seller_open_id no pairing taught the relay: 200 (not a 400
    that TikTok retries for 15.5 h), stored under the unrouted bucket, on /metrics, and
    delivered to no shop."""
    sub = await _subscriber(relay, [SHOP_A])
    raw = _owned(24, "seller_open_id", "never-paired", "u-1", {"sku_id": "1"})
    assert post(http, raw).status_code == 200
    assert 'relay_webhooks_unrouted_total{type="24"} 1' in http.get("/metrics").text
    await sub.silence(0.3)
    bucket = await _subscriber(relay, [UNROUTED])
    (event,) = await bucket.events(1)
    assert event["shop_id"] == UNROUTED
    assert event["webhook"] == json.loads(raw)
    await sub.close()
    await bucket.close()


def test_per_ip_limit_counts_refusals_not_webhooks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One TikTok address may carry every shop's webhooks at any rate: signed webhooks never
    spend the per-IP budget. Requests TikTok never sends (a forged signature) do; once the
    address has spent it, it gets 429 with Retry-After, even for a signed webhook."""
    config = make_config(tmp_path, ip_refusal_rate=0.01, ip_refusal_burst=3.0)
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as http:
        signed = [post(http, body(f"rl-{i}")).status_code for i in range(40)]
        assert signed == [200] * 40
        assert [post(http, body("rl-dup")).status_code for _ in range(5)] == [200] * 5
        forged = body("rl-forged")
        codes = [
            http.post("/webhooks/tiktok", content=forged, headers=sign(forged, "wrong")).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        refused = post(http, body("rl-after"))
        assert refused.status_code == 429
        assert refused.json() == {"error": "rate_limited"}
        assert int(refused.headers["retry-after"]) >= 1
        metrics = http.get("/metrics").text
        assert 'relay_webhooks_rejected_total{reason="rate_limited"} 2' in metrics
        assert 'relay_webhooks_rejected_total{reason="bad_signature"} 3' in metrics


def test_reachability_and_health(relay: RunningRelay, http: httpx.Client) -> None:
    assert http.get("/webhooks/tiktok").status_code == 200
    health = http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["backend"] in ("sqlite", "redis")
    metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "relay_webhooks_received_total",
        "relay_webhooks_accepted_total",
        "relay_webhooks_duplicate_total",
        "relay_events_delivered_total",
        "relay_subscribers_connected",
        "relay_delivery_latency_seconds_bucket",
    ):
        assert name in metrics.text


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_other_methods_on_webhook_path(http: httpx.Client, method: str) -> None:
    assert http.request(method, "/webhooks/tiktok").status_code == 405
