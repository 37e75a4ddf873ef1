"""Desktop soak (issue #19): the live demo for ten minutes while a script does what a seller does.

    make soak                               # 600 s, offscreen
    .venv/bin/python -m tests.soak --seconds 120

The real desktop composition runs (`start_ui`, `DesktopApp`, the demo's sandbox and relay on
loopback, the sync engine) on one qasync loop, and a driver cycles through: hide and show the
window, switch themes, change pages, open an SKU, open and close the connect dialog, and stop
and restart the sync engine. Every object those steps create and drop is garbage the GUI-thread
collector must free while the database, relay and executor threads run.

A watchdog fails the run if the GUI thread stalls for more than 2 s: a heartbeat timer on the
GUI thread re-arms `faulthandler.dump_traceback_later`, which lives in C and needs no GIL, so even
a deadlock like issue #19's (a thread blocked in a Qt mutex, holding the GIL) dumps every
thread's stack and ends the process with status 1. RSS is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import itertools
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.benchmarks.procmem import rss_mb

STALL_LIMIT_S = 2.0
HEARTBEAT_MS = 100
STEP_S = 1.5


def live_qt_objects() -> Counter[str]:
    """Python wrappers of live QObjects by type: growth here means objects nobody deletes."""
    import shiboken6
    from PySide6.QtCore import QObject

    wrappers = shiboken6.Shiboken.getAllValidWrappers()
    return Counter(type(w).__name__ for w in wrappers if isinstance(w, QObject))


class Watchdog:
    """GUI-thread heartbeat; the C-level faulthandler timer fires if it stops for too long."""

    def __init__(self, limit_s: float) -> None:
        from PySide6.QtCore import QTimer

        self.limit_s = limit_s
        self.worst_gap_s = 0.0
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._beat)

    def start(self) -> None:
        self._last = time.monotonic()
        faulthandler.dump_traceback_later(self.limit_s, exit=True)
        self._timer.start()

    def _beat(self) -> None:
        now = time.monotonic()
        self.worst_gap_s = max(self.worst_gap_s, now - self._last)
        self._last = now
        faulthandler.dump_traceback_later(self.limit_s, exit=True)

    def stop(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        self._timer.stop()
        self._timer.deleteLater()


async def _wait_for_data(desktop: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not desktop.window.vm.insights:
        if time.monotonic() > deadline:
            raise TimeoutError("the demo shop never reached the dashboard")
        await asyncio.sleep(0.2)


async def _drive(desktop: Any, ui: Any, seconds: float, counts: dict[str, int]) -> None:
    """Cycle through a seller's actions until `seconds` have passed."""
    from app.ui.main_window import PAGES
    from app.ui.theme import ThemeMode

    window = ui.window
    themes = itertools.cycle((ThemeMode.LIGHT, ThemeMode.DARK))
    pages = itertools.cycle((*PAGES, "Dashboard"))

    async def hide_and_show() -> None:
        window.hide()
        await asyncio.sleep(0.3)
        window.show()

    async def switch_theme() -> None:
        ui.theme.set_mode(next(themes), persist=False)

    async def change_page() -> None:
        window.show_page(next(pages))

    async def open_sku() -> None:
        if window.vm.insights:
            window.open_sku(window.vm.insights[0].sku_id)

    async def connect_dialog() -> None:
        dialog = desktop.open_connect()
        await asyncio.sleep(0.4)
        dialog.close()

    async def restart_engine() -> None:
        await desktop.stop_session()
        await desktop.start_demo()
        await _wait_for_data(desktop, 60.0)

    steps = [hide_and_show, switch_theme, change_page, open_sku, connect_dialog, change_page]
    started = time.monotonic()
    for round_no in itertools.count():
        for step in (*steps, restart_engine) if round_no % 4 == 3 else steps:
            if time.monotonic() - started >= seconds:
                return
            await step()
            counts[step.__name__] = counts.get(step.__name__, 0) + 1
            await asyncio.sleep(STEP_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--demo-speed", type=float, default=600.0)
    options = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import qasync

    from app.main import build_parser, desktop_sessions
    from app.ui.bootstrap import start_ui
    from app.ui.desktop import DesktopApp

    with tempfile.TemporaryDirectory(prefix="viralstock-soak-") as folder:
        data_dir = Path(folder) / "data"
        args = build_parser().parse_args(
            ["--demo", "--data-dir", str(data_dir), "--demo-speed", str(options.demo_speed)]
        )
        from PySide6.QtCore import QSettings

        settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
        ui = start_ui([sys.argv[0]], data_dir, file_logging=False, settings=settings)
        if ui is None:
            print("soak: another ViralStock holds the data folder", file=sys.stderr)
            return 1
        loop = qasync.QEventLoop(ui.app)
        asyncio.set_event_loop(loop)
        desktop = DesktopApp(ui, args, desktop_sessions(data_dir))
        watchdog = Watchdog(STALL_LIMIT_S)
        counts: dict[str, int] = {}
        report: dict[str, float] = {}
        qt_objects: list[Counter[str]] = []

        async def soak() -> None:
            desktop.window.show()
            await desktop.start_demo()
            await _wait_for_data(desktop, 60.0)
            report["rss_start"] = rss_mb()
            qt_objects.append(live_qt_objects())
            watchdog.start()
            try:
                await _drive(desktop, ui, options.seconds, counts)
            finally:
                watchdog.stop()
                report["rss_end"] = rss_mb()
                qt_objects.append(live_qt_objects())
                await desktop.close()

        try:
            with loop:
                loop.run_until_complete(soak())
        finally:
            ui.shutdown()
            asyncio.set_event_loop(None)
    actions = ", ".join(f"{name} x{n}" for name, n in sorted(counts.items()))
    print(f"soak: {options.seconds:.0f} s of the live demo; actions: {actions}")
    print(
        f"soak: worst GUI-thread gap {watchdog.worst_gap_s * 1000:.0f} ms "
        f"(limit {STALL_LIMIT_S * 1000:.0f} ms)"
    )
    print(f"soak: RSS start {report['rss_start']:.0f} MB, end {report['rss_end']:.0f} MB")
    start, end = qt_objects
    grew = ", ".join(f"{kind} +{n}" for kind, n in (end - start).most_common(8))
    print(
        f"soak: live Qt objects start {start.total()}, end {end.total()}"
        + (f" (grew: {grew})" if grew else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
