"""Desktop wiring tests: Qt offscreen, one qasync loop over pytest-qt's app, the real sandbox and
relay in-process (`app.main.demo_world`), real SQLite files, and an in-memory keyring backend.

pytest-qt has no asyncio hook, so coroutines run as tasks on a qasync loop created with
`already_running=True`; tests wait on them with `qtbot.waitUntil` (which spins Qt's loop, and
with it asyncio's) through the `drive` helper.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
import qasync
from keyring.backend import KeyringBackend
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.main import demo_world
from app.ui.application import create_app
from app.ui.theme import ThemeManager, ThemeMode

# Simulated seconds per real second: the viral surge within a few real seconds.
FAST = 600.0


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture(scope="session")
def qapp_cls() -> type[QApplication]:
    return QApplication


@pytest.fixture(scope="session")
def qapp(qapp_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> QApplication:
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return create_app(qapp_args)


@pytest.fixture
def settings(tmp_path: Path, qapp: QApplication) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def theme(qapp: QApplication, settings: QSettings) -> Iterator[ThemeManager]:
    manager = ThemeManager(qapp, settings)
    manager.set_mode(ThemeMode.DARK)
    yield manager
    qapp.styleHints().colorSchemeChanged.disconnect(manager._on_system_scheme)
    manager.deleteLater()


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop over the running Qt app."""
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


def drive(qtbot: Any, coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    """Run a coroutine on the qasync loop until it finishes (Qt events keep flowing)."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Any]:
    """The sandbox (viral scenario, fast clock) and the relay on loopback."""
    with demo_world(seed=3, speed=FAST, relay_dir=tmp_path) as w:
        yield w
