"""Create the QApplication the way a tray app needs it (names for QSettings, icon, quit policy)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication

from app.ui.gui_gc import GuiThreadCollector
from app.ui.paths import icon_path

APP_NAME = "ViralStock"
ORG_NAME = "ViralStock"
ORG_DOMAIN = "viralstock.app"
DESKTOP_FILE = "viralstock"


def app_icon() -> QIcon:
    """The application icon (SVG, scales to every size)."""
    return QIcon(str(icon_path("viralstock")))


def configure_pyqtgraph() -> None:
    """Fast-path plotting defaults: no antialiasing, no OpenGL, row-major images. pyqtgraph is
    imported here, not at module level: a second launch only needs the QApplication to knock
    on the running instance, and should say so without paying for the plotting stack."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, useOpenGL=False, imageAxisOrder="row-major")


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """Return the configured QApplication (creating it once).

    The app keeps running in the tray when its window closes, so `quitOnLastWindowClosed` is off:
    the composition root quits explicitly (tray menu "Quit", or aboutToQuit on session end).
    From here on Python's cyclic collector runs only on the GUI thread (`app.ui.gui_gc`).
    """
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv or []))
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setOrganizationDomain(ORG_DOMAIN)
    app.setDesktopFileName(DESKTOP_FILE)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    configure_pyqtgraph()
    if app.findChild(GuiThreadCollector) is None:
        GuiThreadCollector(app)
    return app
