"""Vendor mode against the real sandbox over HTTP: OAuth exchange + pairing, refresh, signing
(the sandbox accepts the relay's signatures), pairing by access token, and the refusals."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from pathlib import Path

import httpx
import pytest

from app.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from relay.server import RunningRelay, run_relay
from tests.relay.conftest import Subscriber, make_config
from tests.relay.conftest import oauth as _oauth
from tests.relay.conftest import sign_with as _sign


async def test_oauth_exchange_pairs_with_the_authorized_shops(
    api: httpx.Client, sandbox: RunningSandbox, vendor_relay: RunningRelay
) -> None:
    result = _oauth(api, sandbox)
    assert result["tokens"]["access_token"] and result["tokens"]["refresh_token"]
    expected = sorted((s["id"], s["name"], s["cipher"]) for s in sandbox.shops)
    assert sorted((s["id"], s["name"], s["cipher"]) for s in result["shops"]) == expected
    shop_ids = [s["id"] for s in result["shops"]]
    sub = await Subscriber.connect(vendor_relay.ws_url, result["token"])
    assert (await sub.subscribe(shop_ids))["op"] == "ready"
    await sub.close()
    sub = await Subscriber.connect(vendor_relay.ws_url, result["token"])
    assert (await sub.subscribe(["999"]))["code"] == "forbidden_shop"
    await sub.close()
    # A code is single-use: TikTok (the sandbox) refuses the second exchange.
    code = sandbox.authorize_code()
    assert api.post("/v1/oauth/token", json={"code": code}).status_code == 200
    again = api.post("/v1/oauth/token", json={"code": code})
    assert again.status_code == 400
    assert again.json()["error"] == "tiktok_refused"
    assert api.post("/v1/oauth/token", json={"nope": 1}).status_code == 400


def test_refresh_needs_a_subscriber_token(api: httpx.Client, sandbox: RunningSandbox) -> None:
    result = _oauth(api, sandbox)
    payload = {"refresh_token": result["tokens"]["refresh_token"]}
    assert api.post("/v1/oauth/refresh", json=payload).status_code == 401
    refreshed = api.post(
        "/v1/oauth/refresh", json=payload, headers={"Authorization": f"Bearer {result['token']}"}
    )
    assert refreshed.status_code == 200, refreshed.text
    data = refreshed.json()
    assert data["access_token"] and data["refresh_token"]
    bad = api.post(
        "/v1/oauth/refresh",
        json={"refresh_token": "not-a-real-one"},
        headers={"Authorization": f"Bearer {result['token']}"},
    )
    assert bad.status_code == 400


def test_relay_signatures_are_accepted_by_the_sandbox(
    api: httpx.Client, sandbox: RunningSandbox
) -> None:
    result = _oauth(api, sandbox)
    access = result["tokens"]["access_token"]
    shop = result["shops"][0]
    path = "/order/202309/orders/search"
    raw = json.dumps({"order_status": "AWAITING_SHIPMENT"}).encode()
    query = [
        ["app_key", sandbox.app_key],
        ["timestamp", str(int(time.time()))],
        ["shop_cipher", shop["cipher"]],
        ["page_size", "10"],
    ]
    signed = _sign(
        api,
        result["token"],
        {
            "path": path,
            "query": query,
            "body": base64.b64encode(raw).decode(),
            "content_type": "application/json",
        },
    )
    assert signed.status_code == 200, signed.text
    params = [*map(tuple, query), ("sign", signed.json()["sign"])]
    headers = {"x-tts-access-token": access, "content-type": "application/json"}
    answer = httpx.post(sandbox.base_url + path, params=params, content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 0
    # A GET without a body, too.
    shops_query = [["app_key", sandbox.app_key], ["timestamp", str(int(time.time()))]]
    signed = _sign(
        api,
        result["token"],
        {"path": "/authorization/202309/shops", "query": shops_query, "body": None},
    )
    params = [*map(tuple, shops_query), ("sign", signed.json()["sign"])]
    answer = httpx.get(
        sandbox.base_url + "/authorization/202309/shops", params=params, headers=headers
    )
    assert answer.json()["code"] == 0
    # A signature for different bytes is refused by the sandbox: the test can fail.
    answer = httpx.post(sandbox.base_url + path, params=params, content=raw, headers=headers)
    assert answer.json()["code"] != 0


def test_sign_refusals(api: httpx.Client, sandbox: RunningSandbox) -> None:
    token = _oauth(api, sandbox)["token"]
    now = int(time.time())

    def payload(path: str = "/order/202309/orders", stamp: int = now, key: str = "") -> dict:  # type: ignore[type-arg]
        query = [["app_key", key or sandbox.app_key], ["timestamp", str(stamp)]]
        return {"path": path, "query": query, "body": None}

    assert api.post("/v1/sign", json=payload()).status_code == 401
    assert _sign(api, "vsr_" + "n" * 43, payload()).status_code == 401
    for path in (
        "/api/v2/token/get",
        "/order/../api/v2/token/get",
        "https://x/order/202309/o",
        "/order/202309/orders?x=1",
        "/order",
    ):
        refused = _sign(api, token, payload(path=path))
        assert (refused.status_code, refused.json()["error"]) == (400, "path_not_allowed"), path
    assert _sign(api, token, payload(stamp=now - 3600)).json()["error"] == "bad_timestamp"
    assert _sign(api, token, payload(stamp=now + 120)).json()["error"] == "bad_timestamp"
    assert _sign(api, token, payload(key="other-app")).json()["error"] == "bad_app_key"
    # Budget: burst 10 at 1/s. Refusals of the request's shape cost nothing; signatures do.
    answers = [_sign(api, token, payload()) for _ in range(12)]
    codes = [a.status_code for a in answers]
    assert 10 <= codes.count(200) <= 11 and codes[:10] == [200] * 10, codes
    assert codes[-1] == 429
    assert answers[-1].json() == {"error": "sign_budget_exceeded"}
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 5


def test_pair_with_access_token(api: httpx.Client, sandbox: RunningSandbox) -> None:
    access = _oauth(api, sandbox)["tokens"]["access_token"]
    paired = api.post("/v1/pair", json={"access_token": access})
    assert paired.status_code == 200, paired.text
    assert {s["id"] for s in paired.json()["shops"]} == {s["id"] for s in sandbox.shops}
    assert paired.json()["token"].startswith("vsr_")
    refused = api.post("/v1/pair", json={"access_token": "forged"})
    assert refused.status_code in (400, 403)
    assert "token" not in refused.json()


def test_unreachable_tiktok_is_a_clean_502(tmp_path: Path, sandbox: RunningSandbox) -> None:
    config = make_config(
        tmp_path,
        app_key=sandbox.app_key,
        app_secret=sandbox.app_secret,
        tiktok_api="http://127.0.0.1:9",
        tiktok_auth="http://127.0.0.1:9",
    )
    with run_relay(config) as running:
        answer = httpx.post(running.base_url + "/v1/oauth/token", json={"code": "abc"})
    assert answer.status_code == 502
    assert answer.json() == {"error": "tiktok_unreachable"}
    assert sandbox.app_secret not in answer.text


def test_nothing_secret_is_logged(
    api: httpx.Client, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = _oauth(api, sandbox)
    api.post("/v1/pair", json={"access_token": result["tokens"]["access_token"]})
    api.post(
        "/v1/oauth/refresh",
        json={"refresh_token": result["tokens"]["refresh_token"]},
        headers={"Authorization": f"Bearer {result['token']}"},
    )
    logged = caplog.text + " ".join(repr(getattr(r, "fields", "")) for r in caplog.records)
    for secret in (
        sandbox.app_secret,
        result["token"],
        result["tokens"]["access_token"],
        result["tokens"]["refresh_token"],
    ):
        assert secret not in logged
    # httpx logged the token URL (app secret in its query), masked by the shared redactor.
    assert re.search(r"[?&]app_secret=\*\*\*[&\s]", caplog.text), caplog.text
    assert "[redacted]" not in logged


async def test_sandbox_webhooks_flow_through_the_relay(tmp_path: Path) -> None:
    """End to end: the sandbox signs and pushes webhooks, the relay verifies, stores and
    streams them; each arrives intact and parses as the desktop will parse it."""
    from app.tiktok.webhooks import parse_webhook

    config = make_config(tmp_path)
    with run_relay(config) as running:
        sandbox_config = SandboxConfig(
            seed=3,
            products=5,
            orders_per_hour=2400.0,
            webhook_url=running.base_url + "/webhooks/tiktok",
            app_key=config.app_key,
            app_secret=config.app_secret,
        )
        with run_sandbox(sandbox_config) as sandbox:
            shop = sandbox.shops[0]["id"]
            token = running.create_token([shop])
            sub = await Subscriber.connect(running.ws_url, token)
            assert (await sub.subscribe([shop]))["op"] == "ready"
            frames = await sub.events(3, timeout=20)
            await sub.close()
    for frame in frames:
        event = parse_webhook(json.dumps(frame["webhook"]))
        assert event.shop_id == shop
    cursors = [f["cursor"] for f in frames]
    assert cursors == sorted(cursors)


@pytest.mark.parametrize("path", ["/v1/oauth/token", "/v1/pair"])
def test_unauthenticated_vendor_calls_are_limited_per_ip(
    tmp_path: Path, sandbox: RunningSandbox, path: str
) -> None:
    """Anyone may call these, and each call costs TikTok requests: past the burst, 429 with
    Retry-After, before any upstream call; other routes (health, webhooks) stay open."""
    config = make_config(
        tmp_path,
        app_key=sandbox.app_key,
        app_secret=sandbox.app_secret,
        tiktok_api=sandbox.base_url,
        tiktok_auth=sandbox.base_url,
        pair_per_minute=1.0,
        pair_burst=3.0,
    )
    field = "code" if path == "/v1/oauth/token" else "access_token"
    with run_relay(config) as running, httpx.Client(base_url=running.base_url, timeout=15) as api:
        answers = [api.post(path, json={field: "forged"}) for _ in range(5)]
        assert all(a.status_code != 429 for a in answers[:3]), [a.text for a in answers]
        for refused in answers[3:]:
            assert refused.status_code == 429, refused.text
            assert refused.json() == {"error": "rate_limited"}
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert api.get("/healthz").status_code == 200
        other = "/v1/pair" if path == "/v1/oauth/token" else "/v1/oauth/token"
        assert api.post(other, json={}).status_code == 429  # one budget for both routes


async def test_pairing_teaches_the_relay_the_sellers_open_id_for_fbt_webhooks(
    api: httpx.Client, sandbox: RunningSandbox, vendor_relay: RunningRelay
) -> None:
    """Type 24 (FBT inventory) names the seller only by seller_open_id. The relay learns that
    open_id from TikTok's token data when it exchanges the code, so the webhook reaches every
    shop of the pairing instead of being refused (which would make TikTok retry, then drop)."""
    from app.tiktok.signing import webhook_signature

    result = _oauth(api, sandbox)
    open_id = result["tokens"]["open_id"]
    shop_ids = sorted(s["id"] for s in result["shops"])
    sub = await Subscriber.connect(vendor_relay.ws_url, result["token"])
    assert (await sub.subscribe(shop_ids))["op"] == "ready"
    body = {
        "type": 24,
        "seller_open_id": open_id,
        "tts_notification_id": "fbt-1",
        "timestamp": int(time.time()),
        "data": {"sku_id": "123513234", "fbt_warehouse_inventory": []},
    }
    raw = json.dumps(body).encode()
    signature = webhook_signature(sandbox.app_key, sandbox.app_secret, raw)
    response = api.post("/webhooks/tiktok", content=raw, headers={"Authorization": signature})
    assert response.status_code == 200
    frames = await sub.events(len(shop_ids))
    assert sorted(frame["shop_id"] for frame in frames) == shop_ids
    assert all(frame["webhook"] == body for frame in frames)
    assert "relay_webhooks_unrouted_total{" not in api.get("/metrics").text
    await sub.close()
