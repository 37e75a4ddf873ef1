"""The `/v1/sign` budget is per shop (issue #18): every pairing of a shop mints another token,
and those tokens share one budget instead of adding 50/s each. Real relay over HTTP, the
sandbox as TikTok."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sandbox import RunningSandbox
from relay.server import run_relay
from tests.relay.conftest import RedisServer, oauth, sign_with, vendor_config

BURST = 6


@pytest.fixture
def api(sandbox: RunningSandbox, tmp_path: Path) -> Iterator[httpx.Client]:
    # 0.2/s: no refill worth a signature during one test.
    config = vendor_config(sandbox, tmp_path, sign_rate=0.2, sign_burst=float(BURST))
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as client:
        yield client


def _payload(sandbox: RunningSandbox, cipher: str | None) -> dict[str, Any]:
    query = [["app_key", sandbox.app_key], ["timestamp", str(int(time.time()))]]
    if cipher is not None:
        query.append(["shop_cipher", cipher])
        return {"path": "/order/202309/orders/search", "query": query, "body": None}
    return {"path": "/authorization/202309/shops", "query": query, "body": None}


def _codes(api: httpx.Client, token: str, payload: dict[str, Any], n: int) -> list[int]:
    return [sign_with(api, token, payload).status_code for _ in range(n)]


def test_tokens_of_one_shop_share_its_budget(api: httpx.Client, sandbox: RunningSandbox) -> None:
    one, two = sandbox.shops
    first = oauth(api, sandbox, shops=[one["id"]])["token"]
    second = oauth(api, sandbox, shops=[one["id"]])["token"]  # the same shop paired again
    other = oauth(api, sandbox, shops=[two["id"]])["token"]
    signed = _payload(sandbox, one["cipher"])
    assert _codes(api, first, signed, BURST // 2) == [200] * (BURST // 2)
    assert _codes(api, second, signed, BURST // 2) == [200] * (BURST // 2)
    # The shop's burst is spent, whichever token asks.
    assert _codes(api, first, signed, 1) == [429]
    refused = sign_with(api, second, signed)
    assert refused.status_code == 429
    assert refused.json() == {"error": "sign_budget_exceeded"}
    assert int(refused.headers["Retry-After"]) >= 1
    # Another shop's budget is untouched.
    assert _codes(api, other, _payload(sandbox, two["cipher"]), BURST) == [200] * BURST
    metrics = api.get("/metrics").text
    assert 'relay_sign_refused_total{reason="sign_budget_exceeded"} 2' in metrics


def test_an_app_level_signature_is_charged_to_every_shop_of_the_token(
    api: httpx.Client, sandbox: RunningSandbox
) -> None:
    one, two = sandbox.shops
    both = oauth(api, sandbox)["token"]
    only_two = oauth(api, sandbox, shops=[two["id"]])["token"]
    assert _codes(api, both, _payload(sandbox, None), BURST - 1) == [200] * (BURST - 1)
    # Each shop has one signature left: shop two spends it through another token...
    assert _codes(api, only_two, _payload(sandbox, two["cipher"]), 1) == [200]
    # ...so an app-level call (charged to both) is refused, but shop one can still sign.
    assert _codes(api, both, _payload(sandbox, None), 1) == [429]
    assert _codes(api, both, _payload(sandbox, one["cipher"]), 1) == [200]
    assert _codes(api, both, _payload(sandbox, one["cipher"]), 1) == [429]


@pytest.mark.redis
def test_relay_processes_on_one_redis_share_a_shops_budget(
    sandbox: RunningSandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Behind a load balancer a shop's tokens reach different processes: the budget is in
    Redis, so it is still one per shop, not one per shop and process."""
    redis_server.flush()
    one, two = sandbox.shops
    changes: dict[str, Any] = {"bus": redis_server.url, "sign_rate": 0.2, "sign_burst": BURST}
    with (
        run_relay(vendor_config(sandbox, tmp_path / "a", **changes)) as a,
        run_relay(vendor_config(sandbox, tmp_path / "b", **changes)) as b,
        httpx.Client(base_url=a.base_url) as first,
        httpx.Client(base_url=b.base_url) as second,
    ):
        token_a = oauth(first, sandbox, shops=[one["id"]])["token"]
        token_b = oauth(second, sandbox, shops=[one["id"]])["token"]
        other = oauth(second, sandbox, shops=[two["id"]])["token"]
        signed = _payload(sandbox, one["cipher"])
        half = BURST // 2
        assert _codes(first, token_a, signed, half) == [200] * half
        assert _codes(second, token_b, signed, half) == [200] * half
        assert _codes(first, token_a, signed, 1) == [429]
        refused = sign_with(second, token_b, signed)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert _codes(second, other, _payload(sandbox, two["cipher"]), BURST) == [200] * BURST
