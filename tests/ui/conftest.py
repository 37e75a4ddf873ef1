"""Qt offscreen, an isolated QSettings store, and fixtures for the window and its parts."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow
from app.ui.theme import ThemeManager
from tests.ui import synthetic


@pytest.fixture
def window(qtbot, theme: ThemeManager, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(theme, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def loaded(window: MainWindow) -> MainWindow:
    """The window showing the synthetic shop, charts flushed and painted."""
    window.apply(synthetic.viewmodel())
    window.flush_charts()
    QApplication.processEvents()
    return window
