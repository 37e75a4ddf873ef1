"""PySide6's source scan of every later import is off in the app (app/ui/pyside_imports.py):
its cost was ~36 MB of module sources held in `linecache` for the whole session (#15)."""

from __future__ import annotations

from tests.fresh_process import python_output

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
    return int(python_output(PROBE, mode, env={"QT_QPA_PLATFORM": "offscreen"}))


def test_modules_imported_after_pyside_keep_no_source_in_memory() -> None:
    assert _kept_sources("plain") == 2  # what PySide6 does by itself (the check can fail)
    assert _kept_sources("skip") == 0
