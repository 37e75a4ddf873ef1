"""Fixtures every suite can use. The Qt ones live in `tests/qt.py` (one definition for the UI
and desktop suites); registering them here is the only way pytest shares fixtures across
sibling folders."""

pytest_plugins = ["tests.qt"]
