"""Before Qt starts: a machine without Qt's platform libraries gets one line naming them and
the install commands, from the app's start and from --self-test (real dlopen, real runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.ui.platform_libs import XCB_LIBS, PlatformCheck, check_platform, missing_libraries

ROOT = Path(__file__).resolve().parents[2]
MISSING_HERE = missing_libraries(XCB_LIBS)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_loader_is_asked_for_real() -> None:
    assert missing_libraries(["libviralstock-absent.so.9", "libc.so.6"]) == [
        "libviralstock-absent.so.9"
    ]


def test_the_message_names_libraries_and_both_install_commands() -> None:
    check = PlatformCheck("xcb", ("libxcb-cursor.so.0", "libxcb-icccm.so.4"), True)
    line = check.message()
    assert "\n" not in line
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4" in line
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in line
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in line


def test_headless_platforms_need_nothing() -> None:
    assert check_platform({"QT_QPA_PLATFORM": "offscreen"}) is None
    check = check_platform({"DISPLAY": ":0"})
    assert check is not None and check.platform == "xcb"
    assert list(check.missing) == MISSING_HERE


@pytest.mark.skipif(not MISSING_HERE, reason="this machine has every Qt xcb library")
def test_start_without_the_libraries_says_what_to_install(tmp_path: Path) -> None:
    done = _run("--data-dir", str(tmp_path / "data"), DISPLAY=":93")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for soname in MISSING_HERE:
        assert soname in lines[0]
        assert XCB_LIBS[soname][0] in lines[0] and XCB_LIBS[soname][1] in lines[0]
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


@pytest.mark.parametrize("display", ["", ":93"])
def test_self_test_reports_the_same_check(tmp_path: Path, display: str) -> None:
    extra = {"DISPLAY": display} if display else {}
    done = _run("--self-test", "--data-dir", str(tmp_path / "data"), **extra)
    verdict = done.stdout.strip().splitlines()[-1]
    if not MISSING_HERE:
        assert done.returncode == 0, done.stdout + done.stderr[-2000:]
        assert "window_libs=ok" in verdict
        return
    assert "window_libs=missing" in verdict
    assert any(
        "sudo apt install" in line and MISSING_HERE[0] in line for line in done.stdout.splitlines()
    )
    if display:  # a window was wanted and could not have opened: the self-test fails
        assert done.returncode == 1 and verdict.startswith("viralstock self-test: FAIL")
    else:  # no display at all: said, not failed
        assert done.returncode == 0 and verdict.startswith("viralstock self-test: OK")
