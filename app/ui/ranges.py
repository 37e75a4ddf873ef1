"""The time-range selector of the stock-flow and orders charts (#15).

A year of history does not fit a chart a seller can read: "Auto" keeps each chart's own choice
(the stock chart looks as far back as it looks ahead; the orders chart shows the last two
days), and 24 h, 7 d, 30 d and 365 d show exactly that much of the past up to now. The charts
draw a long range from pre-aggregated hours with pyqtgraph's clip-to-view and peak
downsampling (`plots.make_plot`), so a year costs about what a day does. The stock chart holds
the last 14 days of each SKU's stock: beyond them its range says where the history starts
(`set_note`) rather than draw an empty stretch as if the shelf had no past.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

__all__ = ["RANGES", "RangeSelector"]

HOUR = 3600.0
DAY = 24 * HOUR

#: (label, seconds of the past shown; None = the chart's own choice).
RANGES: tuple[tuple[str, float | None], ...] = (
    ("Auto", None),
    ("24 h", DAY),
    ("7 d", 7 * DAY),
    ("30 d", 30 * DAY),
    ("365 d", 365 * DAY),
)


class RangeSelector(QWidget):
    """A row of exclusive buttons; `changed(seconds or None)` when the seller picks one."""

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RangeSelector")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        # What the chosen range cannot show (the stock chart holds a fortnight, #15).
        self.note = QLabel("", self)
        self.note.setProperty("muted", True)
        self.note.setVisible(False)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for label, seconds in RANGES:
            button = QToolButton(self)
            button.setText(label)
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolTip(
                "Each chart's own view" if seconds is None else f"The last {label} up to now"
            )
            button.clicked.connect(lambda _checked=False, s=seconds: self.changed.emit(s))
            self._group.addButton(button)
            layout.addWidget(button)
            self.buttons[label] = button
        self.buttons["Auto"].setChecked(True)

    def set_note(self, text: str) -> None:
        """Say what the chosen range does not show (empty: nothing to say)."""
        if self.note.text() != text:
            self.note.setText(text)
            self.note.setToolTip(text)
        self.note.setVisible(bool(text))

    def select(self, label: str) -> None:
        """Pick a range as a click would (tests, remembered choices)."""
        self.buttons[label].click()

    @property
    def seconds(self) -> float | None:
        for label, seconds in RANGES:
            if self.buttons[label].isChecked():
                return seconds
        return None
