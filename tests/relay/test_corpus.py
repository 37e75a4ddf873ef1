"""The relay's side of the fixture corpus (tests/tiktok/fixtures/): every documented webhook
topic, posted signed over real HTTP, is accepted, routed to the shop its owner field names
(shop_id, or the shops paired to its seller_open_id / creator_open_id) and streamed over the
real WebSocket byte-for-byte as TikTok sent it, on both backends."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from app.tiktok.models import loads
from app.tiktok.webhooks import Owner, parse_envelope
from relay.server import RunningRelay
from tests.relay.conftest import Subscriber, post
from tests.tiktok.corpus import webhook_fixture
from tests.tiktok.test_corpus import TOPICS

# Shop ids of the fixtures' owners: shop topics name one shop, FBT and creator topics an open_id
# that pairing mapped to this shop.
FIXTURE_SHOP = "7494049642642441621"
OPEN_ID = "VIyStQAAAADCBQ40s4TzOSSOEIW-bM5O9cod3vK8OytW8m-bnBYlXw"


async def test_every_documented_topic_is_accepted_routed_and_forwarded_exactly(
    relay: RunningRelay, http: httpx.Client
) -> None:
    mapped = relay.relay.backend.map_owner(OPEN_ID, [FIXTURE_SHOP])
    asyncio.run_coroutine_threadsafe(mapped, relay.loop).result(10)
    token = relay.create_token([FIXTURE_SHOP])
    sub = await Subscriber.connect(relay.ws_url, token)
    assert (await sub.subscribe([FIXTURE_SHOP]))["op"] == "ready"
    now = int(time.time())
    sent = []
    # Deauthorization (6) last: after it the shop goes quiet for this token (PROTOCOL.md).
    for kind in sorted(TOPICS, key=lambda kind: kind == 6):
        body = loads(webhook_fixture(kind))
        body["timestamp"] = now  # the relay refuses a timestamp older than its dedupe window
        if "tts_notification_id" in body:  # the examples share one id; TikTok's never repeat
            body["tts_notification_id"] = f"73271123930573{kind:05d}"
        raw = json.dumps(body, separators=(",", ":")).encode()
        owner = parse_envelope(raw).owner
        assert owner is not None
        assert owner[0] is Owner.SHOP or owner[1] == OPEN_ID
        assert post(http, raw).status_code == 200, kind
        sent.append(raw)
    frames = await sub.events(len(sent))
    assert [frame["shop_id"] for frame in frames] == [FIXTURE_SHOP] * len(sent)
    # Exactly as sent: big ids that were JSON numbers are still the same numbers.
    assert [frame["webhook"] for frame in frames] == [loads(raw) for raw in sent]
    metrics = http.get("/metrics").text
    assert f"relay_webhooks_accepted_total {len(sent)}" in metrics
    assert "relay_webhooks_unrouted_total{" not in metrics
    await sub.close()
