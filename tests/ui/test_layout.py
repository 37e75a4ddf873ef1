"""The dashboard at common window sizes, scale factors and both themes: no two panels'
rectangles intersect, nothing sticks out of its panel, no panel is squeezed below what its
contents need, and no label is elided to nothing (tests/ui/layout.py). One subprocess per
scale factor and theme, because Qt reads QT_SCALE_FACTOR once, at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Screens from 1280x720 to 2560x1440; the window fills the screen's logical pixels (physical
# divided by the scale factor), never below its minimum size of 1024x680.
SCREENS = ((1280, 720), (1366, 768), (1440, 960), (1920, 1080), (2560, 1440))
SCALES = ("1", "1.25", "1.5", "2")


def _sizes(scale: float) -> list[str]:
    sizes = [f"{max(1024, round(w / scale))}x{max(680, round(h / scale))}" for w, h in SCREENS]
    # 1440x960: where the inventory card used to run into order intelligence.
    return list(dict.fromkeys([*sizes, "1440x960"]))


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("scale", SCALES)
def test_dashboard_never_overlaps_or_clips(scale: str, theme: str, tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.layout", theme, *_sizes(float(scale))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == len(_sizes(float(scale)))
    assert all(f"dpr {float(scale)}" in size for size in results)  # the factor took effect
    broken = {size: problems for size, problems in results.items() if problems}
    assert broken == {}
