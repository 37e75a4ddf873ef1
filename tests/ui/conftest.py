"""Qt offscreen, an isolated QSettings store, and fixtures for the window and its parts."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


import pytest
from PySide6.QtCore import QSettings

from app.ui.main_window import MainWindow
from app.ui.theme import ThemeManager


@pytest.fixture
def window(qtbot, theme: ThemeManager, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(theme, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win
