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
