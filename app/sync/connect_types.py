"""The language between the connect dialog and the connect service (no Qt, no HTTP).

The dialog collects a `ConnectRequest` and hands it to an async callback
(`ConnectCallback`, in practice `ConnectService.connect`); the callback answers with a
`ConnectResult` or raises `ConnectError` whose `ConnectFailure` kind picks the message the
seller sees. Nothing secret ever goes into an error's text or a request's repr.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["ConnectCallback", "ConnectError", "ConnectFailure", "ConnectRequest", "ConnectResult"]


class ConnectFailure(enum.StrEnum):
    """Why connecting failed, as far as the seller needs to know."""

    RELAY_UNREACHABLE = "relay_unreachable"
    CODE_EXPIRED = "code_expired"
    CODE_INVALID = "code_invalid"
    WRONG_SECRET = "wrong_secret"  # noqa: S105 (a failure kind, not a secret)
    NO_KEYRING = "no_keyring"
    AUTHORIZATION_REVOKED = "authorization_revoked"
    NO_SHOPS = "no_shops"
    INVALID_INPUT = "invalid_input"
    UNKNOWN = "unknown"


class ConnectError(Exception):
    """Raised by the connect callback: `kind` picks the message, `detail` is shown below it
    (must never contain secrets)."""

    def __init__(self, kind: ConnectFailure, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What the seller entered. The secret is kept out of repr so it never reaches a log."""

    relay_url: str
    code: str
    own_app: bool = False
    app_key: str = ""
    app_secret: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class ConnectResult:
    """What the callback reports back on success."""

    shop_names: tuple[str, ...]


ConnectCallback = Callable[[ConnectRequest], Awaitable[ConnectResult]]
