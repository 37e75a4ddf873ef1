"""Building the API client for the engine: vendor mode (relay signs, relay exchanges tokens).

Kept apart from the engine so the engine only sees a ready `TikTokShopClient`. Every HTTP
client here is created with `trust_env=False`: the app talks to exactly the URLs it was given
(loopback in the demo), never through a proxy picked up from the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from app.sync.shops import RequestCounter
from app.tiktok.client import ClientSettings, TikTokShopClient
from app.tiktok.credentials import CredentialStore, MemoryCredentialStore
from app.tiktok.models import Shop, TokenSet
from app.tiktok.oauth import RelayTokenExchanger, TokenManager
from app.tiktok.signer import RelaySigner

__all__ = ["VendorConnection", "connect_vendor", "vendor_client"]


@dataclass
class VendorConnection:
    """Everything a vendor-mode session holds; `aclose()` releases it inside the loop."""

    client: TikTokShopClient
    tokens: TokenManager
    shops: list[Shop]
    subscriber_token: str
    requests: RequestCounter
    _http: list[httpx.AsyncClient]

    async def aclose(self) -> None:
        await self.client.aclose()
        for http in self._http:
            await http.aclose()

    def __repr__(self) -> str:
        return f"VendorConnection(shops={[shop.id for shop in self.shops]!r})"


def _http(timeout: float = 15.0, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, trust_env=False, **kwargs)  # type: ignore[arg-type]


def vendor_client(
    *,
    relay_url: str,
    api_base_url: str,
    app_key: str,
    subscriber_token: str,
    tokens: TokenSet,
    shops: Sequence[Shop],
    credentials: CredentialStore,
    now: Callable[[], float],
    requests_per_minute: float = 1000.0,
) -> VendorConnection:
    """A client that signs through the relay and refreshes tokens through it."""
    counter = RequestCounter()
    relay_http = _http(10.0)
    api_http = _http(
        15.0,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        event_hooks={"request": [counter.on_request], "response": [counter.on_response]},
    )
    exchanger = RelayTokenExchanger(relay_url, subscriber_token=subscriber_token, http=relay_http)
    manager = TokenManager(
        app_key,
        exchanger,
        credentials,
        shop_ids=[shop.id for shop in shops],
        tokens=tokens,
        clock=now,
    )
    signer = RelaySigner(relay_url, app_key, subscriber_token, http=relay_http)
    settings = ClientSettings(
        open_api_base_url=api_base_url,
        auth_base_url=api_base_url,
        requests_per_minute=requests_per_minute,
    )
    client = TikTokShopClient(signer, manager, settings, http=api_http)
    return VendorConnection(
        client, manager, list(shops), subscriber_token, counter, [relay_http, api_http]
    )


async def connect_vendor(
    *,
    relay_url: str,
    api_base_url: str,
    app_key: str,
    code: str,
    now: Callable[[], float],
    credentials: CredentialStore | None = None,
    requests_per_minute: float = 1000.0,
) -> VendorConnection:
    """Authorize with an auth code through the relay (`/v1/oauth/token`): tokens, shops and
    the subscriber token in one step, then a client ready for those shops."""
    async with _http(10.0) as http:
        grant = await RelayTokenExchanger(relay_url, http=http).exchange(code)
    if not grant.shops or not grant.subscriber_token:
        raise RuntimeError("the relay authorized no shop")
    return vendor_client(
        relay_url=relay_url,
        api_base_url=api_base_url,
        app_key=app_key,
        subscriber_token=grant.subscriber_token,
        tokens=grant.tokens,
        shops=grant.shops,
        credentials=credentials or MemoryCredentialStore(),
        now=now,
        requests_per_minute=requests_per_minute,
    )
