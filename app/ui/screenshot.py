"""Render a window to a PNG (offscreen works; used by `--screenshot` and the README)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget


def grab_screenshot(window: QWidget, path: Path | str) -> Path:
    """Flush pending chart updates, let Qt lay out and paint, and save `window` as PNG."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    flush = getattr(window, "flush_charts", None)
    if callable(flush):
        flush()
    QApplication.processEvents()
    if not window.grab().save(str(target)):
        raise OSError(f"could not write screenshot to {target}")
    return target
