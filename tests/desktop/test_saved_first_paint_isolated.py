"""The saved-dashboard sessions (`test_saved_first_paint.py`) in a process of their own, with
the suite's Qt leak check on: alone they pass it; after some other desktop tests, in some
random orders, their window was reported alive after the test (see that module's ISOLATED)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.desktop.conftest import ROOT
from tests.desktop.test_saved_first_paint import ISOLATED

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_saved_dashboard_sessions_pass_in_their_own_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/desktop/test_saved_first_paint.py"],
        cwd=ROOT,
        env={**os.environ, ISOLATED: "1", "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout
