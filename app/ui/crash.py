"""Unhandled exceptions: log them (redacted) and show a non-blocking dialog instead of dying.

The dialog is opened with `open()`, never `exec()`: a nested event loop inside a qasync
coroutine breaks asyncio. Repeated errors while the dialog is up only update its counter.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from app.ui.logging_setup import redact

log = logging.getLogger("viralstock.crash")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

# The installed handler, held weakly. Python copies `threading.excepthook` into every thread it
# starts or adopts (Qt's and the executors' threads too) and keeps it there for the thread's
# life, so the hooks are these two module functions: a bound method would keep the handler, and
# through it the window, alive after the UI has shut down.
_installed: weakref.ref[CrashHandler] | None = None


def _active() -> CrashHandler | None:
    return _installed() if _installed is not None else None


def _sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    handler = _active()
    if handler is None:
        sys.__excepthook__(exc_type, exc, tb)
    else:
        handler.handle(exc_type, exc, tb)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    handler = _active()
    if handler is None:
        threading.__excepthook__(args)
    elif args.exc_value is not None:
        handler.handle(args.exc_type, args.exc_value, args.exc_traceback)


class CrashHandler(QObject):
    """Installs sys/threading/asyncio hooks; shows one dialog at a time on the main thread."""

    # Emitted from any thread; the queued connection brings it to the GUI thread.
    _report = Signal(str, str)
    shown = Signal(str)

    def __init__(
        self, log_path: Path | None, parent_widget: Callable[[], QWidget | None] | None = None
    ) -> None:
        super().__init__()
        self._log_path = log_path
        self._parent_widget = parent_widget or (lambda: None)
        self._dialog: QMessageBox | None = None
        self._count = 0
        self._previous_hook: Callable[..., Any] | None = None
        self._report.connect(self._show, Qt.ConnectionType.QueuedConnection)

    @property
    def dialog(self) -> QMessageBox | None:
        """The dialog currently shown, if any (for tests)."""
        return self._dialog

    def install(self) -> None:
        """Route sys.excepthook and threading.excepthook here."""
        global _installed
        self._previous_hook = sys.excepthook
        _installed = weakref.ref(self)
        sys.excepthook = _sys_hook
        threading.excepthook = _thread_hook

    def uninstall(self) -> None:
        """Restore the previous hooks."""
        global _installed
        if _active() is self:
            _installed = None
        sys.excepthook = self._previous_hook or sys.__excepthook__
        threading.excepthook = threading.__excepthook__

    def asyncio_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Use as `loop.set_exception_handler(handler.asyncio_handler)`."""
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.handle(type(exc), exc, exc.__traceback__)
        else:
            message = str(context.get("message", "unknown asyncio error"))
            log.error("asyncio: %s", message)
            self._report.emit("Background task failed", redact(message))

    def handle(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        """Log the exception and ask the main thread to show the dialog."""
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.critical("Unhandled exception", exc_info=(exc_type, exc, tb))
        where = ""
        frames = traceback.extract_tb(tb)
        if frames:
            last = frames[-1]
            where = f" (in {Path(last.filename).name}, line {last.lineno}, {last.name})"
        summary = redact(f"{exc_type.__name__}: {exc}")[:500] + where
        self._report.emit("ViralStock hit an unexpected error", summary)

    @Slot(str, str)
    def _show(self, title: str, summary: str) -> None:
        self._count += 1
        where = (
            f"The details are in the log file:\n{self._log_path}"
            if self._log_path
            else "Logging to a file is off."
        )
        text = (
            "Something went wrong, but ViralStock is still running and your data is safe.\n\n"
            f"{summary}"
        )
        if self._count > 1:
            text += f"\n\n({self._count} errors so far)"
        if self._dialog is None:
            box = QMessageBox(self._parent_widget())
            box.setIcon(QMessageBox.Icon.Critical)
            box.setWindowTitle("ViralStock: unexpected error")
            box.setStandardButtons(QMessageBox.StandardButton.Close)
            if self._log_path is not None:
                open_button = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
                open_button.clicked.connect(self._open_log_folder)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
            box.finished.connect(self._closed)
            self._dialog = box
            box.setText(title)
            box.setInformativeText(f"{text}\n\n{where}")
            box.open()
        else:
            self._dialog.setInformativeText(f"{text}\n\n{where}")
        self.shown.emit(summary)

    def _open_log_folder(self) -> None:
        if self._log_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._log_path.parent)))

    def _closed(self, _result: int) -> None:
        self._dialog = None
        self._count = 0
