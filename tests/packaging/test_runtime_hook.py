"""pyqtgraph draws a chart when PySide6.QtOpenGL* are the runtime hook's stand-ins.

The bundle excludes the 8.5 MB QtOpenGL binding; this runs the hook in a fresh interpreter with
the real modules hidden (as in the bundle), imports pyqtgraph, plots and renders offscreen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "packaging" / "rthooks" / "pyi_rth_viralstock_no_qtopengl.py"

SCRIPT = f"""
import importlib.abc, sys

class HideRealOpenGL(importlib.abc.MetaPathFinder):
    # The bundle does not contain them: make the real modules unimportable, like there.
    def find_spec(self, name, path=None, target=None):
        if name in ("PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets"):
            for finder in sys.meta_path:
                if type(finder).__name__ == "_NoOpenGLFinder":
                    return finder.find_spec(name, path, target)
            raise ImportError(name)
        return None

exec(compile(open({str(HOOK)!r}).read(), "hook", "exec"))
sys.meta_path.insert(0, HideRealOpenGL())

import numpy as np
import pyqtgraph as pg
from PySide6 import QtOpenGLWidgets, QtWidgets
from pyqtgraph.Qt import OpenGLHelpers

assert not hasattr(QtOpenGLWidgets, "__file__") or "abi3" not in str(QtOpenGLWidgets.__file__)
app = QtWidgets.QApplication([])
plot = pg.PlotWidget()
plot.resize(320, 200)
plot.plot(np.arange(50.0), np.sin(np.arange(50.0)))
plot.show()
app.processEvents()
image = plot.grab().toImage()
assert image.width() == 320, image.width()
assert len({{image.pixel(x, 100) for x in range(0, 320, 4)}}) > 1  # something was drawn
try:
    OpenGLHelpers.GraphicsViewGLWidget()
except ImportError as exc:
    assert "not shipped" in str(exc)
else:
    raise AssertionError("the GL widget stand-in must refuse to be built")
try:
    from PySide6 import QtOpenGL
    QtOpenGL.QOpenGLBuffer
except ImportError as exc:
    assert "not shipped" in str(exc)
else:
    raise AssertionError("QtOpenGL stand-in attributes must raise")
print("stand-ins OK")
"""


def test_pyqtgraph_plots_with_the_opengl_stand_ins() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stand-ins OK" in result.stdout
