"""Headless runs of the engine: the demo (sandbox + relay in-process) and real shops.

This module knows neither the sandbox nor the relay (layering: `app.sync` imports only tiktok,
store and insight). The composition root (`app.main`) starts them and hands over a `DemoWorld`:
plain URLs, credentials and clock controls. The demo then runs the real path: webhooks from the
sandbox to the relay, the relay's WebSocket to the engine, the engine's API calls through the
real client in vendor mode (signing via the relay's `/v1/sign`, tokens via `/v1/oauth/token`).

The end of a demo run is ordered so the two files describe the same moment: the sandbox's clock
stops, the engine drains the relay stream and reconciles, the report is written, and only then
the sandbox writes its truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.store.db import open_store
from app.sync.clock import FunctionClock
from app.sync.connect import VendorConnection, connect_vendor
from app.sync.database import Database
from app.sync.engine import EngineSettings, RelayLink, SyncEngine

__all__ = [
    "DemoOptions",
    "DemoWorld",
    "demo_engine_settings",
    "forecast_check",
    "run_demo",
    "write_json",
]

log = logging.getLogger(__name__)

DEMO_DB = "demo.sqlite3"


@dataclass
class DemoWorld:
    """What the composition root started for a demo: a sandbox and a relay on loopback."""

    api_base_url: str
    relay_base_url: str
    relay_stream_url: str
    app_key: str
    # A fresh single-use auth code, as the sandbox's /open/authorize redirect would give.
    authorize_code: Callable[[], str]
    # The sandbox's simulated clock and its stop (pause).
    now: Callable[[], float]
    stop_clock: Callable[[], None]
    write_truth: Callable[[Path], object]
    speed: float
    qps: float


@dataclass(frozen=True)
class DemoOptions:
    run_for: float
    report: Path
    data_dir: Path
    truth: Path | None = None


def write_json(path: Path, data: Any) -> None:
    """Write atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    partial.replace(path)


def demo_engine_settings(speed: float) -> EngineSettings:
    """Schedules scaled to the demo: reconcile every ~5 simulated minutes, at least every 2 s."""
    return EngineSettings(
        reconcile_interval=max(2.0, min(60.0, 300.0 / max(speed, 1.0))),
        video_interval=max(1.0, min(30.0, 120.0 / max(speed, 1.0))),
    )


def _remove_database(db_path: Path) -> None:
    """The demo world restarts from the same seed each run: start from an empty database."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)


async def open_demo_engine(
    world: DemoWorld, data_dir: Path, *, fresh: bool = True
) -> tuple[SyncEngine, VendorConnection]:
    """Authorize through the relay and build an engine on the demo database."""
    db_path = data_dir / DEMO_DB
    if fresh:
        _remove_database(db_path)
    connection = await connect_vendor(
        relay_url=world.relay_base_url,
        api_base_url=world.api_base_url,
        app_key=world.app_key,
        code=world.authorize_code(),
        now=world.now,
        requests_per_minute=world.qps * 60.0 * 0.9,
    )
    db = Database(open_store(path=db_path))
    engine = SyncEngine(
        db=db,
        api=connection.client,
        shops=connection.shops,
        clock=FunctionClock(world.now),
        relay=RelayLink(world.relay_stream_url, connection.subscriber_token),
        requests=connection.requests,
        settings=demo_engine_settings(world.speed),
    )
    return engine, connection


async def run_demo(world: DemoWorld, options: DemoOptions) -> dict[str, Any]:
    """Run the whole real path for `run_for` real seconds, then write report (and truth)."""
    engine, connection = await open_demo_engine(world, options.data_dir)
    started = time.monotonic()
    try:
        await engine.start()
        await asyncio.sleep(options.run_for)
        world.stop_clock()
        await engine.drain_and_reconcile()
        report = await engine.report()
        write_json(options.report, report)
        if options.truth is not None:
            world.write_truth(options.truth)
            report["forecast_check"] = forecast_check(report, options.truth)
            write_json(options.report, report)
        log.info("demo ran %.1f s", time.monotonic() - started)
        return report
    finally:
        with contextlib.suppress(Exception):
            await engine.stop()
        await connection.aclose()
        engine.db.close()


def forecast_check(report: dict[str, Any], truth_path: Path) -> list[dict[str, Any]]:
    """Each alerted SKU's first critical forecast against the sandbox's truth: the hours left
    shown at the first critical alert, the hours there actually were until its `stockout_at`,
    and the error relative to those (floored at one hour, as the backtest judges it)."""
    truth = json.loads(truth_path.read_text())
    stockouts = {s["sku_id"]: s.get("stockout_at") for s in truth.get("skus", [])}
    checks: list[dict[str, Any]] = []
    for sku in report.get("skus", []):
        at, predicted = sku.get("first_critical_at"), sku.get("first_critical_hours_left")
        out = stockouts.get(sku["sku_id"])
        if at is None or predicted is None:
            continue
        actual = None if out is None or out < at else (out - at) / 3600.0
        checks.append(
            {
                "sku_id": sku["sku_id"],
                "critical_at": at,
                "predicted_hours": predicted,
                "actual_hours": None if actual is None else round(actual, 3),
                "error": None
                if actual is None
                else round(abs(predicted - actual) / max(actual, 1.0), 4),
            }
        )
    return checks


# --- real shops: `viralstock sync` -------------------------------------------------------------

NO_CREDENTIALS = 2


@dataclass(frozen=True)
class StoredOptions:
    data_dir: Path | None
    relay_url: str
    api_base_url: str
    app_key: str
    run_for: float | None = None
    report: Path | None = None


class MissingCredentials(RuntimeError):
    """Nothing to sync with: no keyring, no connected shop, or no tokens for it."""


def _load_stored(options: StoredOptions) -> tuple[Any, list[Any], Any, str]:
    from app.store.catalog import list_shops
    from app.tiktok.credentials import (
        APP_ACCOUNT,
        SUBSCRIBER_TOKEN,
        keyring_problem,
        load_tokens,
        open_credential_store,
    )
    from app.tiktok.models import Shop

    problem = keyring_problem()
    if problem is not None:
        raise MissingCredentials(
            f"No stored credentials: {problem}. `viralstock sync` reads the TikTok Shop tokens "
            "that the desktop app saved in the system keyring; connect the shop in the desktop "
            "app on a machine with a keyring first."
        )
    credentials, _ = open_credential_store()
    if not options.app_key:
        raise MissingCredentials(
            "No app key configured: set VIRALSTOCK_APP_KEY (the vendor app's key)."
        )
    store = open_store(options.data_dir)
    try:
        with store.read() as session:
            infos = [info for info in list_shops(session) if info.deauthorized_at is None]
    finally:
        store.close()
    if not infos:
        raise MissingCredentials(
            "No connected shop in the local database: connect a shop in the desktop app first."
        )
    shops = [Shop(id=i.id, name=i.name, region=i.region, cipher=i.cipher) for i in infos]
    tokens = load_tokens(credentials, options.app_key, shops[0].id)
    subscriber = credentials.get(options.app_key, APP_ACCOUNT, SUBSCRIBER_TOKEN)
    if tokens is None or not subscriber:
        raise MissingCredentials(
            "No stored TikTok Shop tokens for the connected shop: reconnect it in the desktop app."
        )
    return credentials, shops, tokens, subscriber


async def run_stored(options: StoredOptions) -> int:
    """Sync real shops headless with the credentials the desktop app stored (wall clock)."""
    from app.sync.clock import WallClock
    from app.sync.connect import vendor_client

    try:
        credentials, shops, tokens, subscriber = _load_stored(options)
    except MissingCredentials as exc:
        print(f"viralstock sync: {exc}", flush=True)
        return NO_CREDENTIALS
    clock = WallClock()
    connection = vendor_client(
        relay_url=options.relay_url,
        api_base_url=options.api_base_url,
        app_key=options.app_key,
        subscriber_token=subscriber,
        tokens=tokens,
        shops=shops,
        credentials=credentials,
        now=clock.now,
    )
    stream = options.relay_url.rstrip("/").replace("http", "ws", 1) + "/v1/stream"
    engine = SyncEngine(
        db=Database(open_store(options.data_dir)),
        api=connection.client,
        shops=shops,
        clock=clock,
        relay=RelayLink(stream, subscriber),
        requests=connection.requests,
    )
    try:
        await engine.start()
        if options.run_for is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(options.run_for)
            await engine.drain_and_reconcile()
        if options.report is not None:
            write_json(options.report, await engine.report())
        return 0
    finally:
        with contextlib.suppress(Exception):
            await engine.stop()
        await connection.aclose()
        engine.db.close()
