"""Hostile input against the ingest endpoint (hypothesis): no crash, no 5xx, nothing invalid
stored or forwarded, and the relay keeps answering."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.server import RunningRelay, run_relay
from tests.relay.conftest import SHOP_A, Subscriber, make_config, sign

ALLOWED = {200, 400, 401, 413}

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """Envelope-shaped objects whose fields are sometimes right and often wrong."""
    envelope: dict[str, Any] = {}
    near_now = st.integers(-600, 600).map(lambda delta: int(time.time()) + delta)
    fields = {
        "type": st.one_of(st.integers(0, 40), _scalars),
        "tts_notification_id": st.one_of(st.text(min_size=1, max_size=30), _scalars),
        "shop_id": st.one_of(st.just(SHOP_A), st.integers(0, 2**64), _scalars),
        "timestamp": st.one_of(near_now, _scalars),
        "data": st.one_of(st.dictionaries(st.text(max_size=8), _json, max_size=5), _json),
    }
    for name, strategy in fields.items():
        if draw(st.booleans()) or name in ("type", "timestamp"):
            envelope[name] = draw(strategy)
    return envelope


@pytest.fixture(scope="module")
def hostile_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRelay]:
    config = make_config(Path(tmp_path_factory.mktemp("hostile")), max_body=64 * 1024)
    with run_relay(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(hostile_relay: RunningRelay) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_relay.base_url, timeout=10) as http:
        yield http


_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(raw=st.binary(max_size=2048))
def test_random_bytes_signed_or_not(client: httpx.Client, raw: bytes) -> None:
    assert client.post("/webhooks/tiktok", content=raw, headers=sign(raw)).status_code in ALLOWED
    assert client.post("/webhooks/tiktok", content=raw).status_code == 401


@_SETTINGS
@given(envelope=envelopes())
def test_envelopes_with_wrong_types(client: httpx.Client, envelope: dict[str, Any]) -> None:
    raw = json.dumps(envelope).encode()
    assert client.post("/webhooks/tiktok", content=raw, headers=sign(raw)).status_code in ALLOWED


@_SETTINGS
@given(depth=st.integers(1, 200_000), opener=st.sampled_from([b"[", b'{"a":']))
def test_deep_json(client: httpx.Client, depth: int, opener: bytes) -> None:
    raw = (opener * depth)[: 60 * 1024]
    assert client.post("/webhooks/tiktok", content=raw, headers=sign(raw)).status_code == 400


@_SETTINGS
@given(position=st.integers(0, 63), swap=st.sampled_from("0123456789abcdefABCDEFx-"))
def test_signature_near_misses(client: httpx.Client, position: int, swap: str) -> None:
    raw = json.dumps(
        {"type": 1, "shop_id": SHOP_A, "timestamp": int(time.time()), "data": {"x": position}}
    ).encode()
    good = sign(raw)["Authorization"]
    bad = good[:position] + swap + good[position + 1 :]
    if bad == good:
        return
    assert (
        client.post("/webhooks/tiktok", content=raw, headers={"Authorization": bad}).status_code
        == 401
    )
    upper = {"Authorization": good.upper()}
    assert client.post("/webhooks/tiktok", content=raw, headers=upper).status_code == 401


async def test_only_valid_envelopes_were_forwarded(
    hostile_relay: RunningRelay, client: httpx.Client
) -> None:
    """Runs after the property tests in this module: whatever they got stored is valid."""
    metrics = client.get("/metrics").text
    assert "relay_webhooks_rejected_total" in metrics
    assert client.get("/healthz").json()["status"] == "ok"
    marker = json.dumps(
        {"type": 1, "tts_notification_id": "marker", "shop_id": SHOP_A,
         "timestamp": int(time.time()), "data": {}}
    ).encode()  # fmt: skip
    assert client.post("/webhooks/tiktok", content=marker, headers=sign(marker)).status_code == 200
    token = hostile_relay.create_token([SHOP_A])
    sub = await Subscriber.connect(hostile_relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    frames: list[dict[str, Any]] = []
    while True:
        try:
            frames.append(await sub.recv(0.5))
        except TimeoutError:
            break
    await sub.close()
    assert any(f["webhook"].get("tts_notification_id") == "marker" for f in frames)
    for frame in frames:
        webhook = frame["webhook"]
        assert isinstance(webhook, dict)
        assert isinstance(webhook["type"], int) and not isinstance(webhook["type"], bool)
        assert isinstance(webhook["timestamp"], int)
        assert str(webhook["shop_id"]) == SHOP_A
        assert "data" not in webhook or isinstance(webhook["data"], dict)
