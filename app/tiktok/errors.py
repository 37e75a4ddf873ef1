"""The errors a caller of the TikTok Shop client can act on (tiktok-shop-api.md section 5.1).

The hierarchy is shaped by what the caller should *do*, not by where the failure came from:

| class | what to do | raised for |
| --- | --- | --- |
| `TokenExpiredError` | refresh once, retry (the client already did) | 105002 |
| `ReauthorizationRequired` | authorize again | 105001, 105005, refresh token dead |
| `RateLimitedError` | wait (the client already backed off) | HTTP 429, 36009002 |
| `TransientError` | retry later (the client already retried) | 5xx, timeouts, 36009003, 36009007 |
| `MalformedResponseError` | as transient; logged | a response that is not TikTok's envelope |
| `AmbiguousWriteError` | re-read the state, then decide | a write whose outcome is unknown |
| `ClientBugError` | fix our code; never retried, logged loudly | 106001, 36009004, shop_cipher |
| `ApiError` | show the message; the request itself was refused | any other non-zero code |

Every error keeps TikTok's `request_id` (the one thing TikTok support asks for), the HTTP
status and the path, and its text goes through `redact()`: TikTok's message or an httpx error
can echo a URL with `sign` or `app_secret` in it.
"""

from __future__ import annotations

from app.tiktok.redact import redact

__all__ = [
    "AmbiguousWriteError",
    "ApiError",
    "AuthorizationDenied",
    "ClientBugError",
    "MalformedResponseError",
    "OAuthStateMismatch",
    "RateLimitedError",
    "ReauthorizationRequired",
    "TikTokError",
    "TokenExpiredError",
    "TransientError",
    "classify",
]

EXPIRED_TOKEN = 105002
DEAUTHORIZED = 105001
MISSING_SCOPE = 105005
TOKEN_SHOP_MISMATCH = 101000
INVALID_SIGN = 106001
MISSING_SHOP_CIPHER = 106013
TOO_MANY_REQUESTS = 36009002
INTERNAL_ERROR = 36009003
OVERLOADED_PARAMETER_ERROR = 36009004
REQUEST_TIMEOUT = 36009007
INVALID_AUTH_CODE = 36004004

_REAUTHORIZE = frozenset({DEAUTHORIZED, MISSING_SCOPE})
_TRANSIENT = frozenset({INTERNAL_ERROR, REQUEST_TIMEOUT})
# Codes that can only mean our request was built wrong: invalid sign, shop_cipher missing,
# invalid path or method, wrong content type or body format, invalid version.
# 101000 (token and shop do not match) is a shop_cipher wired to the wrong authorization.
_BUG = frozenset(
    {
        INVALID_SIGN,
        MISSING_SHOP_CIPHER,
        TOKEN_SHOP_MISMATCH,
        36009009,
        36009010,
        36009022,
        36009023,
        36009014,
    }
)


class TikTokError(Exception):
    """Base of every client error. `str()` is safe to log and to show."""

    retryable = False
    # True when the request provably never reached TikTok (no connection, refused before
    # processing): the only case in which the client replays a write.
    not_sent = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        path: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.code = code
        self.request_id = request_id
        self.http_status = http_status
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.path:
            parts.append(f"path={self.path}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return redact(" ".join(parts))


class TokenExpiredError(TikTokError):
    """The access token expired (105002) and one refresh did not cure it."""

    not_sent = True
    # `redact.fingerprint` of the token that was refused, for a single-flight refresh: never the
    # token itself, so an exception kept around (logged, shown, pickled) carries no secret.
    stale_fingerprint: str | None = None


class ReauthorizationRequired(TikTokError):
    """The seller must authorize again: deauthorized, a scope is missing, or refresh failed."""


class AuthorizationDenied(ReauthorizationRequired):
    """The seller declined on TikTok's consent page (`error=auth_denied`)."""


class OAuthStateMismatch(TikTokError):
    """The redirect's `state` is not the one we sent: possible CSRF, the code is refused."""


class RateLimitedError(TikTokError):
    """HTTP 429 or 36009002. `retry_after` is the server's hint in seconds, when it gave one."""

    retryable = True
    not_sent = True  # a throttled request was not processed

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: int | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        path: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            message, code=code, request_id=request_id, http_status=http_status, path=path
        )


class TransientError(TikTokError):
    """A failure worth retrying: 5xx, timeouts, connection trouble, 36009003, 36009007."""

    retryable = True


class MalformedResponseError(TransientError):
    """A response that is not a JSON envelope `{code, message, request_id, data}` or whose
    `data` does not fit its model. Retried like a transient failure and logged."""


class AmbiguousWriteError(TransientError):
    """A write (inventory update, ship) failed in a way that leaves its outcome unknown.

    Not retried automatically: replaying an absolute stock level or a shipment could undo a
    change made in between or ship twice. Re-read the state, then decide.
    """

    retryable = False


class ClientBugError(TikTokError):
    """TikTok says our request is malformed: bad sign, 36009004, shop_cipher mistakes."""


class ApiError(TikTokError):
    """Any other refusal (e.g. 21008111 order not in this shop); not retried."""


def classify(
    *,
    http_status: int,
    code: int | None,
    message: str,
    request_id: str | None,
    path: str,
    retry_after: float | None = None,
) -> TikTokError:
    """The error for a response that did not succeed, by code first and HTTP status second.

    TikTok's `code` is the better signal (a 401 can carry 106001 or 105002), but a bare 429 or
    5xx without an envelope is still classified by its status.
    """

    def make(cls: type[TikTokError], text: str) -> TikTokError:
        return cls(text, code=code, request_id=request_id, http_status=http_status, path=path)

    if code == EXPIRED_TOKEN:
        return make(TokenExpiredError, message or "access token expired")
    if code in _REAUTHORIZE:
        return make(ReauthorizationRequired, message or "authorization revoked")
    if code == TOO_MANY_REQUESTS or http_status == 429:
        return RateLimitedError(
            message or "rate limited",
            retry_after=retry_after,
            code=code,
            request_id=request_id,
            http_status=http_status,
            path=path,
        )
    if code in _TRANSIENT:
        return make(TransientError, message or "TikTok internal error")
    if code in _BUG or code == OVERLOADED_PARAMETER_ERROR:
        return make(ClientBugError, message or "request refused as malformed")
    if code is not None and "shop_cipher" in message.lower():
        return make(ClientBugError, message)
    if http_status >= 500:
        return make(TransientError, message or f"server error {http_status}")
    return make(ApiError, message or "request refused")
