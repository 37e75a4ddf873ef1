"""PySide6 reads the source of every module imported after it; ViralStock tells it not to (#15).

On import, PySide6 replaces `builtins.__import__`, and after each import of a pure-Python
module it asks `_mod_uses_pyside(module)`: `inspect.getsource(module)` searched for "PySide6",
to support the opt-in `from __feature__ import snake_case` syntax. Every module's source then
sits in `linecache` for the life of the process: ~36 MB here (numpy, pyqtgraph, SQLAlchemy,
pydantic and ours), and ~0.1 s of CPU before the window and the engine are up.

ViralStock never uses `__feature__` (modules that do are still handled: their
`from __feature__ import ...` registers them without this check). The answer "does not use
PySide" is also what the packaged app gets for every module, since the bundle ships bytecode
without source, so no module depends on the scan.
"""

from __future__ import annotations

import sys
from types import ModuleType

__all__ = ["skip_source_scan"]


def _uses_no_features(_module: ModuleType) -> bool:
    return False


def skip_source_scan() -> bool:
    """Import PySide6 and turn its source scan off; False when this PySide6 has none."""
    import PySide6.QtCore  # noqa: F401 - installs PySide6's import hook

    feature = sys.modules.get("PySide6.support.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    feature._mod_uses_pyside = _uses_no_features  # type: ignore[attr-defined]
    return True
