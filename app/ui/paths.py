"""Where the UI finds its resources (icons, themes) in a checkout and in a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The `resources/` folder: next to the bundle's executable data, or at the repository root."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        candidate = Path(bundle) / "resources"
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[2] / "resources"


def icon_path(name: str) -> Path:
    """Path of an SVG icon in `resources/icons` (`name` without the extension)."""
    return resources_dir() / "icons" / f"{name}.svg"


def theme_path(name: str) -> Path:
    """Path of a file in `resources/themes`."""
    return resources_dir() / "themes" / name
