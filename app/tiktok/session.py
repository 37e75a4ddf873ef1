"""One connected authorization, wired: the helper the composition root (app/main.py) calls.

DESIGN.md section 2 has two modes and one code path. These functions are the only place that
differs by mode; what they return (`ApiSession`) is the same either way:

- `connect_own_app`: the seller's own app key and secret (stored in the keyring), local
  signing, token exchange and refresh at TikTok's auth host;
- `connect_vendor`: the vendor's app, whose secret stays on the relay; the relay exchanges the
  code, names the shops, issues a subscriber token (stored in the keyring), signs every request
  and refreshes tokens;
- `resume_own_app` / `resume_vendor`: the same session rebuilt at the next start from the
  keyring alone (None when something is missing: authorize again).

Shops (id, name, cipher) are not secrets: the caller keeps them (in SQLite) and passes them to
`resume_*`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from app.tiktok.client import ClientSettings, TikTokShopClient
from app.tiktok.credentials import (
    CredentialStore,
    load_app_secret,
    load_subscriber_token,
    load_tokens,
    save_app_secret,
    save_subscriber_token,
)
from app.tiktok.errors import MalformedResponseError
from app.tiktok.models import Shop
from app.tiktok.oauth import DirectTokenExchanger, RelayTokenExchanger, TokenManager
from app.tiktok.signer import LocalSigner, RelaySigner

__all__ = ["ApiSession", "connect_own_app", "connect_vendor", "resume_own_app", "resume_vendor"]

Mode = Literal["own_app", "vendor"]


@dataclass
class ApiSession:
    """A ready client, its token manager and the shops the authorization covers."""

    mode: Mode
    client: TikTokShopClient
    tokens: TokenManager
    shops: list[Shop]
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list, repr=False)

    async def aclose(self) -> None:
        """Close the pooled connections (inside the loop, before it stops)."""
        await self.client.aclose()
        for close in self._closers:
            await close()


async def connect_own_app(
    code: str,
    *,
    app_key: str,
    app_secret: str,
    store: CredentialStore,
    settings: ClientSettings,
    clock: Callable[[], float] = time.time,
) -> ApiSession:
    """Exchange `code` with our own secret, learn the shops, keep secret and tokens."""
    save_app_secret(store, app_key, app_secret)
    exchanger = DirectTokenExchanger(app_key, app_secret, auth_base_url=settings.auth_base_url)
    grant = await exchanger.exchange(code)
    tokens = TokenManager(app_key, exchanger, store, tokens=grant.tokens, clock=clock)
    client = TikTokShopClient(LocalSigner(app_key, app_secret), tokens, settings)
    shops = await client.authorized_shops()
    tokens.bind_shops([shop.id for shop in shops])
    return ApiSession("own_app", client, tokens, shops, [exchanger.aclose])


async def connect_vendor(
    code: str,
    *,
    app_key: str,
    relay_url: str,
    store: CredentialStore,
    settings: ClientSettings,
    clock: Callable[[], float] = time.time,
) -> ApiSession:
    """Let the relay exchange `code`; keep the subscriber token and tokens in the store."""
    exchanger = RelayTokenExchanger(relay_url)
    grant = await exchanger.exchange(code)
    if not grant.subscriber_token or not grant.shops:
        raise MalformedResponseError("the relay returned no subscriber token or no shops")
    shop_ids = [shop.id for shop in grant.shops]
    save_subscriber_token(store, app_key, shop_ids, grant.subscriber_token)
    tokens = TokenManager(
        app_key, exchanger, store, shop_ids=shop_ids, tokens=grant.tokens, clock=clock
    )
    signer = RelaySigner(relay_url, app_key, grant.subscriber_token)
    client = TikTokShopClient(signer, tokens, settings)
    return ApiSession(
        "vendor", client, tokens, list(grant.shops), [exchanger.aclose, signer.aclose]
    )


def resume_own_app(
    shops: Sequence[Shop],
    *,
    app_key: str,
    store: CredentialStore,
    settings: ClientSettings,
    clock: Callable[[], float] = time.time,
) -> ApiSession | None:
    """The own-app session from the keyring, or None when the secret or tokens are gone."""
    secret = load_app_secret(store, app_key)
    if not secret or not shops or load_tokens(store, app_key, shops[0].id) is None:
        return None
    exchanger = DirectTokenExchanger(app_key, secret, auth_base_url=settings.auth_base_url)
    tokens = TokenManager(
        app_key, exchanger, store, shop_ids=[shop.id for shop in shops], clock=clock
    )
    client = TikTokShopClient(LocalSigner(app_key, secret), tokens, settings)
    return ApiSession("own_app", client, tokens, list(shops), [exchanger.aclose])


def resume_vendor(
    shops: Sequence[Shop],
    *,
    app_key: str,
    relay_url: str,
    store: CredentialStore,
    settings: ClientSettings,
    clock: Callable[[], float] = time.time,
) -> ApiSession | None:
    """The vendor session from the keyring, or None when the token or tokens are gone."""
    if not shops:
        return None
    subscriber = load_subscriber_token(store, app_key, shops[0].id)
    if not subscriber or load_tokens(store, app_key, shops[0].id) is None:
        return None
    exchanger = RelayTokenExchanger(relay_url, subscriber_token=subscriber)
    tokens = TokenManager(
        app_key, exchanger, store, shop_ids=[shop.id for shop in shops], clock=clock
    )
    signer = RelaySigner(relay_url, app_key, subscriber)
    client = TikTokShopClient(signer, tokens, settings)
    return ApiSession("vendor", client, tokens, list(shops), [exchanger.aclose, signer.aclose])
