"""Layout checks for the main window, reusable by any UI test (issues 16 and 20).

`layout_problems(window)` lists what a user would see as broken on the dashboard: two panels
whose rectangles intersect, a widget that sticks out of its panel (clipped or drawn over the
next one), a panel squeezed below what its contents need, or a label elided to nothing ("…").

`probe(theme, sizes)` builds the real window on the synthetic shop, resizes it through `sizes`
and returns the problems per size. Run as `python -m tests.ui.layout THEME WxH ...` it prints
them as JSON; the scale factor comes from QT_SCALE_FACTOR, so a test runs one subprocess per
factor (Qt reads the variable once, at start).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QLabel, QWidget

__all__ = ["layout_problems", "probe"]

# Logical pixels a child may stick out of its panel before it counts (anti-aliased borders).
_SLACK = 1


def _inside_scroll_area(widget: QWidget, stop: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None and parent is not stop:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def _rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    top_left = widget.mapTo(ancestor, widget.rect().topLeft())
    return QRect(top_left, widget.size())


def _name(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, QLabel) else ""
    label = f" {text[:30]!r}" if text else ""
    return f"{type(widget).__name__}{label}"


def layout_problems(window: Any) -> list[str]:
    """What is overlapping, clipped or elided to nothing on `window`'s dashboard now."""
    dashboard = window.dashboard
    panels = {
        "Sync performance": dashboard.performance,
        "Alerts": dashboard.alerts,
        "Inventory": dashboard.inventory,
        "Order intelligence": dashboard.orders,
    }
    problems: list[str] = []
    rects = {name: _rect_in(panel, dashboard) for name, panel in panels.items()}
    names = list(rects)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if rects[a].intersects(rects[b]):
                problems.append(f"{a} {rects[a].getRect()} intersects {b} {rects[b].getRect()}")
    visible = dashboard.rect()
    for name, panel in panels.items():
        if not visible.contains(rects[name]):
            problems.append(
                f"{name} {rects[name].getRect()} leaves the dashboard {visible.getRect()}"
            )
        need = panel.minimumSizeHint().height()
        if panel.height() + _SLACK < need:
            problems.append(f"{name} is {panel.height()} px high but its contents need {need}")
        area = panel.rect().adjusted(-_SLACK, -_SLACK, _SLACK, _SLACK)
        for child in panel.findChildren(QWidget):
            if not child.isVisibleTo(panel) or _inside_scroll_area(child, panel):
                continue
            if child.width() <= 0 or child.height() <= 0:
                continue
            rect = _rect_in(child, panel)
            if not area.contains(rect):
                problems.append(
                    f"{name}: {_name(child)} {rect.getRect()} sticks out of {panel.rect().getRect()}"
                )
        for label in panel.findChildren(QLabel):
            if not label.isVisibleTo(panel) or _inside_scroll_area(label, panel):
                continue
            full = getattr(label, "full_text", None)
            wanted = full() if callable(full) else label.text()
            if wanted and label.text().strip() in ("", "…", "..."):
                problems.append(f"{name}: label {wanted[:30]!r} elided to nothing")
    return problems


def probe(theme: str, sizes: list[tuple[int, int]]) -> dict[str, list[str]]:
    """The dashboard's problems at each window size, on the synthetic shop, in `theme`."""
    from PySide6.QtCore import QSettings

    from app.ui.application import create_app
    from app.ui.main_window import MainWindow
    from app.ui.theme import ThemeManager, ThemeMode
    from tests.ui import synthetic

    app = create_app([sys.argv[0]])
    settings = QSettings(
        os.path.join(os.environ.get("TMPDIR", "/tmp"), "vs-layout.ini"), QSettings.Format.IniFormat
    )
    manager = ThemeManager(app, settings)
    manager.set_mode(ThemeMode(theme), persist=False)
    manager.apply()
    window = MainWindow(manager, settings)
    window.show()
    window.apply(synthetic.viewmodel())
    results: dict[str, list[str]] = {}
    for width, height in sizes:
        window.resize(width, height)
        for _ in range(5):
            QApplication.processEvents()
        actual = f"{window.width()}x{window.height()}"
        results[f"{width}x{height} (window {actual}, dpr {window.devicePixelRatio()})"] = (
            layout_problems(window)
        )
    window.close()
    window.deleteLater()
    manager.close()
    QApplication.processEvents()
    return results


if __name__ == "__main__":
    wanted = [tuple(int(v) for v in arg.split("x")) for arg in sys.argv[2:]]
    print(json.dumps(probe(sys.argv[1], wanted)))  # type: ignore[arg-type]
