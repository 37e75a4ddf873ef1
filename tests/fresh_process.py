"""Run a few lines of Python in a fresh interpreter on the project's code: for what only a new
process shows (what its start sets up, what it holds after it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_output(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """What `code` printed, run with `args` as `sys.argv[1:]`; fails the test with its stderr
    when it did not exit cleanly."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
