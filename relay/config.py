"""Relay settings: one frozen dataclass, filled from the command line and the environment.

The app secret only ever comes from the environment (never the command line, where `ps` shows
it) and is kept out of `repr` so a logged config cannot leak it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace

from app.tiktok.hosts import AUTH_BASE_URL, OPEN_API_BASE_URL

__all__ = ["DEFAULT_TIKTOK_API", "DEFAULT_TIKTOK_AUTH", "STORE_ENV", "RelayConfig", "safe_url"]

# Where events live, from the environment: a SQLite path or a redis:// URL. A Redis URL can
# carry a password, which on a command line (`--bus`) every local user sees through `ps`.
STORE_ENV = "VIRALSTOCK_RELAY_STORE"
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^@/]*@", re.IGNORECASE)


def safe_url(url: str) -> str:
    """`url` without the password of its user info, for logs and messages:
    redis://user:secret@host:6379/0 becomes redis://user:***@host:6379/0."""

    def mask(match: re.Match[str]) -> str:
        userinfo = match.group(0)[len(match.group(1)) : -1]
        user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
        return f"{match.group(1)}{user}:***@"

    return _USERINFO.sub(mask, url)


DEFAULT_TIKTOK_API = OPEN_API_BASE_URL
DEFAULT_TIKTOK_AUTH = AUTH_BASE_URL

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
    # Refused webhook POSTs (401/400/413) per source IP per second, and the burst, before that
    # source is answered 429; 0 disables. Signed webhooks never count: TikTok publishes no push
    # rate and no sender addresses, so only what TikTok never sends is limited (ingest.py).
    ip_refusal_rate: float = 10.0
    ip_refusal_burst: float = 100.0
    # Behind a TLS reverse proxy: take the sender's address from X-Forwarded-For, but only on
    # connections from these proxies (relay/proxy.py). Off: the TCP peer is the sender.
    proxy_headers: bool = False
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # Unauthenticated vendor endpoints (`/v1/oauth/token`, `/v1/pair`) per source IP: each call
    # costs upstream requests to TikTok, so a pairing desktop gets a few a minute. 0 disables.
    pair_per_minute: float = 6.0
    pair_burst: float = 5.0
    # `/v1/sign` budget per shop, shared by all its tokens (TikTok's own limit is ~1,000/min
    # per shop).
    sign_rate: float = 50.0
    sign_burst: float = 200.0
    # SQLite `synchronous`: FULL survives power loss (fsync per group commit); NORMAL survives
    # a killed process but not a crashed OS, and is several times faster on slow disks.
    sqlite_sync: str = "FULL"
    trim_interval: float = 60.0
    # How often open streams' tokens are checked against storage (a revoked token's streams
    # close, code 4401, within this); also the longest a cached token answer is trusted.
    token_check_interval: float = 2.0
    ws_ping_interval: float = 20.0
    ws_ping_timeout: float = 20.0
    # permessage-deflate roughly halves a desktop's bandwidth and costs relay CPU per frame.
    ws_compression: bool = True
    # The TCP edge (relay/edge.py). TikTok sends small bodies fast; a desktop's requests are
    # small too. Deadlines are absolute: headers within `header_timeout` of the connection (or of
    # a keep-alive request's first byte), the body within `body_timeout` of the headers.
    header_timeout: float = 5.0
    body_timeout: float = 10.0
    keepalive_timeout: float = 15.0
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    # Connections held at once (HTTP and WebSocket; one desktop holds one WebSocket), in total
    # (also capped by the open-file limit) and per source address; beyond them new connections
    # get 503 with Retry-After at accept.
    max_connections: int = 50_000
    max_connections_per_ip: int = 512
    shed_retry_after: int = 5
    # How many recent events per shop stay in memory for live fan-out without a read.
    recent_per_shop: int = 2048
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, /, **overrides: object) -> RelayConfig:
        """Defaults, then VIRALSTOCK_RELAY_* variables, then explicit overrides.

        VIRALSTOCK_RELAY_STORE (SQLite path or redis:// URL) is used only when neither `db`
        nor `bus` is given explicitly; VIRALSTOCK_RELAY_HOST and _PORT likewise."""
        env = dict(os.environ) if env is None else env
        values: dict[str, object] = {}
        store = env.get(STORE_ENV, "").strip()
        if store and overrides.get("db") is None and overrides.get("bus") is None:
            values["bus" if store.lower().startswith(_REDIS_SCHEMES) else "db"] = store
        if env.get("VIRALSTOCK_RELAY_HOST"):
            values["host"] = env["VIRALSTOCK_RELAY_HOST"]
        if env.get("VIRALSTOCK_RELAY_PORT"):
            values["port"] = int(env["VIRALSTOCK_RELAY_PORT"])
        values |= {
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
    def store_display(self) -> str:
        """Where events live, safe to log (no password)."""
        return safe_url(self.backend_url)

    @property
    def backend_url(self) -> str:
        """The `bus` URL, or `sqlite:///<path>` for the embedded backend."""
        return self.bus or f"sqlite:///{self.db}"
