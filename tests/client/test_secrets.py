"""Secrets through a whole session: in the keyring, never in a log line or an error."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from app.tiktok.credentials import KeyringCredentialStore, load_tokens, open_credential_store
from app.tiktok.errors import ClientBugError, TikTokError
from app.tiktok.oauth import DirectTokenExchanger, TokenManager
from app.tiktok.redact import install_redaction
from tests.client.conftest import MemoryKeyring, connect_own_app

pytestmark = pytest.mark.timeout(30)


async def test_no_secret_in_any_log_line(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    with caplog.at_level(logging.DEBUG):
        conn = await connect_own_app(sandbox)
        async with conn.client as client:
            await client.search_orders_page(conn.shop)
            await conn.tokens.refresh()
            await client.search_orders_page(conn.shop)
            sandbox.revoke(conn.shops[-1].id)
            with pytest.raises(TikTokError) as caught:
                await client.search_orders_page(conn.shops[-1])
            logging.getLogger("app.tiktok.test").error("failed: %s", caught.value)
    tokens = conn.tokens.tokens
    assert tokens is not None
    secrets = [
        sandbox.app_secret,
        tokens.access_token.get_secret_value(),
        tokens.refresh_token.get_secret_value(),
    ]
    text = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request" in text  # httpx did log every URL, the secret-bearing ones too
    assert "/api/v2/token/refresh" in text
    for secret in secrets:
        assert secret not in text
    assert "sign=***" in text and "app_secret=***" in text
    for line in text.splitlines():
        if "sign=" in line:
            assert "sign=***" in line


async def test_tokens_live_in_the_keyring(sandbox: Any, memory_keyring: MemoryKeyring) -> None:
    store, message = open_credential_store()
    assert message is None and isinstance(store, KeyringCredentialStore)
    conn = await connect_own_app(sandbox, store=store)
    async with conn.client:
        stored = load_tokens(store, sandbox.app_key, conn.shop.id)
        assert stored is not None and stored == conn.tokens.tokens
        await conn.tokens.refresh()
        again = load_tokens(store, sandbox.app_key, conn.shop.id)
        assert again is not None and again == conn.tokens.tokens
        assert again.access_token != stored.access_token
        # every shop of the authorization is keyed separately under the app
        assert {name for _, name in memory_keyring.items} == {
            f"{sandbox.app_key}/{shop.id}/tokens" for shop in conn.shops
        }
    # a later session picks the tokens up from the keyring alone
    exchanger = DirectTokenExchanger(
        sandbox.app_key, sandbox.app_secret, auth_base_url=sandbox.base_url
    )
    resumed = TokenManager(
        sandbox.app_key, exchanger, store, shop_ids=[conn.shop.id], clock=sandbox.clock.now
    )
    assert await resumed.access_token() == again.access_token.get_secret_value()
    assert resumed.refresh_count == 0
    await exchanger.aclose()


def test_error_text_never_carries_secrets() -> None:
    error = ClientBugError(
        "Invalid sign for /x?app_key=k&sign=0123456789abcdef&access_token=TTP_zzzzzzzz",
        code=106001,
        request_id="r1",
    )
    assert "0123456789abcdef" not in str(error) and "TTP_zzzzzzzz" not in str(error)
    assert "request_id=r1" in str(error)
