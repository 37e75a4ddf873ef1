"""What the desktop sets on its own process before its threads, window and engine exist (#15).

Two settings that keep the resident memory of a big shop down: glibc's malloc tuned for a
process that frees large numpy columns over and over (`app.sync.memory.tune_malloc`), and
PySide6's per-import source scan off (`app.ui.pyside_imports.skip_source_scan`). One home,
because the benchmarks that judge the desktop's memory must start the process the seller runs:
the live storm's did not, and measured a process with up to sixteen arenas, glibc's sliding
mmap threshold and every module's source in `linecache`.
"""

from __future__ import annotations

from app.sync.memory import tune_malloc
from app.ui.pyside_imports import skip_source_scan

__all__ = ["prepare_desktop_process"]


def prepare_desktop_process() -> None:
    """Call before any thread starts and before the window's and the engine's imports; raises
    ImportError when PySide6 cannot be imported."""
    tune_malloc()
    skip_source_scan()
