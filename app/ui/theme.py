"""Dark and light themes for widgets and plots, switchable live and remembered.

One palette (resources/themes/palette.json) feeds both the QSS template and every pyqtgraph
plot, so a theme switch recolours everything at once. Until the user picks a theme the manager
follows the system colour scheme; offscreen Qt reports it as Unknown, which means dark here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import cache
from string import Template

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.ui.paths import icon_path, theme_path

SETTINGS_KEY = "ui/theme"


class ThemeMode(StrEnum):
    """What the user chose: follow the system, or a fixed theme."""

    SYSTEM = "system"
    DARK = "dark"
    LIGHT = "light"


@dataclass(frozen=True, slots=True)
class Palette:
    """Colour tokens shared by QSS and plots (hex strings)."""

    name: str
    window: str
    surface: str
    surface_alt: str
    border: str
    text: str
    text_muted: str
    accent: str
    accent_text: str
    viral: str
    critical: str
    warning: str
    ok: str
    unknown: str
    grid: str
    selection: str
    band: str

    def level_color(self, level: str) -> str:
        """Colour of an alert level key ('critical', 'warning', 'ok', anything else)."""
        return {"critical": self.critical, "warning": self.warning, "ok": self.ok}.get(
            level, self.unknown
        )

    def qcolor(self, token: str, alpha: int = 255) -> QColor:
        """A QColor of a token, optionally translucent."""
        color = QColor(getattr(self, token))
        color.setAlpha(alpha)
        return color


@cache
def load_palettes() -> dict[str, Palette]:
    """Both palettes from palette.json (read once)."""
    raw = json.loads(theme_path("palette.json").read_text(encoding="utf-8"))
    names = {f.name for f in fields(Palette)} - {"name"}
    result: dict[str, Palette] = {}
    for key, tokens in raw.items():
        missing = names - tokens.keys()
        if missing:
            raise ValueError(f"palette {key!r} lacks {sorted(missing)}")
        result[key] = Palette(name=key, **{n: tokens[n] for n in names})
    return result


@cache
def _template() -> Template:
    return Template(theme_path("base.qss").read_text(encoding="utf-8"))


def stylesheet(palette: Palette) -> str:
    """The application stylesheet for a palette."""
    tokens = {f.name: getattr(palette, f.name) for f in fields(Palette)}
    tokens["icons"] = icon_path("check").parent.as_posix()
    return _template().substitute(tokens)


def qt_palette(palette: Palette) -> QPalette:
    """A QPalette matching the tokens, for the parts QSS does not reach (dialogs, menus)."""
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: palette.window,
        QPalette.ColorRole.WindowText: palette.text,
        QPalette.ColorRole.Base: palette.surface,
        QPalette.ColorRole.AlternateBase: palette.surface_alt,
        QPalette.ColorRole.Text: palette.text,
        QPalette.ColorRole.Button: palette.surface_alt,
        QPalette.ColorRole.ButtonText: palette.text,
        QPalette.ColorRole.Highlight: palette.selection,
        QPalette.ColorRole.HighlightedText: palette.text,
        QPalette.ColorRole.ToolTipBase: palette.surface_alt,
        QPalette.ColorRole.ToolTipText: palette.text,
        QPalette.ColorRole.PlaceholderText: palette.text_muted,
        QPalette.ColorRole.Link: palette.accent,
    }
    for role, value in roles.items():
        pal.setColor(role, QColor(value))
    return pal


class ThemeManager(QObject):
    """Owns the current theme; emits `changed(Palette)` so cards and plots recolour live."""

    changed = Signal(object)

    def __init__(self, app: QApplication, settings: QSettings | None = None) -> None:
        super().__init__(app)
        self._app = app
        self._settings = settings if settings is not None else QSettings()
        stored = str(self._settings.value(SETTINGS_KEY, ThemeMode.SYSTEM.value))
        self._mode = (
            ThemeMode(stored) if stored in ThemeMode._value2member_map_ else ThemeMode.SYSTEM
        )
        self._palette = self._resolve()
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme)

    def close(self) -> None:
        """Stop following the system scheme and delete this manager (on the GUI thread)."""
        self._app.styleHints().colorSchemeChanged.disconnect(self._on_system_scheme)
        self.deleteLater()

    @property
    def mode(self) -> ThemeMode:
        """The user's choice (SYSTEM until they pick one)."""
        return self._mode

    @property
    def palette(self) -> Palette:
        """The palette in effect."""
        return self._palette

    def apply(self) -> None:
        """Apply the current palette to the application and tell every listener."""
        self._app.setPalette(qt_palette(self._palette))
        self._app.setStyleSheet(stylesheet(self._palette))
        self.changed.emit(self._palette)

    def set_mode(self, mode: ThemeMode | str, persist: bool = True) -> None:
        """Switch theme live and remember the choice in QSettings (`persist=False` for a
        one-off override such as `--theme` on the command line)."""
        self._mode = ThemeMode(mode)
        if persist:
            self._settings.setValue(SETTINGS_KEY, self._mode.value)
            self._settings.sync()
        new = self._resolve()
        changed = new != self._palette
        self._palette = new
        if changed or not self._app.styleSheet():
            self.apply()

    def _resolve(self) -> Palette:
        palettes = load_palettes()
        if self._mode is ThemeMode.LIGHT:
            return palettes["light"]
        if self._mode is ThemeMode.DARK:
            return palettes["dark"]
        scheme = self._app.styleHints().colorScheme()
        return palettes["light"] if scheme == Qt.ColorScheme.Light else palettes["dark"]

    def _on_system_scheme(self, _scheme: Qt.ColorScheme) -> None:
        if self._mode is ThemeMode.SYSTEM:
            new = self._resolve()
            if new != self._palette:
                self._palette = new
                self.apply()
