"""The command line as the packaged app and the README use it (real subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tests.desktop.conftest import ROOT, run_app


def test_screenshot_of_the_demo(tmp_path: Path) -> None:
    target = tmp_path / "shot.png"
    done = run_app(
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
    done = run_app("--self-test", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("viralstock self-test: OK")
    assert "orders=" in line and "chart_points=" in line


def test_headless_demo_still_works(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = run_app(
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


def _wait_for(predicate: object, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_sigterm_quits_cleanly_and_leaves_nothing_in_tmp(tmp_path: Path) -> None:
    """After SIGTERM, stale `viralstock-*` sockets and demo folders piled up in /tmp. Now the
    signal quits like the tray's Quit: exit 0, the instance socket and the demo folder gone;
    and while it ran, a second launch was told "already running"."""
    import signal
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(tmp)}
    first = subprocess.Popen(
        [sys.executable, "-m", "app", "--demo", "--run-for", "120"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def started() -> bool:
            names = [p.name for p in tmp.iterdir()]
            return any(n.startswith("viralstock-demo-") for n in names) and any(
                n.startswith("viralstock-") and not n.startswith("viralstock-demo-") for n in names
            )

        assert _wait_for(started, 60), list(tmp.iterdir())
        time.sleep(3)  # the window is up and the engine syncing
        first.send_signal(signal.SIGTERM)
        _out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # 0 once the loop runs (quit like the tray's Quit), 143 if the signal came during start-up:
    # either way it unwound, not died (-15), and left nothing behind.
    assert first.returncode in (0, 143), err[-2000:]
    assert list(tmp.iterdir()) == [], list(tmp.iterdir())


def test_second_launch_on_the_same_data_says_already_running(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(tmp)}
    data = tmp_path / "data"
    command = [sys.executable, "-m", "app", "--demo", "--data-dir", str(data), "--run-for"]
    first = subprocess.Popen(
        [*command, "120"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        # listening once its instance socket exists
        assert _wait_for(lambda: any(p.name.startswith("viralstock-") for p in tmp.iterdir()), 60)
        second = subprocess.run(
            [*command, "5"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 0
        assert "already running" in second.stdout
        assert first.poll() is None  # the first one keeps running
    finally:
        first.send_signal(15)
        first.communicate(timeout=60)
