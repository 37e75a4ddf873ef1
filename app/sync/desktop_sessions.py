"""Engines for the desktop window: the demo, the stored shop, a shop just connected.

The desktop runner (`app.ui.desktop`) asks `DesktopSessions` for a `Session` (an engine not yet
started, the shop it shows, and what must be closed with it) and for a `ConnectService`; it
never builds API clients, credential stores or databases itself. The composition root
(`app.main`) constructs `DesktopSessions` with the data folder, the connection settings it read
from the environment and, for the demo, its `demo_world` factory (sandbox and relay, which this
package must not know: it only sees the `DemoWorld` the factory yields).

Every HTTP client is created with `trust_env=False` (see `app.sync.connect`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from app.store.catalog import list_shops
from app.store.db import Store, open_store
from app.sync.clock import WallClock
from app.sync.connect import vendor_client
from app.sync.connect_service import Connected, ConnectService, ConnectSettings
from app.sync.database import Database
from app.sync.engine import RelayLink, SyncEngine
from app.sync.headless import DemoWorld, open_demo_engine
from app.tiktok.client import ClientSettings, TikTokShopClient
from app.tiktok.credentials import (
    APP_ACCOUNT,
    SUBSCRIBER_TOKEN,
    CredentialStore,
    KeyringCredentialStore,
    keyring_problem,
    load_app_secret,
    load_tokens,
)
from app.tiktok.models import Shop, TokenSet
from app.tiktok.oauth import DirectTokenExchanger, TokenManager
from app.tiktok.signer import LocalSigner

__all__ = [
    "ConnectionPrefs",
    "DemoWorldFactory",
    "DesktopSessions",
    "Session",
    "StoredShops",
]

# `app.main.demo_world`: `demo_world(seed=..., speed=...)` -> context manager of a DemoWorld.
DemoWorldFactory = Callable[..., contextlib.AbstractContextManager[DemoWorld]]
Closer = Callable[[], Any]


@dataclass(frozen=True)
class ConnectionPrefs:
    """What the desktop remembered about the last connect (empty: use the defaults)."""

    relay_url: str = ""
    app_key: str = ""
    own_app: bool = False


@dataclass
class Session:
    """One engine (not started yet) for the window, and what must be closed with it."""

    engine: SyncEngine
    shop_id: str
    shop_name: str
    demo: bool
    budget_per_minute: int
    closers: list[Closer]

    async def close(self) -> None:
        """Stop the engine, then close its clients and database (inside the loop)."""
        with contextlib.suppress(Exception):
            await self.engine.stop()
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                result = close()
                if inspect.isawaitable(result):
                    await result


@dataclass(frozen=True)
class StoredShops:
    """The connected shops in the store, and why the keyring cannot be used (None: it can)."""

    shops: tuple[Shop, ...]
    keyring_problem: str | None


class DesktopSessions:
    """Builds sessions for the desktop. `keyring_backend` None is the process-wide keyring
    (tests install theirs with `keyring.set_keyring`)."""

    def __init__(
        self,
        data_dir: Path,
        connect: ConnectSettings,
        *,
        demo_world: DemoWorldFactory | None = None,
        keyring_backend: Any | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = data_dir
        self.connect = connect
        self.demo_world = demo_world
        self.keyring_backend = keyring_backend
        self.now = now
        self.world: DemoWorld | None = None
        self._store: Store | None = None
        self._stack = contextlib.ExitStack()
        #: Set when the database file was found damaged at open (kept aside, restored from
        #: the last backup or started afresh): what to tell the user, once.
        self.recovery_notice: str | None = None

    async def aclose(self) -> None:
        """Close the store and stop the demo's sandbox and relay. They stop their own threads,
        so this runs in an executor: the loop's thread (the UI's) stays responsive."""
        stack, self._stack = self._stack, contextlib.ExitStack()
        self._store = None
        await asyncio.get_running_loop().run_in_executor(None, stack.close)

    # --- the demo --------------------------------------------------------------------------

    async def open_demo(self, *, seed: int, speed: float) -> Session:
        """Start the demo world (sandbox + relay), authorize through the relay, build the
        engine on a fresh demo database."""
        factory = self.demo_world
        if factory is None:
            raise RuntimeError("this build has no demo world")

        def enter() -> DemoWorld:
            return self._stack.enter_context(factory(seed=seed, speed=speed))

        world = await asyncio.get_running_loop().run_in_executor(None, enter)
        self.world = world
        engine, connection = await open_demo_engine(world, self.data_dir)
        shop = connection.shops[0]
        return Session(
            engine,
            shop.id,
            shop.name,
            demo=True,
            budget_per_minute=int(world.qps * 60),
            closers=[connection.aclose, engine.db.close],
        )

    async def sandbox_reachable(self) -> bool:
        """Does the demo's simulated TikTok Shop answer (the self-test's check)?"""
        if self.world is None:
            return False
        url = self.world.api_base_url.rstrip("/") + "/open/authorize"
        try:
            async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
                response = await http.get(url)
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    # --- a real shop -----------------------------------------------------------------------

    def connect_settings(self, prefs: ConnectionPrefs) -> ConnectSettings:
        """The configured endpoints, with the relay the seller last connected through."""
        return replace(self.connect, relay_url=prefs.relay_url or self.connect.relay_url)

    async def _open_store(self) -> Store:
        if self._store is None:
            loop = asyncio.get_running_loop()
            self._keep(await loop.run_in_executor(None, open_store, self.data_dir))
        assert self._store is not None
        return self._store

    def _keep(self, store: Store) -> None:
        self._stack.callback(store.close)
        self._store = store
        if store.recovery is not None:
            self.recovery_notice = store.recovery.message

    async def stored_shops(self) -> StoredShops:
        """The shops still authorized in the store, and whether the keyring works."""
        store = await self._open_store()
        with store.read() as session:
            infos = [s for s in list_shops(session) if s.deauthorized_at is None]
        shops = tuple(Shop(id=i.id, name=i.name, region=i.region, cipher=i.cipher) for i in infos)
        return StoredShops(shops, keyring_problem(self.keyring_backend))

    async def open_shops(
        self, shops: Sequence[Shop], prefs: ConnectionPrefs, connected: Connected | None = None
    ) -> Session | None:
        """An engine for connected shops on the wall clock: tokens from the keyring, or the
        fresh ones of a connect that just succeeded. None: no stored login (connect again)."""
        settings = self.connect_settings(prefs)
        app_key = prefs.app_key or settings.app_key
        credentials = KeyringCredentialStore(backend=self.keyring_backend)
        shops = list(shops)
        tokens = connected.tokens if connected else load_tokens(credentials, app_key, shops[0].id)
        subscriber: str = (
            connected.subscriber_token
            if connected
            else credentials.get(app_key, APP_ACCOUNT, SUBSCRIBER_TOKEN)
        ) or ""
        if tokens is None or (not prefs.own_app and not subscriber):
            return None
        clock = WallClock()
        relay: RelayLink | None
        if prefs.own_app:
            client, closers = _own_app_client(credentials, app_key, tokens, shops, settings)
            relay = None
        else:
            connection = vendor_client(
                relay_url=settings.relay_url,
                api_base_url=settings.api_base_url,
                app_key=app_key,
                subscriber_token=subscriber,
                tokens=tokens,
                shops=shops,
                credentials=credentials,
                now=clock.now,
            )
            client, closers = connection.client, [connection.aclose]
            stream = settings.relay_url.rstrip("/").replace("http", "ws", 1) + "/v1/stream"
            relay = RelayLink(stream, subscriber)
        # The store `stored_shops` opened (one damage check and migration per start, #15).
        db = Database(await self._open_store())
        engine = SyncEngine(db=db, api=client, shops=shops, clock=clock, relay=relay)
        return Session(
            engine,
            shops[0].id,
            shops[0].name,
            demo=False,
            budget_per_minute=1000,
            closers=[*closers, db.close],
        )

    def connect_service(
        self, prefs: ConnectionPrefs, on_connected: Callable[[Connected], Any]
    ) -> ConnectService:
        """The service behind one connect dialog (shops go to this data folder's store, opened
        here if no stored-shop lookup opened it yet: the dialog opens from a Qt slot)."""
        if self._store is None:
            self._keep(open_store(self.data_dir))
        assert self._store is not None
        return ConnectService(
            self.connect_settings(prefs),
            self._store,
            now=self.now,
            keyring_backend=self.keyring_backend,
            on_connected=on_connected,
        )


def _own_app_client(
    credentials: CredentialStore,
    app_key: str,
    tokens: TokenSet,
    shops: Sequence[Shop],
    settings: ConnectSettings,
) -> tuple[TikTokShopClient, list[Closer]]:
    """Own-app mode: the seller's secret from the keyring signs locally."""
    secret = load_app_secret(credentials, app_key) or ""
    http = httpx.AsyncClient(timeout=15.0, trust_env=False)
    exchanger = DirectTokenExchanger(
        app_key, secret, auth_base_url=settings.auth_base_url, http=http
    )
    manager = TokenManager(
        app_key, exchanger, credentials, shop_ids=[s.id for s in shops], tokens=tokens
    )
    client = TikTokShopClient(
        LocalSigner(app_key, secret),
        manager,
        ClientSettings(
            open_api_base_url=settings.api_base_url, auth_base_url=settings.auth_base_url
        ),
        http=http,
    )
    return client, [client.aclose, http.aclose]
