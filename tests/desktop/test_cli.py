"""The command line as the packaged app and the README use it (real subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_screenshot_of_the_demo(tmp_path: Path) -> None:
    target = tmp_path / "shot.png"
    done = _run(
        "--demo",
        "--screenshot",
        str(target),
        "--run-for",
        "8",
        "--theme",
        "light",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    image = QImage(str(target))
    assert not image.isNull()
    assert image.width() >= 1024 and image.height() >= 680
    # Light theme: the top-left (header background) is light, and the picture is not blank.
    assert image.pixelColor(5, 5).lightness() > 180
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 41)
    }
    assert len(colours) > 20


def test_self_test_passes(tmp_path: Path) -> None:
    done = _run("--self-test", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("viralstock self-test: OK")
    assert "orders=" in line and "chart_points=" in line


def test_headless_demo_still_works(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = _run(
        "--demo",
        "--headless",
        "--run-for",
        "3",
        "--report",
        str(report),
        "--demo-speed",
        "600",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"skus"' in report.read_text()
