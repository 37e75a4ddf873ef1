"""`DesktopSessions` (app.sync) as the composition root wires it for the window, without Qt:
stored shops and the keyring check, no engine without a stored login, a vendor-mode engine on
the shop with one, the relay the seller last used winning over the configured one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.main import desktop_sessions
from app.store.catalog import upsert_shop
from app.store.db import open_store
from app.sync.desktop_sessions import ConnectionPrefs
from app.tiktok.credentials import (
    APP_ACCOUNT,
    SUBSCRIBER_TOKEN,
    KeyringCredentialStore,
    save_tokens,
)
from app.tiktok.models import Shop, TokenSet
from tests.desktop.conftest import MemoryKeyring

SHOP = Shop(id="7495540735365777507", name="Glow & Go Store", region="GB", cipher="GCP_abc")


def _store_shop(data_dir: Path) -> None:
    store = open_store(data_dir)
    try:
        with store.write() as session:
            upsert_shop(session, SHOP, int(time.time()))
    finally:
        store.close()


@pytest.fixture
def app_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VIRALSTOCK_APP_KEY", "vendor-key")
    monkeypatch.setenv("VIRALSTOCK_RELAY_URL", "http://127.0.0.1:9/")
    return "vendor-key"


async def test_a_stored_shop_needs_a_stored_login(
    tmp_path: Path, memory_keyring: MemoryKeyring, app_key: str
) -> None:
    _store_shop(tmp_path)
    sessions = desktop_sessions(tmp_path)
    try:
        stored = await sessions.stored_shops()
        assert [s.id for s in stored.shops] == [SHOP.id] and stored.keyring_problem is None
        assert await sessions.open_shops(stored.shops, ConnectionPrefs()) is None

        credentials = KeyringCredentialStore()
        far = int(time.time()) + 86_400
        tokens = TokenSet(
            access_token="at-secret",
            access_token_expire_in=far,
            refresh_token="rt-secret",
            refresh_token_expire_in=far,
        )
        save_tokens(credentials, app_key, SHOP.id, tokens)
        credentials.set(app_key, APP_ACCOUNT, SUBSCRIBER_TOKEN, "sub-secret")
        prefs = ConnectionPrefs(relay_url="http://127.0.0.1:8/")
        session = await sessions.open_shops(stored.shops, prefs)
        assert session is not None
        try:
            assert (session.shop_id, session.shop_name) == (SHOP.id, SHOP.name)
            assert not session.demo and session.budget_per_minute == 1000
            # Vendor mode on the relay the seller last connected through, not the configured one.
            consumer = session.engine.consumer
            assert consumer is not None
            assert consumer.stream_url == "ws://127.0.0.1:8/v1/stream"
        finally:
            await session.close()
        assert sessions.connect_settings(ConnectionPrefs()).relay_url == "http://127.0.0.1:9/"
    finally:
        await sessions.aclose()


async def test_no_keyring_is_reported_before_any_engine(
    tmp_path: Path, no_keyring: None, app_key: str
) -> None:
    _store_shop(tmp_path)
    sessions = desktop_sessions(tmp_path)
    try:
        stored = await sessions.stored_shops()
        assert [s.id for s in stored.shops] == [SHOP.id]
        assert stored.keyring_problem
    finally:
        await sessions.aclose()
