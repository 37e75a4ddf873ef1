"""Where OAuth tokens, the own-app secret and the relay subscriber token live.

In the OS keyring (the `keyring` package), keyed by app and shop, and nowhere else: never
SQLite, never a log, never a plain file. `keyring` is imported lazily inside this module only,
because the relay imports `app.tiktok` and does not install it.

Headless Linux has no keyring: `keyring` then picks `backends.fail.Keyring`, whose writes raise,
or `null.Keyring`, which silently drops them. `open_credential_store()` detects both and falls
back to `MemoryCredentialStore` *saying so plainly* (`NO_KEYRING_MESSAGE`, logged as a warning
and returned for the UI): tokens then last for this session only. There is no silent plaintext
fallback; an encrypted-file store is not implemented (it would need a crypto dependency).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Protocol, runtime_checkable

from app.tiktok.models import PayloadError, TokenSet, parse
from app.tiktok.redact import register_secret

__all__ = [
    "APP_SECRET",
    "NO_KEYRING_MESSAGE",
    "SERVICE",
    "SUBSCRIBER_TOKEN",
    "TOKENS",
    "CredentialStore",
    "CredentialStoreError",
    "KeyringCredentialStore",
    "MemoryCredentialStore",
    "keyring_problem",
    "load_app_secret",
    "load_subscriber_token",
    "load_tokens",
    "open_credential_store",
    "save_app_secret",
    "save_subscriber_token",
    "save_tokens",
]

log = logging.getLogger(__name__)

SERVICE = "ViralStock"
TOKENS = "tokens"
APP_SECRET = "app_secret"  # noqa: S105 - a key name, not a secret
SUBSCRIBER_TOKEN = "subscriber_token"  # noqa: S105 - a key name, not a secret
APP_ACCOUNT = "_app"  # the account name for secrets that belong to the app, not a shop

NO_KEYRING_MESSAGE = (
    "No working system keyring was found, so ViralStock cannot store your TikTok Shop "
    "login securely on this computer. Your tokens are kept in memory for this session only; "
    "you will have to connect the shop again after restarting. To keep them, install and "
    "unlock a keyring service (GNOME Keyring, KWallet or another Secret Service provider)."
)


class CredentialStoreError(RuntimeError):
    """The keyring refused an operation (locked, dismissed prompt...). Text is secret-free."""


@runtime_checkable
class CredentialStore(Protocol):
    """Secrets keyed by (app_key, account, kind); `account` is a shop id or `_app`."""

    @property
    def persistent(self) -> bool: ...

    def get(self, app_key: str, account: str, kind: str) -> str | None: ...

    def set(self, app_key: str, account: str, kind: str, secret: str) -> None: ...

    def delete(self, app_key: str, account: str, kind: str) -> None: ...


def _username(app_key: str, account: str, kind: str) -> str:
    for part in (app_key, account, kind):
        if not part or "/" in part:
            raise ValueError("credential key parts must be non-empty and contain no '/'")
    return f"{app_key}/{account}/{kind}"


class MemoryCredentialStore:
    """Session-only storage: what we use when no keyring works. Forgotten at exit."""

    persistent = False

    def __init__(self) -> None:
        self._items: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, app_key: str, account: str, kind: str) -> str | None:
        with self._lock:
            return self._items.get(_username(app_key, account, kind))

    def set(self, app_key: str, account: str, kind: str, secret: str) -> None:
        register_secret(secret)
        with self._lock:
            self._items[_username(app_key, account, kind)] = secret

    def delete(self, app_key: str, account: str, kind: str) -> None:
        with self._lock:
            self._items.pop(_username(app_key, account, kind), None)

    def __repr__(self) -> str:
        return f"MemoryCredentialStore({len(self._items)} items)"


class KeyringCredentialStore:
    """The OS keyring through `keyring`, under one service name.

    `backend` is a `keyring.backend.KeyringBackend` to use instead of the process-wide one
    (tests pass an in-memory backend; the app passes nothing).
    """

    persistent = True

    def __init__(self, service: str = SERVICE, backend: Any | None = None) -> None:
        self.service = service
        self._backend = backend

    def _keyring(self) -> Any:
        if self._backend is not None:
            return self._backend
        import keyring  # lazy: the relay imports app.tiktok without keyring installed

        return keyring.get_keyring()

    def get(self, app_key: str, account: str, kind: str) -> str | None:
        try:
            secret = self._keyring().get_password(self.service, _username(app_key, account, kind))
        except Exception as exc:
            raise CredentialStoreError(f"keyring read failed ({type(exc).__name__})") from None
        if secret is not None:
            register_secret(secret)
        return secret  # type: ignore[no-any-return]

    def set(self, app_key: str, account: str, kind: str, secret: str) -> None:
        register_secret(secret)
        try:
            self._keyring().set_password(self.service, _username(app_key, account, kind), secret)
        except Exception as exc:
            raise CredentialStoreError(f"keyring write failed ({type(exc).__name__})") from None

    def delete(self, app_key: str, account: str, kind: str) -> None:
        username = _username(app_key, account, kind)
        try:
            keyring_ = self._keyring()
            if keyring_.get_password(self.service, username) is not None:
                keyring_.delete_password(self.service, username)
        except Exception as exc:
            raise CredentialStoreError(f"keyring delete failed ({type(exc).__name__})") from None

    def __repr__(self) -> str:
        return f"KeyringCredentialStore(service={self.service!r})"


def keyring_problem(backend: Any | None = None) -> str | None:
    """Why the keyring cannot hold secrets, or None when it can.

    `fail.Keyring` raises on every write and `null.Keyring` drops secrets silently: both count
    as "no keyring". Nothing is written to probe, so no unlock prompt pops up at start.
    """
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError:
        return "the keyring package is not installed"
    try:
        active = backend if backend is not None else keyring.get_keyring()
    except Exception as exc:
        return f"the keyring could not be loaded ({type(exc).__name__})"
    if isinstance(active, fail.Keyring):
        return "no keyring backend is available"
    if isinstance(active, null.Keyring):
        return "the keyring backend discards secrets"
    backends = getattr(active, "backends", None)
    if backends is not None and not backends:  # a ChainerBackend with nothing to chain
        return "no keyring backend is available"
    return None


def open_credential_store(
    service: str = SERVICE, backend: Any | None = None
) -> tuple[CredentialStore, str | None]:
    """The keyring store when a keyring works; otherwise a memory store and the message to
    show the user (also logged as a warning). Never a file."""
    problem = keyring_problem(backend)
    if problem is None:
        return KeyringCredentialStore(service, backend), None
    log.warning("%s (%s)", NO_KEYRING_MESSAGE, problem)
    return MemoryCredentialStore(), NO_KEYRING_MESSAGE


def save_tokens(store: CredentialStore, app_key: str, shop_id: str, tokens: TokenSet) -> None:
    """Store a shop's token set as one JSON secret."""
    store.set(app_key, shop_id, TOKENS, json.dumps(tokens.to_secret_dict(), separators=(",", ":")))


def load_tokens(store: CredentialStore, app_key: str, shop_id: str) -> TokenSet | None:
    """A shop's stored token set; None when absent or unreadable (then re-authorize)."""
    raw = store.get(app_key, shop_id, TOKENS)
    if raw is None:
        return None
    try:
        tokens = parse(TokenSet, json.loads(raw))
    except (ValueError, PayloadError):
        log.warning("stored tokens for shop %s are unreadable; re-authorization needed", shop_id)
        return None
    register_secret(tokens.access_token.get_secret_value())
    register_secret(tokens.refresh_token.get_secret_value())
    return tokens


def save_app_secret(store: CredentialStore, app_key: str, app_secret: str) -> None:
    """Own-app mode: the secret the seller typed in, under the app (not a shop)."""
    store.set(app_key, APP_ACCOUNT, APP_SECRET, app_secret)


def load_app_secret(store: CredentialStore, app_key: str) -> str | None:
    return store.get(app_key, APP_ACCOUNT, APP_SECRET)


def save_subscriber_token(
    store: CredentialStore, app_key: str, shop_ids: list[str], token: str
) -> None:
    """Vendor mode: the relay's subscriber token, under each shop it covers."""
    for shop_id in shop_ids:
        store.set(app_key, shop_id, SUBSCRIBER_TOKEN, token)


def load_subscriber_token(store: CredentialStore, app_key: str, shop_id: str) -> str | None:
    return store.get(app_key, shop_id, SUBSCRIBER_TOKEN)
