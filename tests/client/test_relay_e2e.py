"""Vendor mode end to end: client -> relay (signing, OAuth) -> sandbox, all over real HTTP.

The desktop side never holds the app secret here: the relay signs every attempt and exchanges
and refreshes tokens with the vendor's secret, exactly as DESIGN.md section 2 and 3 describe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.tiktok.client import TikTokShopClient
from app.tiktok.credentials import MemoryCredentialStore
from app.tiktok.errors import ApiError, ReauthorizationRequired, TransientError
from app.tiktok.oauth import (
    LoopbackRedirectCatcher,
    RelayTokenExchanger,
    TokenGrant,
    TokenManager,
    authorization_url,
    new_state,
)
from app.tiktok.signer import RelaySigner, SigningRefusedForContent
from tests.client.conftest import fast_settings, sandbox_requests

pytestmark = pytest.mark.timeout(40)


def _relay(sandbox: Any, db: Path, **overrides: Any) -> Any:
    from relay.config import RelayConfig
    from relay.server import run_relay

    config = RelayConfig(
        db=str(db),
        port=0,
        app_key=sandbox.app_key,
        app_secret=sandbox.app_secret,
        tiktok_api=sandbox.base_url,
        tiktok_auth=sandbox.base_url,
        **overrides,
    )
    return run_relay(config)


@pytest.fixture
def relay(sandbox: Any, tmp_path: Path) -> Iterator[Any]:
    with _relay(sandbox, tmp_path / "relay.sqlite3") as running:
        yield running


async def _authorize_through_relay(sandbox: Any, relay_url: str) -> TokenGrant:
    """The seller's whole journey: link, consent (auto-approved), redirect to our loopback
    catcher, state checked, code exchanged by the relay."""
    state = new_state()
    async with LoopbackRedirectCatcher(state) as catcher:
        link = authorization_url(
            sandbox.service_id,
            state,
            authorize_url=sandbox.base_url + "/open/authorize",
            redirect_uri=catcher.redirect_uri,
        )
        async with httpx.AsyncClient(timeout=5, follow_redirects=True) as browser:
            landing = await browser.get(link)
        assert landing.status_code == 200
        code = await catcher.wait(5)
    return await RelayTokenExchanger(relay_url).exchange(code)


async def _vendor_client(
    sandbox: Any, relay_url: str, **settings: Any
) -> tuple[TikTokShopClient, TokenManager, TokenGrant]:
    grant = await _authorize_through_relay(sandbox, relay_url)
    assert grant.subscriber_token and grant.shops
    exchanger = RelayTokenExchanger(relay_url, subscriber_token=grant.subscriber_token)
    tokens = TokenManager(
        sandbox.app_key,
        exchanger,
        MemoryCredentialStore(),
        shop_ids=[shop.id for shop in grant.shops],
        tokens=grant.tokens,
        clock=sandbox.clock.now,
    )
    signer = RelaySigner(relay_url, sandbox.app_key, grant.subscriber_token)
    client = TikTokShopClient(signer, tokens, fast_settings(sandbox.base_url, **settings))
    return client, tokens, grant


async def test_vendor_mode_end_to_end(sandbox: Any, relay: Any) -> None:
    client, tokens, grant = await _vendor_client(sandbox, relay.base_url)
    assert not hasattr(client.signer, "app_secret")  # the desktop never holds the secret
    async with client:
        shops = await client.authorized_shops()
        assert {shop.id for shop in shops} == {shop.id for shop in grant.shops}
        shop = shops[0]
        orders = [order async for order in client.iter_orders(shop, page_size=20)]
        assert orders
        detail = await client.get_orders(shop, [order.id for order in orders[:60]])
        assert len(detail) == min(60, len(orders))
        products = [p async for p in client.iter_products(shop)]
        found = await client.search_inventory(shop, product_ids=[products[0].id])
        assert found.inventory[0].skus[0].warehouse_inventory

        # refresh through the relay, ahead of time and after a 105002
        old = await tokens.access_token()
        new = await tokens.refresh()
        assert new != old
        frozen = sandbox.clock.now()
        tokens._clock = lambda: frozen
        sandbox.clock.advance(8 * 86_400)
        pages = await asyncio.gather(*(client.search_orders_page(shop) for _ in range(10)))
        assert all(page.total_count >= len(orders) for page in pages)
        assert tokens.refresh_count == 2


async def test_relay_signing_budget_is_waited_out(sandbox: Any, tmp_path: Path) -> None:
    with _relay(sandbox, tmp_path / "r.sqlite3", sign_rate=20.0, sign_burst=3.0) as relay:
        client, _, grant = await _vendor_client(sandbox, relay.base_url, backoff_cap=0.1)
        async with client:
            shop = grant.shops[0]
            pages = await asyncio.gather(
                *(client.search_orders_page(shop, page_size=5) for _ in range(12))
            )
            assert len(pages) == 12
            # the relay's 429 is not TikTok's: the shop's API budget was not cut
            budget = (sandbox.app_key, shop.id)
            assert client.limiter.current_rate(budget) == client.limiter.configured_rate()


async def test_relay_down_or_token_refused(sandbox: Any, tmp_path: Path) -> None:
    with _relay(sandbox, tmp_path / "r.sqlite3") as relay:
        client, _, grant = await _vendor_client(sandbox, relay.base_url, max_attempts=2)
        url = relay.base_url
    shop = grant.shops[0]
    async with client:
        before = sandbox_requests(sandbox)
        with pytest.raises(TransientError):
            await client.search_orders_page(shop)
        assert sandbox_requests(sandbox) == before  # nothing unsigned ever left
    with _relay(sandbox, tmp_path / "r2.sqlite3") as other:
        assert other.base_url != url
        refused = TikTokShopClient(
            RelaySigner(other.base_url, sandbox.app_key, "not-a-subscriber-token"),
            client.tokens,
            fast_settings(sandbox.base_url),
        )
        async with refused:
            with pytest.raises(ReauthorizationRequired):
                await refused.search_orders_page(shop)


async def test_an_id_holding_a_protected_name_is_refused_for_that_request_only(
    sandbox: Any, relay: Any
) -> None:
    """An order id "timestamp" (a webhook's data) makes the relay refuse to sign with
    `ambiguous_query`: a final refusal of that request, not a client bug nor a reason to retry,
    and the next request is signed as usual."""
    client, _, grant = await _vendor_client(sandbox, relay.base_url)
    shop = grant.shops[0]
    async with client:
        before = sandbox_requests(sandbox)
        with pytest.raises(SigningRefusedForContent) as refused:
            await client.get_orders(shop, ["timestamp"])
        assert isinstance(refused.value, ApiError) and not refused.value.retryable
        assert "ambiguous_query" in str(refused.value)
        assert sandbox_requests(sandbox) == before  # nothing left for TikTok
        page = await client.search_orders_page(shop, page_size=5)
        assert page.orders
