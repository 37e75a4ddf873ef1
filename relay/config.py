"""Relay settings: one frozen dataclass, filled from the command line and the environment.

The app secret only ever comes from the environment (never the command line, where `ps` shows
it) and is kept out of `repr` so a logged config cannot leak it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

__all__ = ["DEFAULT_TIKTOK_API", "DEFAULT_TIKTOK_AUTH", "RelayConfig"]

DEFAULT_TIKTOK_API = "https://open-api.tiktokglobalshop.com"
DEFAULT_TIKTOK_AUTH = "https://auth.tiktok-shops.com"

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class RelayConfig:
    """Everything the relay needs to run; the defaults are the production ones."""

    # Where events live: `bus` (redis://...) wins over `db` (an SQLite file path).
    db: str = "relay.sqlite3"
    bus: str | None = None
    host: str = "127.0.0.1"
    port: int = 8787
    app_key: str = ""
    app_secret: str = field(default="", repr=False)
    tiktok_api: str = DEFAULT_TIKTOK_API
    tiktok_auth: str = DEFAULT_TIKTOK_AUTH
    # Ingest rules (DESIGN.md 3).
    max_body: int = 1024 * 1024
    future_skew: float = 300.0
    event_retention: float = 7 * DAY
    dedupe_retention: float = 48 * HOUR
    # Per source IP; 0 disables. Generous: TikTok pushes from few addresses at high rates.
    ip_rate: float = 5000.0
    ip_burst: float = 10000.0
    # Behind a TLS reverse proxy: take the sender's address from X-Forwarded-For, but only on
    # connections from these proxies (relay/proxy.py). Off: the TCP peer is the sender.
    proxy_headers: bool = False
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # Unauthenticated vendor endpoints (`/v1/oauth/token`, `/v1/pair`) per source IP: each call
    # costs upstream requests to TikTok, so a pairing desktop gets a few a minute. 0 disables.
    pair_per_minute: float = 6.0
    pair_burst: float = 5.0
    # `/v1/sign` budget per subscriber token (TikTok's own limit is ~1,000/min per shop).
    sign_rate: float = 50.0
    sign_burst: float = 200.0
    # SQLite `synchronous`: FULL survives power loss (fsync per group commit); NORMAL survives
    # a killed process but not a crashed OS, and is several times faster on slow disks.
    sqlite_sync: str = "FULL"
    trim_interval: float = 60.0
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0
    # permessage-deflate roughly halves a desktop's bandwidth and costs relay CPU per frame.
    ws_compression: bool = True
    # How many recent events per shop stay in memory for live fan-out without a read.
    recent_per_shop: int = 2048
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, /, **overrides: object) -> RelayConfig:
        """Defaults, then VIRALSTOCK_RELAY_* variables, then explicit overrides."""
        env = dict(os.environ) if env is None else env
        values: dict[str, object] = {
            "app_key": env.get("VIRALSTOCK_RELAY_APP_KEY", ""),
            "app_secret": env.get("VIRALSTOCK_RELAY_APP_SECRET", ""),
            "tiktok_api": env.get("VIRALSTOCK_RELAY_TIKTOK_API", DEFAULT_TIKTOK_API),
            "tiktok_auth": env.get("VIRALSTOCK_RELAY_TIKTOK_AUTH", DEFAULT_TIKTOK_AUTH),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> RelayConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def backend_url(self) -> str:
        """The `bus` URL, or `sqlite:///<path>` for the embedded backend."""
        return self.bus or f"sqlite:///{self.db}"
