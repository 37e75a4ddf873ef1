"""A seller's hand on a chart, as Qt events: wheel notches, a drag, a double-click, each
followed by the paint a screen would do between them (pyqtgraph maps a drag through the view's
last painted transform, and drops moves faster than 100 a second)."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

__all__ = ["centre", "double_click", "drag", "move_to", "press", "release", "wheel"]


def _centre(plot: object) -> QPointF:
    view = plot.getPlotItem().getViewBox()  # type: ignore[attr-defined]
    scene_centre = view.mapToScene(view.boundingRect().center())
    return QPointF(plot.mapFromScene(scene_centre))  # type: ignore[attr-defined]


def wheel(plot: object, steps: int) -> None:
    """`steps` notches of a mouse wheel over the middle of the plot (positive: zoom in)."""
    at = _centre(plot)
    viewport = plot.viewport()  # type: ignore[attr-defined]
    event = QWheelEvent(
        at,
        QPointF(viewport.mapToGlobal(at.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)
    QApplication.processEvents()  # the paint between two notches, as on a screen


def _mouse(plot: object, kind: QEvent.Type, at: QPointF, buttons: Qt.MouseButton) -> None:
    viewport = plot.viewport()  # type: ignore[attr-defined]
    event = QMouseEvent(
        kind,
        at,
        QPointF(viewport.mapToGlobal(at.toPoint())),
        Qt.MouseButton.LeftButton,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)
    QApplication.processEvents()


def centre(plot: object) -> QPointF:
    """The middle of the plot's data area, in its viewport's pixels."""
    return _centre(plot)


def press(plot: object, at: QPointF) -> None:
    _mouse(plot, QEvent.Type.MouseButtonPress, at, Qt.MouseButton.LeftButton)


def move_to(plot: object, at: QPointF) -> None:
    """Move the pointer with the left button held (a drag's step)."""
    _mouse(plot, QEvent.Type.MouseMove, at, Qt.MouseButton.LeftButton)


def release(plot: object, at: QPointF) -> None:
    _mouse(plot, QEvent.Type.MouseButtonRelease, at, Qt.MouseButton.NoButton)


def drag(plot: object, dx: float, steps: int = 8) -> None:
    """Press the left button in the middle of the plot and move it `dx` pixels sideways."""
    start = _centre(plot)
    press(plot, start)
    for k in range(1, steps + 1):
        time.sleep(0.012)  # a hand's pace: pyqtgraph drops moves faster than 100 a second
        move_to(plot, start + QPointF(dx * k / steps, 0))
    release(plot, start + QPointF(dx, 0))


def double_click(plot: object) -> None:
    at = _centre(plot)
    left = Qt.MouseButton.LeftButton
    _mouse(plot, QEvent.Type.MouseButtonPress, at, left)
    _mouse(plot, QEvent.Type.MouseButtonRelease, at, Qt.MouseButton.NoButton)
    _mouse(plot, QEvent.Type.MouseButtonDblClick, at, left)
    _mouse(plot, QEvent.Type.MouseButtonRelease, at, Qt.MouseButton.NoButton)
