"""Everything the composition root needs to bring the UI up, in one call.

`start_ui` creates the QApplication, refuses a second instance on the same data directory (the
running one is told to come to the front), sets up the redacted rotating log, installs the crash
dialog, applies the remembered theme and builds the main window. The caller wires data
(`window.apply(viewmodel)`) and the window's outgoing signals, then runs the qasync loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.ui.application import create_app
from app.ui.single_instance import SingleInstance

if TYPE_CHECKING:
    from app.ui.crash import CrashHandler
    from app.ui.main_window import MainWindow
    from app.ui.theme import ThemeManager


@dataclass
class Ui:
    """The live UI parts (keep a reference for the app's lifetime)."""

    app: QApplication
    settings: QSettings
    theme: ThemeManager
    window: MainWindow
    crash: CrashHandler
    instance: SingleInstance
    log_path: Path | None
    log_handler: logging.Handler

    def shutdown(self) -> None:
        """Undo hooks, release the instance lock and delete the window and the theme (call after
        the loop stops): whatever Qt objects remain then die here, on the GUI thread."""
        logging.getLogger().removeHandler(self.log_handler)
        self.crash.uninstall()
        self.instance.release()
        self.window.deleteLater()
        self.theme.close()


def start_ui(
    argv: Sequence[str],
    data_dir: Path,
    *,
    log_dir: Path | None = None,
    file_logging: bool = True,
    theme: str | None = None,
    settings: QSettings | None = None,
) -> Ui | None:
    """Bring the UI up; None means another instance owns `data_dir` and was focused instead
    (exit with status 0). `theme` ("dark"/"light") overrides the remembered choice for this run
    only (for `--screenshot`)."""
    app = create_app(argv)
    instance = SingleInstance(data_dir)
    if not instance.acquire():
        return None
    # The window, charts, theme and logging are imported only once this is the one instance:
    # a second launch answers "already running" in a fraction of the time.
    from app.ui.crash import CrashHandler
    from app.ui.logging_setup import setup_logging
    from app.ui.main_window import MainWindow
    from app.ui.theme import ThemeManager, ThemeMode

    log_path = setup_logging(log_dir) if file_logging else None
    window_ref: list[MainWindow] = []
    crash = CrashHandler(log_path, lambda: window_ref[0] if window_ref else None)
    crash.install()
    store = settings if settings is not None else QSettings()
    manager = ThemeManager(app, store)
    if theme is not None:
        manager.set_mode(ThemeMode(theme), persist=False)
    window = MainWindow(manager, store)
    # The style sheet once the window's widgets exist: set before, every widget added to the
    # window was restyled as it went in, ~0.08 s of the first paint (#15; the same pixels).
    manager.apply()
    window_ref.append(window)
    instance.activated.connect(window.bring_to_front)
    window.quit_requested.connect(app.quit)
    handler = window.attach_log_handler()
    return Ui(app, store, manager, window, crash, instance, log_path, handler)
