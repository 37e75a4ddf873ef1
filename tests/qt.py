"""Qt fixtures shared by the UI and desktop suites: offscreen Qt configured as in production,
QSettings in a temporary folder, a theme, and a qasync loop bridged onto the running Qt app.

The suites' conftest modules import these, so both get the same definitions."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.ui.application import create_app
from app.ui.theme import ThemeManager, ThemeMode


@pytest.fixture(scope="session")
def qapp_cls() -> type[QApplication]:
    return QApplication


@pytest.fixture(scope="session")
def qapp(qapp_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> QApplication:
    """The app configured as in production, with QSettings in a temporary folder."""
    settings_dir = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    return create_app(qapp_args)


@pytest.fixture
def settings(tmp_path: Path, qapp: QApplication) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def theme(qapp: QApplication, settings: QSettings) -> Iterator[ThemeManager]:
    manager = ThemeManager(qapp, settings)
    manager.set_mode(ThemeMode.DARK)  # offscreen reports Unknown: pick explicitly
    yield manager
    qapp.styleHints().colorSchemeChanged.disconnect(manager._on_system_scheme)
    manager.deleteLater()


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop over the running Qt app (pytest-qt has no asyncio hook)."""
    event_loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    for task in asyncio.all_tasks(event_loop):
        task.cancel()
    # qasync's default executor runs QThreads: stop them before Qt goes away.
    executor = getattr(event_loop, "_QEventLoop__default_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)
    # `already_running=True` registered this loop as the thread's running loop; unregister it,
    # or every later asyncio test in the session finds "another loop is running".
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
