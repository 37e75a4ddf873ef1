"""In-window alert banner: carries tray notices when there is no system tray.

It floats over the window (the window places it) rather than taking a row in a layout, so its
arrival never moves a button the seller is about to click."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui.notifications import Notice
from app.ui.widgets import set_level_property


class Banner(QFrame):
    """A dismissible strip under the header; "View" opens the SKU the notice is about."""

    open_sku = Signal(str)
    visibility_changed = Signal(bool)
    # Emitted when the text changes, so the window can resize the floating banner to fit.
    content_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        layout.setSpacing(12)
        texts = QVBoxLayout()
        texts.setSpacing(1)
        self.title = QLabel()
        self.title.setObjectName("AlertTitle")
        self.message = QLabel()
        self.message.setWordWrap(True)
        texts.addWidget(self.title)
        texts.addWidget(self.message)
        layout.addLayout(texts, 1)
        self.view_button = QPushButton("View")
        self.view_button.setProperty("primary", True)
        self.view_button.clicked.connect(self._view)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.hide)
        layout.addWidget(self.view_button)
        layout.addWidget(self.dismiss_button)
        self.notice: Notice | None = None
        self.hide()

    def show_notice(self, notice: Notice) -> None:
        """Show (or replace) the current notice."""
        self.notice = notice
        self.title.setText(notice.title)
        self.message.setText(notice.message)
        self.view_button.setText("View first" if notice.digest else "View")
        set_level_property(self, str(notice.level))
        self.show()
        self.content_changed.emit()

    def setVisible(self, visible: bool) -> None:
        """Tell the window, so it can open or close the strip that holds the banner."""
        changed = visible == self.isHidden()
        super().setVisible(visible)
        if changed:
            self.visibility_changed.emit(visible)

    def _view(self) -> None:
        if self.notice is not None and self.notice.sku_ids:
            self.open_sku.emit(self.notice.sku_ids[0])
        self.hide()
