"""Runs the sandbox: uvicorn in a background thread with its own event loop on 127.0.0.1.

`run_sandbox(config)` is a synchronous context manager, so sync tests, asyncio tests and the Qt
(qasync) demo all start and stop it the same way. Next to the HTTP server the thread's loop runs
the ticker that moves the simulation along with the clock, and the webhook dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
import uvloop

from app.sandbox.app import SandboxApp
from app.sandbox.auth import AuthStore
from app.sandbox.clock import SimClock
from app.sandbox.config import SandboxConfig
from app.sandbox.counters import Counters
from app.sandbox.faults import Faults
from app.sandbox.webhooks import WebhookDispatcher
from app.sandbox.world import World

__all__ = ["RunningSandbox", "run_sandbox"]

_START_TIMEOUT = 10.0
_log = logging.getLogger(__name__)


class RunningSandbox:
    """A live sandbox: its URL, credentials, clock, faults, truth and controls."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.app_key = config.app_key
        self.app_secret = config.app_secret
        self.service_id = config.service_id
        self.clock = SimClock(config.epoch, config.speed)
        self.counters = Counters()
        self.faults = Faults(config.seed)
        self.webhooks = WebhookDispatcher(
            config.webhook_url,
            config.app_key,
            config.app_secret,
            self.clock,
            self.faults,
            self.counters,
        )
        self.world = World(config, notify=self.webhooks.submit)
        first_shop = next(iter(self.world.shops.values()))
        self.auth = AuthStore(config, list(self.world.shops), f"{first_shop.name} seller")
        self.webhooks.seller_open_id = self.auth.open_id
        self.app = SandboxApp(
            config=config,
            clock=self.clock,
            world=self.world,
            auth=self.auth,
            faults=self.faults,
            counters=self.counters,
            truth=self.truth,
            stats=self.stats,
            revoke=self.revoke,
        )
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        bound_host, bound_port = self._sock.getsockname()[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._failure: BaseException | None = None

    # --- public controls -----------------------------------------------------------------------

    @property
    def shops(self) -> list[dict[str, str]]:
        """The simulated shops as `{"id", "name", "cipher"}` (for tests of other parts)."""
        return [
            {"id": shop.id, "name": shop.name, "cipher": shop.cipher}
            for shop in self.world.shops.values()
        ]

    @property
    def webhook_url(self) -> str | None:
        return self.webhooks.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        """Point webhooks somewhere else (or nowhere) while running."""
        self.webhooks.url = url

    def truth(self) -> dict[str, Any]:
        """The ground truth now (and written to `truth_file` when one is configured)."""
        with self.world.lock:
            self.world.advance_to(self.clock.now())
            data = self.world.truth(self.counters.snapshot())
        if self.config.truth_file is not None:
            self._write(Path(self.config.truth_file), data)
        return data

    def set_stock(self, sku_id: str, warehouse_id: str, quantity: int) -> None:
        """The seller changes stock outside ViralStock (in Seller Center): TikTok's level moves
        now, and its inventory webhooks go out as for any other change."""
        with self.world.lock:
            self.world.advance_to(self.clock.now())
            self.world.set_stock(sku_id, warehouse_id, quantity)

    def write_truth(self, path: Path | str | None = None) -> dict[str, Any]:
        data = self.truth()
        if path is not None:
            self._write(Path(path), data)
        return data

    @staticmethod
    def _write(path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        temporary.replace(path)

    def stats(self) -> dict[str, Any]:
        counters: dict[str, Any] = dict(self.counters.snapshot())
        with self.world.lock:
            counters["orders"] = len(self.world.orders)
            counters["simulated_time"] = int(self.world.now)
        counters["clock"] = self.clock.now()
        counters["speed"] = self.clock.speed
        counters["webhooks_pending_retries"] = self.webhooks.pending_retries()
        return counters

    def revoke(self, shop_id: str) -> bool:
        """The seller removes the app from a shop: its tokens stop working, webhook 6 goes out."""
        if not self.auth.revoke(shop_id):
            return False
        with self.world.lock:
            self.webhooks.submit(
                shop_id, 6, {"message": "The seller has deauthorized the app for this shop."}
            )
        return True

    def authorize_code(self, state: str = "x", shop_ids: list[str] | None = None) -> str:
        """What the `/open/authorize` redirect hands out: a fresh single-use auth code."""
        del state  # the redirect echoes it; a code does not depend on it
        return self.auth.issue_code(self.clock.now(), shop_ids)

    def wait_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every queued webhook has had its first attempt (for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.webhooks.idle():
                return True
            time.sleep(0.01)
        return False

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._thread_main, name="sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._failure is not None:
                raise RuntimeError("the sandbox failed to start") from self._failure
            if self._server is not None and self._server.started:
                return
            time.sleep(0.005)
        self.stop()
        raise RuntimeError("the sandbox did not start in time")

    def stop(self) -> None:
        self._stopping = True
        self.webhooks.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        with contextlib.suppress(OSError):
            self._sock.close()

    def _thread_main(self) -> None:
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._failure = exc
        finally:
            loop.close()

    async def _serve(self) -> None:
        config = uvicorn.Config(
            self.app,
            http="httptools",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        server = uvicorn.Server(config)
        self._server = server
        ticker = asyncio.create_task(self._tick())
        dispatcher = asyncio.create_task(self.webhooks.run())
        try:
            await server.serve(sockets=[self._sock])
        finally:
            self._stopping = True
            self.webhooks.stop()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(dispatcher, timeout=2.0)

    async def _tick(self) -> None:
        """Moves the world along with the clock, so webhooks flow without any request."""
        interval = self.config.ticker_interval
        world = self.world
        while not self._stopping:
            try:
                with world.lock:
                    world.advance_to(self.clock.now())
            except Exception:  # a bug in one event must not freeze the whole simulation
                _log.exception("sandbox simulation step failed")
            await asyncio.sleep(interval)


@contextlib.contextmanager
def run_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningSandbox]:
    """Start a sandbox, yield it, stop it; writes the truth file (if any) on the way out."""
    sandbox = RunningSandbox(config or SandboxConfig(), host=host, port=port)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        if sandbox.config.truth_file is not None:
            sandbox.truth()
