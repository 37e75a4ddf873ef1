"""Fixtures every suite can use. The Qt ones live in `tests/qt.py` (one definition for the UI
and desktop suites); registering them here is the only way pytest shares fixtures across
sibling folders."""

from app.main import prepare_process

pytest_plugins = ["tests.qt"]


def pytest_configure() -> None:
    """The test process is a composition root like `app.main`: log redaction on, and the
    sniffio probe cached, before any client exists."""
    prepare_process()
