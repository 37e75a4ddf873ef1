"""Fixtures for the API client tests: an in-memory keyring backend and the live sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from app.tiktok.client import ClientSettings, TikTokShopClient
from app.tiktok.credentials import CredentialStore, MemoryCredentialStore
from app.tiktok.models import Shop
from app.tiktok.oauth import DirectTokenExchanger, TokenManager
from app.tiktok.signer import LocalSigner


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict, for tests only."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.items[(service, username)]
        except KeyError:
            raise PasswordDeleteError(username) from None


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Installs `MemoryKeyring` process-wide for one test, then restores the previous one."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


# --- the live sandbox -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[Any]:
    """One sandbox per test module (start-up costs ~0.3 s); faults reset per test."""
    from app.sandbox import SandboxConfig, run_sandbox

    config = SandboxConfig(seed=11, qps=0, speed=0.0, products=12, orders_per_hour=6.0)
    with run_sandbox(config) as server:
        server.clock.advance(2 * 86_400)  # two simulated days of orders, packages, videos
        yield server


@pytest.fixture
def sandbox(sandbox_server: Any) -> Iterator[Any]:
    sandbox_server.faults.reset()
    try:
        yield sandbox_server
    finally:
        sandbox_server.faults.reset()


def fast_settings(base_url: str, **overrides: Any) -> ClientSettings:
    """Settings for tests: a high budget, tiny backoffs, short timeouts."""
    values: dict[str, Any] = {
        "open_api_base_url": base_url,
        "auth_base_url": base_url,
        "requests_per_minute": 60_000,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "timeout": 5.0,
        "max_attempts": 5,
    }
    values.update(overrides)
    return ClientSettings(**values)


@dataclass
class Connected:
    client: TikTokShopClient
    tokens: TokenManager
    shop: Shop
    shops: list[Shop]
    store: CredentialStore


async def connect_own_app(
    sandbox: Any,
    *,
    store: CredentialStore | None = None,
    settings: ClientSettings | None = None,
    refresh_ahead: float = 3600.0,
) -> Connected:
    """The own-app path end to end: code, token exchange at the auth host, authorized shops."""
    store = store or MemoryCredentialStore()
    exchanger = DirectTokenExchanger(
        sandbox.app_key, sandbox.app_secret, auth_base_url=sandbox.base_url
    )
    grant = await exchanger.exchange(sandbox.authorize_code())
    tokens = TokenManager(
        sandbox.app_key,
        exchanger,
        store,
        tokens=grant.tokens,
        refresh_ahead=refresh_ahead,
        clock=sandbox.clock.now,
    )
    signer = LocalSigner(sandbox.app_key, sandbox.app_secret)
    client = TikTokShopClient(signer, tokens, settings or fast_settings(sandbox.base_url))
    shops = await client.authorized_shops()
    tokens.bind_shops([shop.id for shop in shops])
    return Connected(client=client, tokens=tokens, shop=shops[0], shops=shops, store=store)


def sandbox_requests(sandbox: Any) -> int:
    """Open API requests the sandbox has received so far, from its live counters."""
    return int(sandbox.stats()["requests"])
