"""A demo world the tests can break: sandbox and relay in-process on loopback, with controls to
restart the relay on the same port and database, and to (re)start sync engines on one store.

Everything is real: the sandbox over HTTP (its fault injection drops, duplicates and reorders
webhooks), the relay over HTTP and WebSocket, SQLite files in a temporary folder.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from app.store.db import open_store
from app.sync.clock import FunctionClock
from app.sync.connect import VendorConnection, connect_vendor
from app.sync.database import Database
from app.sync.engine import EngineSettings, RelayLink, SyncEngine
from relay.config import RelayConfig
from relay.server import RunningRelay, run_relay


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    sandbox: RunningSandbox
    relay_config: RelayConfig
    folder: Path
    relay: RunningRelay | None = None
    _relay_cm: Any = None
    engines: list[SyncEngine] = field(default_factory=list)

    def start_relay(self) -> RunningRelay:
        self._relay_cm = run_relay(self.relay_config)
        self.relay = self._relay_cm.__enter__()
        return self.relay

    def stop_relay(self) -> None:
        if self._relay_cm is not None:
            self._relay_cm.__exit__(None, None, None)
        self._relay_cm = None
        self.relay = None

    def restart_relay(self) -> RunningRelay:
        self.stop_relay()
        return self.start_relay()

    @property
    def relay_url(self) -> str:
        return f"http://127.0.0.1:{self.relay_config.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://127.0.0.1:{self.relay_config.port}/v1/stream"

    async def connect(self, rate_share: float = 0.9) -> VendorConnection:
        """Authorize in vendor mode: code -> relay /v1/oauth/token -> tokens, shops, token."""
        return await connect_vendor(
            relay_url=self.relay_url,
            api_base_url=self.sandbox.base_url,
            app_key=self.sandbox.app_key,
            code=self.sandbox.authorize_code(),
            now=self.sandbox.clock.now,
            requests_per_minute=self.sandbox.config.qps * 60 * rate_share,
        )

    def engine(
        self,
        connection: VendorConnection,
        db_name: str = "app.sqlite3",
        settings: EngineSettings | None = None,
    ) -> SyncEngine:
        engine = SyncEngine(
            db=Database(open_store(path=self.folder / db_name)),
            api=connection.client,
            shops=connection.shops,
            clock=FunctionClock(self.sandbox.clock.now),
            relay=RelayLink(self.stream_url, connection.subscriber_token),
            requests=connection.requests,
            settings=settings or fast_settings(),
        )
        self.engines.append(engine)
        return engine


def fast_settings(**changes: Any) -> EngineSettings:
    values: dict[str, Any] = {
        "reconcile_interval": 2.0,
        "video_interval": 1.0,
        "insight_debounce": 0.1,
        "insight_max_delay": 0.5,
    }
    values.update(changes)
    return EngineSettings(**values)


@contextlib.contextmanager
def world(
    folder: Path, *, seed: int = 1, speed: float = 600.0, webhooks: bool = True, **sandbox: Any
) -> Iterator[World]:
    port = free_port()
    config = SandboxConfig(
        seed=seed,
        scenario=sandbox.pop("scenario", "viral"),
        speed=speed,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/tiktok" if webhooks else None,
        **sandbox,
    )
    with run_sandbox(config) as box:
        relay_config = RelayConfig(
            db=str(folder / "relay.sqlite3"),
            host="127.0.0.1",
            port=port,
            app_key=box.app_key,
            app_secret=box.app_secret,
            tiktok_api=box.base_url,
            tiktok_auth=box.base_url,
            sqlite_sync="NORMAL",
            log_level="WARNING",
            sign_rate=10_000.0,
            sign_burst=10_000.0,
        )
        w = World(box, relay_config, folder)
        w.start_relay()
        try:
            yield w
        finally:
            w.stop_relay()


def truth_by_sku(truth: dict[str, Any]) -> dict[str, int]:
    return {sku["sku_id"]: int(sku["available"]) for sku in truth["skus"]}


def report_by_sku(report: dict[str, Any]) -> dict[str, int]:
    return {sku["sku_id"]: int(sku["available"]) for sku in report["skus"]}


async def wait_until(condition: Any, timeout: float, step: float = 0.05) -> None:
    """Poll `condition()` until true; fail the test (not hang) after `timeout` seconds."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


def cursor_value(cursor: str) -> int:
    """The position in an SQLite relay cursor (`<shop tag>.<sequence number>`), -1 if none."""
    position = cursor.rpartition(".")[2]
    return int(position) if position.isascii() and position.isdigit() else -1
