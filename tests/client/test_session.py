"""Connecting and resuming a shop in both modes, with tokens in an in-memory keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.tiktok.credentials import KeyringCredentialStore, MemoryCredentialStore
from app.tiktok.session import connect_own_app, connect_vendor, resume_own_app, resume_vendor
from tests.client.conftest import MemoryKeyring, fast_settings

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def relay_url(sandbox: Any, tmp_path: Path) -> Iterator[str]:
    from relay.config import RelayConfig
    from relay.server import run_relay

    config = RelayConfig(
        db=str(tmp_path / "relay.sqlite3"),
        port=0,
        app_key=sandbox.app_key,
        app_secret=sandbox.app_secret,
        tiktok_api=sandbox.base_url,
        tiktok_auth=sandbox.base_url,
    )
    with run_relay(config) as relay:
        yield relay.base_url


async def test_own_app_connect_then_resume_from_keyring(
    sandbox: Any, memory_keyring: MemoryKeyring
) -> None:
    store = KeyringCredentialStore()
    settings = fast_settings(sandbox.base_url)
    session = await connect_own_app(
        sandbox.authorize_code(),
        app_key=sandbox.app_key,
        app_secret=sandbox.app_secret,
        store=store,
        settings=settings,
        clock=sandbox.clock.now,
    )
    assert session.mode == "own_app" and session.shops
    first = await session.client.search_orders_page(session.shops[0])
    await session.aclose()
    assert ("ViralStock", f"{sandbox.app_key}/_app/app_secret") in memory_keyring.items

    resumed = resume_own_app(
        session.shops,
        app_key=sandbox.app_key,
        store=store,
        settings=settings,
        clock=sandbox.clock.now,
    )
    assert resumed is not None
    again = await resumed.client.search_orders_page(resumed.shops[0])
    assert again.total_count == first.total_count
    await resumed.aclose()
    assert (
        resume_own_app(session.shops, app_key="other-app", store=store, settings=settings) is None
    )


async def test_vendor_connect_then_resume(sandbox: Any, relay_url: str) -> None:
    store = MemoryCredentialStore()
    settings = fast_settings(sandbox.base_url)
    session = await connect_vendor(
        sandbox.authorize_code(),
        app_key=sandbox.app_key,
        relay_url=relay_url,
        store=store,
        settings=settings,
        clock=sandbox.clock.now,
    )
    assert session.mode == "vendor"
    shop = session.shops[0]
    assert store.get(sandbox.app_key, shop.id, "subscriber_token")
    await session.client.search_orders_page(shop)
    await session.aclose()
    resumed = resume_vendor(
        session.shops,
        app_key=sandbox.app_key,
        relay_url=relay_url,
        store=store,
        settings=settings,
        clock=sandbox.clock.now,
    )
    assert resumed is not None
    await resumed.tokens.refresh()  # through the relay, with the stored subscriber token
    assert (await resumed.client.search_orders_page(shop)).total_count >= 0
    await resumed.aclose()
