"""Runtime hook: stand-ins for PySide6.QtOpenGL / QtOpenGLWidgets, which the bundle does not ship.

pyqtgraph imports both modules at start-up (`pyqtgraph.Qt`, `pyqtgraph.Qt.OpenGLHelpers`) even
though it only uses them when OpenGL rendering is switched on (`useOpenGL`, off by default and
never enabled by ViralStock). The real QtOpenGL binding is 8.5 MB, so the spec excludes it and
this hook answers those imports with small modules:

- `QtOpenGLWidgets.QOpenGLWidget` is a plain QWidget subclass that refuses to be constructed, so
  pyqtgraph can subclass it at import time and `isinstance(widget, QOpenGLWidget)` stays False;
- any `QtOpenGL.<name>` lookup raises ImportError naming the reason, so a future GL code path
  fails loudly instead of drawing nothing.

The finder is appended to `sys.meta_path`, so if a build ever ships the real modules they win.
"""

import importlib.abc
import importlib.machinery
import sys
import types

_STUBS = ("PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets")
_REASON = "OpenGL is not shipped in the ViralStock bundle (see packaging/viralstock.spec)"


class _NoOpenGLLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__.endswith("QtOpenGLWidgets"):
            from PySide6 import QtWidgets

            class QOpenGLWidget(QtWidgets.QWidget):
                """Placeholder: pyqtgraph subclasses it; constructing one is an error."""

                def __init__(self, *args: object, **kwargs: object) -> None:
                    raise ImportError(_REASON)

            module.QOpenGLWidget = QOpenGLWidget  # type: ignore[attr-defined]
        else:

            def __getattr__(name: str) -> object:
                if name.startswith("__"):
                    raise AttributeError(name)
                raise ImportError(f"PySide6.QtOpenGL.{name}: {_REASON}")

            module.__getattr__ = __getattr__  # type: ignore[method-assign]


class _NoOpenGLFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in _STUBS:
            return importlib.machinery.ModuleSpec(fullname, _NoOpenGLLoader())
        return None


sys.meta_path.append(_NoOpenGLFinder())
