"""The desktop app on one qasync loop: demo, stored shop, first-time connect, checks.

`run(args, sessions)` is what `app.main` calls for every command with a window. `sessions` is
the composition root's `app.sync.desktop_sessions.DesktopSessions`: every engine, API client,
credential store, database and the demo world are built there, so this module knows only Qt
and `app.sync`:

- `--demo`: the sandbox and relay in-process (`sessions.open_demo`), the engine authorizes
  through the relay and runs the whole real path over loopback;
- no flag: the stored shop (`sessions.stored_shops`, `sessions.open_shops`), or the connect
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
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from app.ui.platform_libs import PlatformCheck, window_check

if TYPE_CHECKING:  # imported where used: the window must not wait for these at startup
    from PySide6.QtWidgets import QMessageBox

    from app.sync.connect_service import Connected, ConnectService
    from app.sync.desktop_sessions import ConnectionPrefs, DesktopSessions, Session, StoredShops
    from app.sync.first_paint import SavedDashboard
    from app.ui.bootstrap import Ui
    from app.ui.connect_dialog import ConnectDialog
    from app.ui.controller import DashboardController
    from app.ui.main_window import MainWindow
    from app.ui.viewmodel import DashboardViewModel

SignalHandler = Callable[[int, FrameType | None], object]

__all__ = ["DesktopApp", "run"]

log = logging.getLogger(__name__)

# The longest --self-test waits for every check to hold (it passes as soon as they do).
SELF_TEST_SECONDS = 30.0
# Benchmarks set this: print when the window and the first dashboard with data are painted.
STARTUP_PROBE = "VIRALSTOCK_STARTUP_PROBE"


class DesktopApp:
    def __init__(self, ui: Ui, args: argparse.Namespace, sessions: DesktopSessions) -> None:
        self.ui = ui
        self.args = args
        self.sessions = sessions
        self.window = ui.window
        self.quit_event = asyncio.Event()
        self.session: Session | None = None
        self.controller: DashboardController | None = None
        self.dialog: ConnectDialog | None = None
        self.connect_service: ConnectService | None = None
        self.exit_code = 0
        self.verdict = ""
        self.recovery_box: QMessageBox | None = None
        # The environment before run() chose an offscreen platform for the checks.
        self.env_at_start: dict[str, str] = dict(os.environ)
        self._spawned: set[asyncio.Task[Any]] = set()
        #: The dashboard the last session saved, while the window shows it (`run` painted it
        #: before the engine was imported); the first live one replaces it.
        self.saved: SavedDashboard | None = None
        self.probed = False

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
        _show_window(self.window)
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
        if self.recovery_box is not None:
            with contextlib.suppress(RuntimeError):
                self.recovery_box.close()
            self.recovery_box = None
        if self.dialog is not None:
            with contextlib.suppress(RuntimeError):
                self.dialog.close()
        if self.connect_service is not None:
            await self.connect_service.close_catcher()
        await self.stop_session()
        await self.sessions.aclose()

    async def stop_session(self) -> None:
        if self.controller is not None:
            await self.controller.aclose()
            self.controller = None
        session, self.session = self.session, None
        if session is not None:
            await session.close()

    async def begin(self, session: Session) -> None:
        """Show `session` in the window, then start its engine (the controller listens to the
        publisher before the first change)."""
        from app.ui.controller import DashboardController

        self.session = session
        if self.saved is not None and self.saved.shop_id != session.shop_id:
            self.forget_saved(session.shop_name)
        self.controller = DashboardController(
            self.window,
            session.engine,
            session.shop_id,
            demo=session.demo,
            budget_per_minute=session.budget_per_minute,
            save_to=None if session.demo else self.sessions.data_dir,
            parent=self.window,
        )
        if self.saved is not None:
            self.controller.adapter.viewmodel.connect(self._live_shown)
        if os.environ.get(STARTUP_PROBE):
            self.controller.adapter.viewmodel.connect(self._probe_data)
        self.controller.start()
        await session.engine.start()

    def _live_shown(self, vm: DashboardViewModel) -> None:
        """The first live dashboard replaced the saved one: let the saved figures go."""
        if vm.insights and vm.header.saved_at is None:
            self.saved = None
            if self.controller is not None:
                with contextlib.suppress(RuntimeError, TypeError):
                    self.controller.adapter.viewmodel.disconnect(self._live_shown)

    def forget_saved(self, shop_name: str) -> None:
        """The saved dashboard is not this session's shop (or there is no session): off."""
        if self.saved is not None:
            self.saved = None
            self.window.show_loading(shop_name)

    def _probe_data(self, vm: DashboardViewModel) -> None:
        """Benchmark hook: the first live dashboard with products on it, painted; then quit.
        ("dashboard painted" is the first with the shop's data, saved or live.)"""
        if not vm.insights or self.quit_event.is_set():
            return
        self.window.flush_charts()
        self.window.repaint()
        at = time.time()
        if not self.probed:
            print(f"viralstock: dashboard painted at {at:.4f}", flush=True)
        print(f"viralstock: live dashboard painted at {at:.4f}", flush=True)
        self.request_quit()

    # --- the demo --------------------------------------------------------------------------

    async def start_demo(self) -> None:
        args = self.args
        self.window.set_status("Starting the simulated shop…", 0)
        session = await self.sessions.open_demo(seed=args.seed, speed=args.demo_speed)
        await self.begin(session)
        self.window.set_status(f"Demo: {session.shop_name} (simulated, {args.demo_speed:g}x speed)")

    # --- a real shop -----------------------------------------------------------------------

    def tell_recovery(self) -> None:
        """A damaged database was kept aside at open: say so in a dialog (non-modal, the app
        goes on) and in the status line; app/store/recovery.py has logged it already."""
        notice, self.sessions.recovery_notice = self.sessions.recovery_notice, None
        if not notice:
            return
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(
            QMessageBox.Icon.Warning, "ViralStock: database damaged", notice, parent=self.window
        )
        box.setObjectName("RecoveryNotice")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.recovery_box = box
        self.window.set_status(notice, 0)

    def prefs(self) -> ConnectionPrefs:
        """What this desktop remembered about the last connect."""
        from app.sync.desktop_sessions import ConnectionPrefs

        s = self.ui.settings
        return ConnectionPrefs(
            relay_url=str(s.value("connection/relay_url", "", type=str)),
            app_key=str(s.value("connection/app_key", "", type=str)),
            own_app=bool(s.value("connection/own_app", False, type=bool)),
        )

    async def start_stored(self) -> None:
        stored = await self.sessions.stored_shops()
        self.tell_recovery()
        problem = stored.keyring_problem
        if stored.shops and problem is None and await self.start_real(stored):
            return
        self.forget_saved("")
        if stored.shops and problem is not None:
            self.window.set_status(
                f"Your shop's login is kept in the system keyring, which is not available "
                f"({problem}). Connect again once a keyring is running.",
                0,
            )
        self.open_connect()

    async def start_real(self, shops: StoredShops | Connected) -> bool:
        """Start the engine for stored shops (tokens from the keyring) or for the shops of a
        connect that just succeeded (its fresh tokens)."""
        from app.sync.connect_service import Connected

        connected = shops if isinstance(shops, Connected) else None
        session = await self.sessions.open_shops(shops.shops, self.prefs(), connected)
        if session is None:
            self.window.set_status("No stored login for your shop: connect it again.", 0)
            return False
        await self.begin(session)
        return True

    # --- the connect dialog ----------------------------------------------------------------

    def open_connect(self) -> ConnectDialog:
        """Open the connect dialog (non-blocking); a success starts the engine."""
        from app.ui.connect_dialog import ConnectDialog

        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        if self.session is None:
            self.window.show_no_shop()
        service = self.sessions.connect_service(self.prefs(), self._connected)
        self.connect_service = service
        relay_url = service.settings.relay_url
        dialog = ConnectDialog(relay_url, on_connect=service.connect, parent=self.window)
        service.pasted = dialog.code.text

        def authorize(_relay: str, _own: bool, _key: str) -> None:
            async def link() -> None:
                url = await service.authorization_link()
                dialog.set_authorization_url(url, open_browser=not self.args.no_browser)
                service.watch_catcher(lambda code: self._caught(dialog, code))

            self.spawn(link())

        dialog.authorize_requested.connect(authorize)
        # Each opening builds a new dialog parented to the window: delete it once it is done,
        # or every closed dialog would live (and be collected) as long as the window does.
        dialog.finished.connect(lambda _result: self._dialog_finished(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _dialog_finished(self, dialog: ConnectDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _caught(self, dialog: ConnectDialog, code: str) -> None:
        """The browser came back to the loopback catcher: fill in the code and connect."""
        with contextlib.suppress(RuntimeError):
            dialog.code.setText(code)
            dialog.submit()

    def _connected(self, connected: Connected) -> None:
        s = self.ui.settings
        s.setValue("connection/relay_url", connected.relay_url)
        s.setValue("connection/app_key", connected.app_key)
        s.setValue("connection/own_app", connected.own_app)
        self.spawn(self._restart(connected))

    async def _restart(self, connected: Connected) -> None:
        await self.stop_session()
        await self.start_real(connected)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
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
        """Save the window as PNG. No `processEvents()`: inside a coroutine it would run other
        tasks re-entrantly; here the loop itself lets Qt lay out and paint (the short sleep),
        then `grab()` renders synchronously."""
        width, height = self.args.size
        self.window.resize(width, height)
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
        """Pass as soon as every check holds (about two seconds of demo), fail with what still
        does not after `seconds`: a fixed wait made every run take the worst case."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        window = window_check(self.env_at_start)  # the loader's answer does not change
        while True:
            problems, facts = await self._self_check(window)
            if not problems or loop.time() >= deadline:
                break
            await asyncio.sleep(0.25)
        if window is not None and not window.ok:
            # The one line app/main.py prints before refusing to start, here too.
            print(window.message(), flush=True)
        self._report_self_test(problems, facts)

    async def _self_check(
        self, window: PlatformCheck | None
    ) -> tuple[list[str], dict[str, object]]:
        from app.sync.state import LinkState

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
            if snap.metrics.webhooks_received <= 0:
                problems.append("no webhook arrived through the relay")
        if not await self.sessions.sandbox_reachable():
            problems.append("sandbox unreachable")
        self.window.flush_charts()
        points = _chart_points(self.window)
        facts["chart_points"] = points
        if points <= 0:
            problems.append("charts are empty")
        if window is not None:
            facts["window_libs"] = "ok" if window.ok else "missing"
            # Without a display this run could not have opened a window anyway: said (in the
            # report), not failed.
            if not window.ok and window.has_display:
                problems.append(f"Qt {window.platform} libraries missing")
        return problems, facts

    def _report_self_test(self, problems: list[str], facts: dict[str, object]) -> None:
        detail = ", ".join(f"{k}={v}" for k, v in facts.items())
        if problems:
            self.exit_code = 1
            self.verdict = f"viralstock self-test: FAIL ({'; '.join(problems)}; {detail})"
        else:
            self.verdict = f"viralstock self-test: OK ({detail})"
        print(self.verdict, flush=True)


def _chart_points(window: MainWindow) -> int:
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


def _show_window(window: Any) -> None:
    """Show the window (once); the startup probe paints it and prints when."""
    if window.isVisible():
        return
    window.show()
    if os.environ.get(STARTUP_PROBE):
        window.repaint()
        print(f"viralstock: window painted at {time.time():.4f}", flush=True)


def _paint_saved(window: MainWindow, data_dir: Path) -> SavedDashboard | None:
    """Paint the dashboard the last session saved in `data_dir` (None: there is none to show,
    and the window waits for the live figures as before). Before the engine and the store
    are imported: this is the seller's first look at the shop (#15)."""
    from app.sync.first_paint import load_saved_dashboard
    from app.ui.mapping import saved_viewmodel

    saved = load_saved_dashboard(data_dir)
    if saved is None:
        return None
    try:
        window.apply(saved_viewmodel(saved))
        # Drawing the charts reads the saved arrays too: inside, so a file that decoded but
        # holds arrays the charts cannot draw does not stop the start either.
        window.flush_charts()
        window.repaint()
    except Exception:  # read from disk: whatever it holds must not stop the start
        log.exception("the saved dashboard could not be shown; waiting for the live figures")
        window.show_loading(saved.shop_name)
        return None
    if os.environ.get(STARTUP_PROBE):
        print(f"viralstock: dashboard painted at {time.time():.4f}", flush=True)
    return saved


@dataclass(frozen=True)
class SessionsLater:
    """The data folder now, the sessions once the window is on screen: building them imports
    the sync engine, the store and the API client, which the first paint does not need (#15)."""

    data_dir: Path
    build: Callable[[], DesktopSessions]


def run(args: argparse.Namespace, sessions: DesktopSessions | SessionsLater) -> int:
    """Run the desktop app for `args` (see the module docstring); returns the exit status."""
    env_at_start = dict(os.environ)
    if args.self_test or args.screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    from app.ui.bootstrap import start_ui

    checks = args.self_test or args.screenshot is not None
    # Until the event loop runs, a termination signal unwinds the stack (the demo folder's
    # clean-up included) instead of killing the process where it stands.
    originals = _on_termination(_exit_now)
    try:
        ui = start_ui([sys.argv[0]], sessions.data_dir, theme=args.theme, file_logging=not checks)
        if ui is None:
            print("viralstock: already running; brought the open window to the front")
            return 0
        _quiet_console(args.log_level)
        saved = None
        if not (args.screenshot is not None or args.self_test):
            _show_window(ui.window)
            if not args.demo:
                saved = _paint_saved(ui.window, sessions.data_dir)
            # Let the platform map and paint the window now, before the engine's imports hold
            # the thread (no coroutine runs yet: the loop starts below).
            ui.app.processEvents()
        built = sessions.build() if isinstance(sessions, SessionsLater) else sessions
        loop = qasync.QEventLoop(ui.app)
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(ui.crash.asyncio_handler)
        desktop = DesktopApp(ui, args, built)
        desktop.env_at_start = env_at_start
        desktop.saved = saved
        desktop.probed = saved is not None and bool(os.environ.get(STARTUP_PROBE))
        del saved  # the app lets go of it once the live figures are on screen
        # From here a termination signal quits like the tray's Quit (`_on_termination`).
        _on_termination(lambda *_: loop.call_soon_threadsafe(desktop.request_quit))
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
            _on_termination(_exit_now)  # the loop is gone: unwind again during shutdown
            ui.shutdown()
            asyncio.set_event_loop(None)
    finally:
        for signum, handler in originals.items():
            signal.signal(signum, handler)


def _exit_now(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _on_termination(handler: SignalHandler) -> dict[signal.Signals, Any]:
    """Handle SIGTERM (logout, `kill`, systemd) and SIGINT with `handler`; return the handlers
    they had. Quitting like the tray's Quit stops the engine and removes the instance socket and
    a demo's temporary folder: without it Python died on the spot and left both in /tmp. The
    handler runs between Qt events (the GUI-thread timers give the interpreter a turn)."""
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
