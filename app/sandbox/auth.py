"""OAuth as TikTok's auth host does it: single-use codes, token grants, refresh, revocation.

Codes, tokens and expiry times follow the simulated clock. Token strings come from `secrets`,
never from the scenario's random stream, so authorizing does not change the simulated sales.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from app.sandbox.config import SandboxConfig
from app.sandbox.errors import ApiError, Code

__all__ = ["AUTH_CODE_TTL", "SCOPES", "AuthStore", "Grant"]

AUTH_CODE_TTL = 30 * 60.0
SCOPES = [
    "seller.authorization.info",
    "seller.order.info",
    "seller.product.basic",
    "seller.product.write",
    "seller.fulfillment.basic",
    "seller.logistics",
    "data.shop_analytics.public.read",
    "seller.affiliate_collaboration.read",
]


@dataclass
class Grant:
    """One seller authorization: the shops it covers and the ones since revoked."""

    open_id: str
    shop_ids: list[str]
    refresh_token: str
    refresh_expires: float
    revoked: set[str] = field(default_factory=set)

    def active_shops(self) -> list[str]:
        return [shop_id for shop_id in self.shop_ids if shop_id not in self.revoked]


@dataclass
class _Code:
    shop_ids: list[str]
    expires: float


@dataclass
class _Access:
    grant: Grant
    expires: float


class AuthStore:
    def __init__(self, config: SandboxConfig, shop_ids: list[str], seller_name: str) -> None:
        self._config = config
        self._shop_ids = shop_ids
        self._seller_name = seller_name
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, Grant] = {}
        self._grants: list[Grant] = []
        self.open_id = "TTP_" + secrets.token_hex(8)

    # --- codes ---------------------------------------------------------------------------------

    def issue_code(self, now: float, shop_ids: list[str] | None = None) -> str:
        wanted = list(self._shop_ids) if not shop_ids else list(shop_ids)
        unknown = [shop_id for shop_id in wanted if shop_id not in self._shop_ids]
        if unknown:
            raise ApiError(Code.INVALID_PARAMETER, "Invalid shop_id")
        code = "TTP_" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(shop_ids=wanted, expires=now + AUTH_CODE_TTL)
        return code

    def check_client(self, app_key: str, app_secret: str) -> None:
        good_key = hmac.compare_digest(app_key.encode(), self._config.app_key.encode())
        good_secret = hmac.compare_digest(app_secret.encode(), self._config.app_secret.encode())
        if not (good_key and good_secret):
            raise ApiError(Code.AUTH_INVALID_CLIENT, "Invalid app_key or app_secret")

    def exchange(self, auth_code: str, now: float) -> dict[str, Any]:
        with self._lock:
            entry = self._codes.pop(auth_code, None)  # single use, even when expired
            if entry is None or now >= entry.expires:
                raise ApiError(Code.AUTH_INVALID_CODE, "invalid auth code")
            refresh = "TTP_" + secrets.token_urlsafe(32)
            grant = Grant(
                open_id=self.open_id,
                shop_ids=entry.shop_ids,
                refresh_token=refresh,
                refresh_expires=now + self._config.refresh_token_ttl,
            )
            self._grants.append(grant)
            self._refresh[refresh] = grant
            return self._token_data(grant, now)

    def refresh(self, refresh_token: str, now: float) -> dict[str, Any]:
        with self._lock:
            grant = self._refresh.get(refresh_token)
            if grant is None or now >= grant.refresh_expires or not grant.active_shops():
                raise ApiError(Code.AUTH_INVALID_REFRESH_TOKEN, "invalid refresh token")
            return self._token_data(grant, now)

    def _token_data(self, grant: Grant, now: float) -> dict[str, Any]:
        access = "TTP_" + secrets.token_urlsafe(32)
        expires = now + self._config.access_token_ttl
        self._access[access] = _Access(grant=grant, expires=expires)
        return {
            "access_token": access,
            "access_token_expire_in": int(expires),
            "refresh_token": grant.refresh_token,
            "refresh_token_expire_in": int(grant.refresh_expires),
            "open_id": grant.open_id,
            "seller_name": self._seller_name,
            "seller_base_region": "US",
            "user_type": 0,
            "granted_scopes": list(SCOPES),
        }

    # --- business calls ------------------------------------------------------------------------

    def check_access(self, token: str, now: float) -> Grant:
        """The grant behind an access token, or the refusal TikTok gives."""
        entry = self._access.get(token)
        if entry is None:
            raise ApiError(Code.ACCESS_TOKEN_INVALID, "Access token is invalid.")
        if not entry.grant.active_shops():
            raise ApiError(
                Code.ACCESS_TOKEN_INVALID,
                "Access token is invalid. The seller has deauthorized the app.",
            )
        if now >= entry.expires:
            raise ApiError(Code.ACCESS_TOKEN_EXPIRED, "Access token is expired.")
        return entry.grant

    def revoke(self, shop_id: str) -> bool:
        """Deauthorize the app for a shop; True when some grant covered it."""
        hit = False
        with self._lock:
            for grant in self._grants:
                if shop_id in grant.shop_ids and shop_id not in grant.revoked:
                    grant.revoked.add(shop_id)
                    hit = True
        return hit
