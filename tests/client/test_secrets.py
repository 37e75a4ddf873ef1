"""Secrets through a whole session: in the keyring, never in a log line or an error."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest

from app.tiktok.credentials import KeyringCredentialStore, load_tokens, open_credential_store
from app.tiktok.errors import ClientBugError, TikTokError
from app.tiktok.oauth import DirectTokenExchanger, TokenManager
from tests.client.conftest import MemoryKeyring, connect_own_app

pytestmark = pytest.mark.timeout(30)


async def test_no_secret_in_any_log_line(sandbox: Any) -> None:
    """A whole own-app session at DEBUG, every logger (httpx, httpcore, the sandbox's too),
    through a handler attached only after the client exists and with no filter of its own."""
    conn = await connect_own_app(sandbox)
    first = conn.tokens.tokens
    assert first is not None
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        async with conn.client as client:
            await client.search_orders_page(conn.shop)
            await conn.tokens.refresh()
            await client.search_orders_page(conn.shop)
            sandbox.revoke(conn.shops[-1].id)
            with pytest.raises(TikTokError) as caught:
                await client.search_orders_page(conn.shops[-1])
            logging.getLogger("app.tiktok.test").error("failed: %s", caught.value)
            current = await conn.tokens.access_token()
            try:
                raise RuntimeError(f"echoed {current}")
            except RuntimeError:
                logging.getLogger("app.tiktok.test").exception("with a traceback")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    tokens = conn.tokens.tokens
    assert tokens is not None
    secrets = [
        sandbox.app_secret,
        first.access_token.get_secret_value(),
        first.refresh_token.get_secret_value(),
        tokens.access_token.get_secret_value(),
        tokens.refresh_token.get_secret_value(),
    ]
    text = stream.getvalue()
    assert "HTTP Request" in text  # httpx did log every URL, the secret-bearing ones too
    assert "httpcore" in text  # and httpcore its DEBUG trace
    assert "/api/v2/token/refresh" in text
    for secret in secrets:
        assert secret not in text
    # The sandbox's tokens and codes all start with TTP_; only the (public) open_id may show.
    assert "TTP_" not in text.replace(tokens.open_id or "-", "")
    # One redactor for the app and the relay: the only mask is `***`, never a half-masked
    # `sign=***]` from two redactors stacked.
    assert re.search(r"[?&]sign=\*\*\*[&\s]", text)
    assert re.search(r"[?&]app_secret=\*\*\*[&\s]", text)
    assert "RuntimeError: echoed ***" in text
    for match in re.finditer(r"[?&](sign|app_secret|refresh_token|auth_code)=([^&\s\"]*)", text):
        assert match.group(2) == "***", match.group(0)


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
