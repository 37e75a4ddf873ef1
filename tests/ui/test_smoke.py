from __future__ import annotations

from pathlib import Path

from app.ui.main_window import MainWindow
from app.ui.screenshot import grab_screenshot
from tests.ui import synthetic


def test_dashboard_renders(window: MainWindow, tmp_path: Path) -> None:
    window.apply(synthetic.viewmodel())
    out = grab_screenshot(window, tmp_path / "dash.png")
    assert out.stat().st_size > 10_000
