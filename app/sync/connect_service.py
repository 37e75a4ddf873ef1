"""The work behind the connect dialog: authorization link, redirect catching, code exchange.

Vendor mode (the default): the code goes to the relay's `/v1/oauth/token`, which exchanges it
with the vendor's secret and pairs in one step; the app keeps the tokens and the relay's
subscriber token in the keyring and the shops in the store. Own-app mode: the seller's app key
and secret are checked by exchanging the code at TikTok's auth host directly, then the secret
and tokens go to the keyring. Every failure becomes a `ConnectError` with its
`ConnectFailure` kind (`app.sync.connect_types`, which the dialog shows); nothing secret
reaches an exception text or a log. No Qt here: the dialog only awaits `ConnectService.connect`.

The keyring is checked *before* any code is spent: a code works once, and with no keyring the
tokens could not be kept, so the seller is told first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.store.catalog import upsert_shop
from app.store.db import Store
from app.sync.connect_types import ConnectError, ConnectFailure, ConnectRequest, ConnectResult
from app.tiktok.client import ClientSettings, TikTokShopClient
from app.tiktok.credentials import (
    APP_ACCOUNT,
    SUBSCRIBER_TOKEN,
    CredentialStore,
    CredentialStoreError,
    KeyringCredentialStore,
    keyring_problem,
    save_app_secret,
    save_subscriber_token,
    save_tokens,
)
from app.tiktok.errors import (
    AuthorizationDenied,
    OAuthStateMismatch,
    ReauthorizationRequired,
    TikTokError,
    TransientError,
)
from app.tiktok.hosts import AUTH_BASE_URL, AUTHORIZE_URL, OPEN_API_BASE_URL
from app.tiktok.models import Shop, TokenSet
from app.tiktok.oauth import (
    DirectTokenExchanger,
    LoopbackRedirectCatcher,
    RelayTokenExchanger,
    TokenGrant,
    TokenManager,
    authorization_url,
    new_state,
    parse_redirect,
)
from app.tiktok.signer import LocalSigner

__all__ = ["ConnectService", "ConnectSettings", "Connected"]

log = logging.getLogger(__name__)

INVALID_CODE = "36004004"
INVALID_CLIENT = "36004003"


@dataclass(frozen=True)
class ConnectSettings:
    """Where TikTok and the relay are (TikTok's hosts, or the sandbox in tests and demo)."""

    relay_url: str
    app_key: str  # the vendor app's key (vendor mode)
    service_id: str
    authorize_url: str = AUTHORIZE_URL
    auth_base_url: str = AUTH_BASE_URL
    api_base_url: str = OPEN_API_BASE_URL


@dataclass
class Connected:
    """What a successful connect leaves behind for the engine."""

    relay_url: str
    app_key: str
    own_app: bool
    shops: list[Shop]
    tokens: TokenSet = field(repr=False)
    subscriber_token: str = field(default="", repr=False)


def _failure(exc: BaseException) -> ConnectError:
    """The seller-facing kind of a failed exchange (texts are already redacted)."""
    text = str(exc)
    if isinstance(exc, OAuthStateMismatch):
        return ConnectError(ConnectFailure.CODE_INVALID, "The address came from another attempt.")
    if isinstance(exc, AuthorizationDenied):
        return ConnectError(ConnectFailure.CODE_INVALID, "Authorization was not granted.")
    if isinstance(exc, ReauthorizationRequired):
        if INVALID_CLIENT in text:
            return ConnectError(ConnectFailure.WRONG_SECRET)
        if INVALID_CODE in text:
            return ConnectError(ConnectFailure.CODE_EXPIRED)
        if "malformed" in text:
            return ConnectError(ConnectFailure.CODE_INVALID)
        return ConnectError(ConnectFailure.AUTHORIZATION_REVOKED)
    if isinstance(exc, TransientError):
        return ConnectError(ConnectFailure.RELAY_UNREACHABLE, "No answer from the server.")
    return ConnectError(ConnectFailure.UNKNOWN, type(exc).__name__)


class ConnectService:
    """Drives one connect dialog. `credentials` defaults to the system keyring (checked);
    `keyring_backend` lets tests pass their in-memory backend explicitly."""

    def __init__(
        self,
        settings: ConnectSettings,
        store: Store,
        *,
        now: Callable[[], float],
        credentials: CredentialStore | None = None,
        keyring_backend: Any | None = None,
        on_connected: Callable[[Connected], Any] | None = None,
        pasted: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        self._credentials = credentials
        self._backend = keyring_backend
        self.on_connected = on_connected
        # The text the seller pasted (the dialog's code field), for the state check.
        self.pasted = pasted
        self.state = ""
        self.catcher: LoopbackRedirectCatcher | None = None
        self._waiter: asyncio.Task[None] | None = None
        self.caught: asyncio.Future[str] | None = None
        self.result: Connected | None = None

    # --- the link and the catcher ----------------------------------------------------------

    async def authorization_link(self) -> str:
        """A fresh state, a loopback catcher, and the link that redirects to it."""
        await self.close_catcher()
        self.state = new_state()
        self.catcher = await LoopbackRedirectCatcher(self.state).start()
        return authorization_url(
            self.settings.service_id,
            self.state,
            authorize_url=self.settings.authorize_url,
            redirect_uri=self.catcher.redirect_uri,
        )

    def watch_catcher(self, deliver: Callable[[str], None], within: float = 600.0) -> None:
        """Call `deliver(code)` when the browser comes back to the catcher."""
        if self.catcher is None:
            return
        catcher = self.catcher

        async def wait() -> None:
            try:
                code = await catcher.wait(within)
            except (TimeoutError, TikTokError) as exc:
                log.info("authorization redirect not caught: %s", type(exc).__name__)
                return
            deliver(code)

        self._waiter = asyncio.ensure_future(wait())

    async def close_catcher(self) -> None:
        if self._waiter is not None:
            self._waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._waiter
            self._waiter = None
        if self.catcher is not None:
            await self.catcher.close()
            self.catcher = None

    # --- connecting ------------------------------------------------------------------------

    def _credential_store(self) -> CredentialStore:
        if self._credentials is not None:
            return self._credentials
        problem = keyring_problem(self._backend)
        if problem is not None:
            raise ConnectError(ConnectFailure.NO_KEYRING, f"({problem})")
        return KeyringCredentialStore(backend=self._backend)

    def _code(self, code: str) -> str:
        """The code to exchange. A pasted address is checked against this attempt's `state`
        (the dialog hands over only the code, so the raw text comes from `pasted`)."""
        raw = self.pasted().strip() if self.pasted is not None else ""
        try:
            if raw and "state=" in raw and (self.state or "code=" in raw):
                return parse_redirect(raw, self.state)
            return parse_redirect(code, "")
        except TikTokError as exc:
            raise _failure(exc) from None

    async def connect(self, req: ConnectRequest) -> ConnectResult:
        """The dialog's callback."""
        credentials = self._credential_store()
        code = self._code(req.code)
        try:
            if req.own_app:
                connected = await self._own_app(req, code, credentials)
            else:
                connected = await self._vendor(req, code, credentials)
        except ConnectError:
            raise
        except CredentialStoreError as exc:
            raise ConnectError(ConnectFailure.NO_KEYRING, str(exc)) from None
        except TikTokError as exc:
            log.warning("connect failed: %s", type(exc).__name__)
            raise _failure(exc) from None
        except httpx.HTTPError as exc:
            raise ConnectError(ConnectFailure.RELAY_UNREACHABLE, type(exc).__name__) from None
        await self._store_shops(connected.shops)
        await self.close_catcher()
        self.result = connected
        if self.on_connected is not None:
            self.on_connected(connected)
        return ConnectResult(tuple(shop.name or shop.id for shop in connected.shops))

    async def _vendor(
        self, req: ConnectRequest, code: str, credentials: CredentialStore
    ) -> Connected:
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
            grant: TokenGrant = await RelayTokenExchanger(req.relay_url, http=http).exchange(code)
        if not grant.shops or not grant.subscriber_token:
            raise ConnectError(ConnectFailure.NO_SHOPS)
        ids = [shop.id for shop in grant.shops]
        app_key = self.settings.app_key
        for shop_id in ids:
            save_tokens(credentials, app_key, shop_id, grant.tokens)
        save_subscriber_token(credentials, app_key, ids, grant.subscriber_token)
        credentials.set(app_key, APP_ACCOUNT, SUBSCRIBER_TOKEN, grant.subscriber_token)
        return Connected(
            req.relay_url, app_key, False, list(grant.shops), grant.tokens, grant.subscriber_token
        )

    async def _own_app(
        self, req: ConnectRequest, code: str, credentials: CredentialStore
    ) -> Connected:
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
            exchanger = DirectTokenExchanger(
                req.app_key, req.app_secret, auth_base_url=self.settings.auth_base_url, http=http
            )
            grant = await exchanger.exchange(code)
            manager = TokenManager(
                req.app_key, exchanger, credentials, tokens=grant.tokens, clock=self.now
            )
            client = TikTokShopClient(
                LocalSigner(req.app_key, req.app_secret),
                manager,
                ClientSettings(
                    open_api_base_url=self.settings.api_base_url,
                    auth_base_url=self.settings.auth_base_url,
                ),
                http=http,
            )
            shops = await client.authorized_shops()
        if not shops:
            raise ConnectError(ConnectFailure.NO_SHOPS)
        save_app_secret(credentials, req.app_key, req.app_secret)
        for shop in shops:
            save_tokens(credentials, req.app_key, shop.id, grant.tokens)
        return Connected(req.relay_url, req.app_key, True, list(shops), grant.tokens)

    async def _store_shops(self, shops: list[Shop]) -> None:
        at = int(self.now())

        def write() -> None:
            with self.store.write() as session:
                for shop in shops:
                    upsert_shop(session, shop, at)

        await asyncio.get_running_loop().run_in_executor(None, write)
