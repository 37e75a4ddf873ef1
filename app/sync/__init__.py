"""Sync: a live, exact local picture of the shop (asyncio, no Qt).

Public API for the composition root and the UI:
- `SyncEngine(db=Database(open_store(...)), api=client, shops=[Shop], clock=..., relay=RelayLink)`
  with `start()`, `stop()`, `drain_and_reconcile()`, `resync(shop_id)`, `report()`,
  `snapshot(shop_id)` and `publisher` (a `Publisher`: `snapshot()`, `add_listener(callback)`,
  `subscribe()` -> asyncio queue of `Change`);
- clocks: `WallClock` (real shops), `FunctionClock(sandbox.clock.now)` (demo);
- vendor-mode connection: `connect_vendor(...)` (auth code -> relay /v1/oauth/token) and
  `vendor_client(...)` (stored tokens);
- headless runs: `app.sync.headless.run_demo`, `open_demo_engine`, `run_stored`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.sync.clock import Clock, FunctionClock, WallClock
    from app.sync.database import Database
    from app.sync.engine import EngineSettings, RelayLink, SyncEngine
    from app.sync.state import (
        BackfillProgress,
        Change,
        ChangeKind,
        LinkState,
        LinkStatus,
        Publisher,
        ShopRef,
        ShopSnapshot,
        SyncMetrics,
    )

# Imported on first use (PEP 562): the window imports a few plain types from this package
# (its view model) and must not pay for the engine, the database and the API client before
# its first paint (#15).
_HOMES = {
    "Clock": "clock",
    "FunctionClock": "clock",
    "WallClock": "clock",
    "Database": "database",
    "EngineSettings": "engine",
    "RelayLink": "engine",
    "SyncEngine": "engine",
    **{
        name: "state"
        for name in (
            "BackfillProgress",
            "Change",
            "ChangeKind",
            "LinkState",
            "LinkStatus",
            "Publisher",
            "ShopRef",
            "ShopSnapshot",
            "SyncMetrics",
        )
    },
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BackfillProgress",
    "Change",
    "ChangeKind",
    "Clock",
    "Database",
    "EngineSettings",
    "FunctionClock",
    "LinkState",
    "LinkStatus",
    "Publisher",
    "RelayLink",
    "ShopRef",
    "ShopSnapshot",
    "SyncEngine",
    "SyncMetrics",
    "WallClock",
]
