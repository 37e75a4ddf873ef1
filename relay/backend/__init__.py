"""Storage backends behind one interface (`relay.backend.base.Backend`)."""

from __future__ import annotations

from relay.backend.base import Backend, BackendError, Incoming, ShopPosition, StoredEvent
from relay.config import RelayConfig

__all__ = ["Backend", "BackendError", "Incoming", "ShopPosition", "StoredEvent", "open_backend"]


def open_backend(config: RelayConfig) -> Backend:
    """The backend the config names: `bus` (redis://...) or the SQLite file `db`."""
    if config.bus:
        if config.bus.startswith(("redis://", "rediss://", "unix://")):
            from relay.backend.redis import RedisBackend

            return RedisBackend(
                config.bus,
                event_retention=config.event_retention,
                dedupe_retention=config.dedupe_retention,
            )
        raise ValueError("--bus must be a redis:// URL")
    from relay.backend.sqlite import SQLiteBackend

    return SQLiteBackend(
        config.db,
        event_retention=config.event_retention,
        dedupe_retention=config.dedupe_retention,
        sync=config.sqlite_sync,
    )
