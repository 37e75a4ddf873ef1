"""PySide6's source scan of every later import is off in the app (app/ui/pyside_imports.py):
its cost was ~36 MB of module sources held in `linecache` for the whole session (#15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import linecache, sys
import PySide6.QtCore
if sys.argv[1] == "skip":
    from app.ui.process import prepare_desktop_process  # what the app's start calls
    prepare_desktop_process()
import colorsys, fractions  # not imported by anything above
print(sum(m.__file__ in linecache.cache for m in (colorsys, fractions)))
"""


def _kept_sources(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_modules_imported_after_pyside_keep_no_source_in_memory() -> None:
    assert _kept_sources("plain") == 2  # what PySide6 does by itself (the check can fail)
    assert _kept_sources("skip") == 0
