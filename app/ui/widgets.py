"""Small building blocks with one look: cards, KPI tiles, level chips, empty states."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from app.insight.types import AlertLevel

SPACING = 12
CARD_MARGIN = 16


def restyle(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


def set_level_property(widget: QWidget, level: str) -> None:
    """Set the `level` property QSS colours by, re-polishing only when it changed."""
    if widget.property("level") != level:
        widget.setProperty("level", level)
        restyle(widget)


LEVEL_TEXT = {
    AlertLevel.CRITICAL: "Critical",
    AlertLevel.WARNING: "Warning",
    AlertLevel.OK: "OK",
}


class Card(QFrame):
    """A titled panel. `body` holds content; `show_empty(text)` swaps in a friendly empty state."""

    def __init__(self, title: str, subtitle: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(CARD_MARGIN, 14, CARD_MARGIN, 14)
        outer.setSpacing(10)
        head = QHBoxLayout()
        head.setSpacing(8)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        self.title_label = QLabel(title)
        self.title_label.setObjectName("CardTitle")
        titles.addWidget(self.title_label)
        self.subtitle_label = QLabel(subtitle)
        self.subtitle_label.setObjectName("CardSubtitle")
        self.subtitle_label.setVisible(bool(subtitle))
        titles.addWidget(self.subtitle_label)
        head.addLayout(titles, 1)
        self.action_row = QHBoxLayout()
        self.action_row.setSpacing(6)
        head.addLayout(self.action_row)
        outer.addLayout(head)
        self._stack_host = QWidget()
        self._stack_host.setObjectName("CardBody")
        self._stack = QStackedLayout(self._stack_host)
        self.body = QWidget()
        self.body.setObjectName("CardBody")
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(SPACING)
        self.empty_label = QLabel()
        self.empty_label.setObjectName("EmptyState")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self._stack.addWidget(self.body)
        self._stack.addWidget(self.empty_label)
        outer.addWidget(self._stack_host, 1)

    def set_subtitle(self, text: str) -> None:
        if self.subtitle_label.text() != text:
            self.subtitle_label.setText(text)
        self.subtitle_label.setVisible(bool(text))

    def show_empty(self, text: str) -> None:
        """Replace the body by a centred explanation (no data yet, nothing to worry about...)."""
        if self.empty_label.text() != text:
            self.empty_label.setText(text)
        self._stack.setCurrentWidget(self.empty_label)

    def show_body(self) -> None:
        self._stack.setCurrentWidget(self.body)

    @property
    def is_empty(self) -> bool:
        return self._stack.currentWidget() is self.empty_label


class KpiTile(QFrame):
    """A big number with a caption and an optional hint line."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("KpiTile")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 8)
        layout.setSpacing(2)
        self.caption = QLabel(caption.upper())
        self.caption.setObjectName("KpiLabel")
        self.value = QLabel("—")
        self.value.setObjectName("KpiValue")
        self.hint = QLabel("")
        self.hint.setObjectName("KpiLabel")
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.hint)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set(self, value: str, hint: str = "", level: str = "") -> None:
        if self.value.text() != value:
            self.value.setText(value)
        if self.hint.text() != hint:
            self.hint.setText(hint)
        set_level_property(self.value, level)


class Chip(QLabel):
    """A rounded label coloured by alert level."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setObjectName("Chip")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_level(self, level: AlertLevel | str, text: str | None = None) -> None:
        key = str(level)
        label = text if text is not None else LEVEL_TEXT.get(AlertLevel(key), key.title())
        if self.text() != label:
            self.setText(label)
        set_level_property(self, key)


class ElidedLabel(QLabel):
    """A one-line label that ends in … when it does not fit, with the full text as tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        if text != self._full:
            self._full = text
            self.setToolTip(text)
            self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(
            self._full, Qt.TextElideMode.ElideRight, max(self.width(), 10)
        )
        if shown != self.text():
            self.setText(shown)


def muted(text: str = "", wrap: bool = False) -> QLabel:
    """A secondary-text label."""
    label = QLabel(text)
    label.setProperty("muted", True)
    label.setWordWrap(wrap)
    return label
