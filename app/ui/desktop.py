"""The desktop app on one qasync loop: demo, stored shop, first-time connect, checks.

`run(args, demo_world)` is what `app.main` calls for every command with a window:

- `--demo`: the sandbox and relay in-process (`demo_world` from the composition root), the
  engine authorizes through the relay and runs the whole real path over loopback;
- no flag: the stored shop (shops from the store, tokens from the keyring), or the connect
  flow the first time (`ConnectDialog` opened with `open()`, never `exec()`);
- `--screenshot PATH --run-for S [--theme]`: the demo for S seconds, then a PNG, exit 0;
- `--self-test`: offscreen demo for a few seconds, then database, sandbox, relay and chart
  checks, a one-line verdict, exit 0 or 1.

Lifecycle (DESKTOP-NOTES): `setQuitOnLastWindowClosed(False)`; the window's and tray's quit
and `aboutToQuit` set one asyncio event; the main coroutine then stops the controller, the
engine and the HTTP clients *inside* the loop, and only then does the loop stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DesktopApp", "run"]

log = logging.getLogger(__name__)

SELF_TEST_SECONDS = 6.0
# Benchmarks set this: print when the window and the first dashboard with data are painted.
STARTUP_PROBE = "VIRALSTOCK_STARTUP_PROBE"


@dataclass
class Session:
    """One running engine and what must be closed with it."""

    engine: Any
    closers: list[Callable[[], Any]]


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


class DesktopApp:
    def __init__(self, ui: Any, args: argparse.Namespace, demo_world: Any, data_dir: Path) -> None:
        self.ui = ui
        self.args = args
        self.demo_world = demo_world
        self.data_dir = data_dir
        self.window = ui.window
        self.quit_event = asyncio.Event()
        self.session: Session | None = None
        self.controller: Any = None
        self.world: Any = None
        self.dialog: Any = None
        self.connect_service: Any = None
        self._stack = contextlib.ExitStack()
        self.exit_code = 0
        self.verdict = ""
        self._spawned: set[asyncio.Task[Any]] = set()

    # --- quitting --------------------------------------------------------------------------

    def request_quit(self, *_: object) -> None:
        self.quit_event.set()

    def _wire_quit(self) -> None:
        app, window = self.ui.app, self.window
        with contextlib.suppress(RuntimeError, TypeError):
            window.quit_requested.disconnect(app.quit)
        window.quit_requested.connect(self.request_quit)
        app.aboutToQuit.connect(self.request_quit)

    # --- main ------------------------------------------------------------------------------

    async def main(self) -> int:
        self._wire_quit()
        self.window.connect_requested.connect(self.open_connect)
        args = self.args
        offscreen_check = args.screenshot is not None or args.self_test
        self.window.show()
        probe = os.environ.get(STARTUP_PROBE)
        if probe:
            self.window.repaint()
            print(f"viralstock: window painted at {time.time():.4f}", flush=True)
        try:
            if args.demo or offscreen_check:
                await self.start_demo()
            else:
                await self.start_stored()
            if args.screenshot is not None:
                await self.screenshot(args.screenshot, args.run_for or 8.0)
            elif args.self_test:
                await self.self_test(args.run_for or SELF_TEST_SECONDS)
            else:
                if args.run_for is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.quit_event.wait(), args.run_for)
                else:
                    await self.quit_event.wait()
        finally:
            await self.close()
        return self.exit_code

    async def close(self) -> None:
        if self.dialog is not None:
            with contextlib.suppress(RuntimeError):
                self.dialog.close()
        if self.connect_service is not None:
            await self.connect_service.close_catcher()
        await self.stop_session()
        if self._stack is not None:
            stack, self._stack = self._stack, contextlib.ExitStack()
            # Sandbox and relay stop their own threads: keep the Qt thread responsive.
            await asyncio.get_running_loop().run_in_executor(None, stack.close)

    async def stop_session(self) -> None:
        if self.controller is not None:
            await self.controller.aclose()
            self.controller = None
        session, self.session = self.session, None
        if session is None:
            return
        with contextlib.suppress(Exception):
            await session.engine.stop()
        for close in reversed(session.closers):
            with contextlib.suppress(Exception):
                result = close()
                if asyncio.iscoroutine(result):
                    await result

    def attach(self, engine: Any, shop_id: str, *, demo: bool, budget: int) -> None:
        from app.ui.controller import DashboardController

        self.controller = DashboardController(
            self.window, engine, shop_id, demo=demo, budget_per_minute=budget, parent=self.window
        )
        if os.environ.get(STARTUP_PROBE):
            self.controller.adapter.viewmodel.connect(self._probe_data)
        self.controller.start()

    def _probe_data(self, vm: Any) -> None:
        """Benchmark hook: the first dashboard with products on it, painted; then quit."""
        if not vm.insights or self.quit_event.is_set():
            return
        self.window.flush_charts()
        self.window.repaint()
        print(f"viralstock: dashboard painted at {time.time():.4f}", flush=True)
        self.request_quit()

    # --- the demo --------------------------------------------------------------------------

    async def start_demo(self) -> None:
        from app.sync.headless import open_demo_engine

        args = self.args
        loop = asyncio.get_running_loop()
        self.window.set_status("Starting the simulated shop…", 0)

        def enter() -> Any:
            return self._stack.enter_context(self.demo_world(seed=args.seed, speed=args.demo_speed))

        self.world = await loop.run_in_executor(None, enter)
        engine, connection = await open_demo_engine(self.world, self.data_dir)
        self.session = Session(engine, [connection.aclose, engine.db.close])
        shop = connection.shops[0]
        self.attach(engine, shop.id, demo=True, budget=int(self.world.qps * 60))
        await engine.start()
        self.window.set_status(f"Demo: {shop.name} (simulated, {args.demo_speed:g}x speed)")

    # --- a real shop -----------------------------------------------------------------------

    def connect_settings(self) -> Any:
        from app.ui.connect_flow import ConnectSettings

        stored = self.ui.settings.value("connection/relay_url", "", type=str)
        return ConnectSettings(
            relay_url=stored or _env("VIRALSTOCK_RELAY_URL", "https://relay.viralstock.app"),
            app_key=_env("VIRALSTOCK_APP_KEY"),
            service_id=_env("VIRALSTOCK_SERVICE_ID"),
            authorize_url=_env(
                "VIRALSTOCK_TIKTOK_AUTHORIZE", "https://services.tiktokshop.com/open/authorize"
            ),
            auth_base_url=_env("VIRALSTOCK_TIKTOK_AUTH", "https://auth.tiktok-shops.com"),
            api_base_url=_env("VIRALSTOCK_TIKTOK_API", "https://open-api.tiktokglobalshop.com"),
        )

    async def start_stored(self) -> None:
        from app.store.catalog import list_shops
        from app.store.db import open_store
        from app.tiktok.credentials import keyring_problem

        store = await asyncio.get_running_loop().run_in_executor(None, open_store, self.data_dir)
        self._stack.callback(store.close)
        self.store = store
        with store.read() as session:
            shops = [s for s in list_shops(session) if s.deauthorized_at is None]
        problem = keyring_problem()
        if shops and problem is None and await self.start_real(shops):
            return
        if shops and problem is not None:
            self.window.set_status(
                f"Your shop's login is kept in the system keyring, which is not available "
                f"({problem}). Connect again once a keyring is running.",
                0,
            )
        self.open_connect()

    async def start_real(self, infos: list[Any], connected: Any = None) -> bool:
        """Start the engine for stored shops (tokens from the keyring, or fresh ones)."""
        from app.store.db import open_store
        from app.sync.clock import WallClock
        from app.sync.connect import vendor_client
        from app.sync.database import Database
        from app.sync.engine import RelayLink, SyncEngine
        from app.tiktok.credentials import (
            APP_ACCOUNT,
            SUBSCRIBER_TOKEN,
            KeyringCredentialStore,
            load_tokens,
        )
        from app.tiktok.models import Shop

        settings = self.connect_settings()
        app_key = self.ui.settings.value("connection/app_key", "", type=str) or settings.app_key
        own_app = self.ui.settings.value("connection/own_app", False, type=bool)
        credentials = KeyringCredentialStore(backend=self._keyring_backend())
        shops = [
            i
            if isinstance(i, Shop)
            else Shop(id=i.id, name=i.name, region=i.region, cipher=i.cipher)
            for i in infos
        ]
        tokens = connected.tokens if connected else load_tokens(credentials, app_key, shops[0].id)
        subscriber: str = (
            connected.subscriber_token
            if connected
            else credentials.get(app_key, APP_ACCOUNT, SUBSCRIBER_TOKEN)
        ) or ""
        if tokens is None or (not own_app and not subscriber):
            self.window.set_status("No stored login for your shop: connect it again.", 0)
            return False
        clock = WallClock()
        if own_app:
            client, closers = self._own_app_client(credentials, app_key, tokens, shops, settings)
            relay = None
        else:
            connection = vendor_client(
                relay_url=settings.relay_url,
                api_base_url=settings.api_base_url,
                app_key=app_key,
                subscriber_token=subscriber,
                tokens=tokens,
                shops=shops,
                credentials=credentials,
                now=clock.now,
            )
            client, closers = connection.client, [connection.aclose]
            stream = settings.relay_url.rstrip("/").replace("http", "ws", 1) + "/v1/stream"
            relay = RelayLink(stream, subscriber)
        db = Database(open_store(self.data_dir))
        engine = SyncEngine(db=db, api=client, shops=shops, clock=clock, relay=relay)
        self.session = Session(engine, [*closers, db.close])
        self.attach(engine, shops[0].id, demo=False, budget=1000)
        await engine.start()
        return True

    def _own_app_client(
        self, credentials: Any, app_key: str, tokens: Any, shops: list[Any], settings: Any
    ) -> tuple[Any, list[Callable[[], Any]]]:
        import httpx

        from app.tiktok.client import ClientSettings, TikTokShopClient
        from app.tiktok.credentials import load_app_secret
        from app.tiktok.oauth import DirectTokenExchanger, TokenManager
        from app.tiktok.signer import LocalSigner

        secret = load_app_secret(credentials, app_key) or ""
        http = httpx.AsyncClient(timeout=15.0, trust_env=False)
        exchanger = DirectTokenExchanger(
            app_key, secret, auth_base_url=settings.auth_base_url, http=http
        )
        manager = TokenManager(
            app_key, exchanger, credentials, shop_ids=[s.id for s in shops], tokens=tokens
        )
        client = TikTokShopClient(
            LocalSigner(app_key, secret),
            manager,
            ClientSettings(
                open_api_base_url=settings.api_base_url, auth_base_url=settings.auth_base_url
            ),
            http=http,
        )
        return client, [client.aclose, http.aclose]

    def _keyring_backend(self) -> Any:
        return None  # the process-wide keyring (tests install theirs with keyring.set_keyring)

    # --- the connect dialog ----------------------------------------------------------------

    def open_connect(self) -> Any:
        """Open the connect dialog (non-blocking); a success starts the engine."""
        from app.ui.connect_dialog import ConnectDialog
        from app.ui.connect_flow import ConnectService

        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        settings = self.connect_settings()
        if not hasattr(self, "store"):
            from app.store.db import open_store

            self.store = open_store(self.data_dir)
            self._stack.callback(self.store.close)
        service = ConnectService(
            settings,
            self.store,
            now=time.time,
            keyring_backend=self._keyring_backend(),
            on_connected=self._connected,
        )
        self.connect_service = service
        dialog = ConnectDialog(settings.relay_url, on_connect=service.connect, parent=self.window)
        service.pasted = dialog.code.text

        def authorize(_relay: str, _own: bool, _key: str) -> None:
            async def link() -> None:
                url = await service.authorization_link()
                dialog.set_authorization_url(url, open_browser=not self.args.no_browser)
                service.watch_catcher(lambda code: self._caught(dialog, code))

            self.spawn(link())

        dialog.authorize_requested.connect(authorize)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _caught(self, dialog: Any, code: str) -> None:
        """The browser came back to the loopback catcher: fill in the code and connect."""
        with contextlib.suppress(RuntimeError):
            dialog.code.setText(code)
            dialog.submit()

    def _connected(self, connected: Any) -> None:
        s = self.ui.settings
        s.setValue("connection/relay_url", connected.relay_url)
        s.setValue("connection/app_key", connected.app_key)
        s.setValue("connection/own_app", connected.own_app)
        self.spawn(self._restart(connected))

    async def _restart(self, connected: Any) -> None:
        await self.stop_session()
        await self.start_real(connected.shops, connected)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)
        return task

    # --- checks ----------------------------------------------------------------------------

    async def settle(self, seconds: float) -> None:
        """Run the demo for `seconds`, then make sure the last snapshot is on screen."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.quit_event.wait(), seconds)
        if self.controller is not None:
            await self.controller.adapter.refresh_now()
        self.window.flush_charts()
        await asyncio.sleep(0.05)

    async def screenshot(self, path: Path, seconds: float) -> None:
        """Save the window as PNG. Not `grab_screenshot`: its `processEvents()` inside a
        coroutine would run other tasks re-entrantly; here the loop itself lets Qt lay out
        and paint (the short sleep), then `grab()` renders synchronously."""
        self.window.resize(1440, 960)
        await self.settle(seconds)
        self.window.flush_charts()
        await asyncio.sleep(0.2)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(path)):
            self.exit_code = 1
            print(f"viralstock: could not write {path}", file=sys.stderr, flush=True)
            return
        print(f"viralstock: screenshot written to {path}", flush=True)

    async def self_test(self, seconds: float) -> None:
        from app.sync.state import LinkState

        await self.settle(seconds)
        problems: list[str] = []
        engine = self.session.engine if self.session else None
        facts: dict[str, object] = {}
        if engine is None:
            problems.append("no engine")
        else:
            shop_id = next(iter(engine.shops))
            totals = await engine.order_totals(shop_id)
            facts["orders"] = totals.count
            if totals.count <= 0:
                problems.append("database holds no orders")
            snap = engine.snapshot(shop_id)
            facts["skus"] = snap.sku_count
            if snap.relay.state is not LinkState.CONNECTED:
                problems.append(f"relay {snap.relay.state.value}")
            if snap.api.state not in (LinkState.CONNECTED, LinkState.EXPIRING):
                problems.append(f"API {snap.api.state.value}")
            facts["webhooks"] = snap.metrics.webhooks_received
        sandbox = getattr(self.world, "sandbox", None)
        if sandbox is None or not await self._reachable(sandbox.base_url):
            problems.append("sandbox unreachable")
        points = _chart_points(self.window)
        facts["chart_points"] = points
        if points <= 0:
            problems.append("charts are empty")
        detail = ", ".join(f"{k}={v}" for k, v in facts.items())
        if problems:
            self.exit_code = 1
            self.verdict = f"viralstock self-test: FAIL ({'; '.join(problems)}; {detail})"
        else:
            self.verdict = f"viralstock self-test: OK ({detail})"
        print(self.verdict, flush=True)

    @staticmethod
    async def _reachable(base_url: str) -> bool:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
                response = await http.get(base_url.rstrip("/") + "/open/authorize")
        except httpx.HTTPError:
            return False
        return response.status_code < 500


def _chart_points(window: Any) -> int:
    """How many points the stock-flow and orders charts hold."""
    total = 0
    for item in (window.dashboard.inventory.flow.history, window.dashboard.orders.chart.revenue):
        x, _y = item.getData()
        total += 0 if x is None else len(x)
    return total


def _quiet_console(level_name: str) -> None:
    """The log file and the Sync page take INFO; the terminal keeps the level asked for."""
    level = getattr(logging, str(level_name).upper(), logging.WARNING)
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(level)


def _data_dir(args: argparse.Namespace, stack: contextlib.ExitStack) -> Path:
    if args.data_dir is not None:
        path: Path = args.data_dir
    elif args.demo or args.screenshot is not None or args.self_test:
        path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="viralstock-demo-")))
    else:
        from app.store.db import default_data_dir

        path = default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(args: argparse.Namespace, demo_world: Any) -> int:
    """Run the desktop app for `args` (see the module docstring); returns the exit status."""
    if args.self_test or args.screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    from app.ui.bootstrap import start_ui

    with contextlib.ExitStack() as stack:
        data_dir = _data_dir(args, stack)
        checks = args.self_test or args.screenshot is not None
        ui = start_ui([sys.argv[0]], data_dir, theme=args.theme, file_logging=not checks)
        if ui is None:
            print("viralstock: already running; brought the open window to the front")
            return 0
        _quiet_console(args.log_level)
        loop = qasync.QEventLoop(ui.app)
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(ui.crash.asyncio_handler)
        desktop = DesktopApp(ui, args, demo_world, data_dir)
        try:
            with loop:
                try:
                    return int(loop.run_until_complete(desktop.main()))
                except RuntimeError as exc:
                    if "stopped before" not in str(exc):
                        raise
                    # The session ended (aboutToQuit): finish the clean-up on a fresh run.
                    loop.run_until_complete(desktop.close())
                    return desktop.exit_code
        finally:
            ui.shutdown()
            asyncio.set_event_loop(None)
