"""Qt offscreen, an isolated QSettings store, and fixtures for the window and its parts."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.ui.application import create_app
from app.ui.main_window import MainWindow
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
def window(qtbot, theme: ThemeManager, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(theme, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win
