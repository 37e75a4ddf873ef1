"""The window header: brand, shop, API and relay state, SKU count, last sync."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.insight import fmt
from app.sync.state import LinkState
from app.ui.viewmodel import ShopHeader
from app.ui.when import saved_note
from app.ui.widgets import Chip

#: How each of the engine's link states looks: (chip level, word). An expiring authorization
#: still works (the detail asks to reconnect); a revoked one does not.
STATE_LEVEL: dict[LinkState, tuple[str, str]] = {
    LinkState.IDLE: ("critical", "offline"),
    LinkState.CONNECTING: ("warning", "connecting"),
    LinkState.CONNECTED: ("ok", "online"),
    LinkState.RECONNECTING: ("warning", "connecting"),
    LinkState.DEAUTHORIZED: ("critical", "error"),
    LinkState.EXPIRING: ("ok", "online"),
    LinkState.ERROR: ("critical", "error"),
    LinkState.STOPPED: ("critical", "offline"),
}


class Header(QFrame):
    """Shop identity and connection health, always visible."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Header")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.setSpacing(14)
        brand = QLabel("ViralStock")
        brand.setObjectName("Brand")
        layout.addWidget(brand)
        names = QVBoxLayout()
        names.setSpacing(0)
        self.shop = QLabel("No shop connected")
        self.shop.setObjectName("ShopName")
        self.meta = QLabel("")
        self.meta.setObjectName("HeaderMeta")
        names.addWidget(self.shop)
        names.addWidget(self.meta)
        layout.addLayout(names, 1)
        self.storage = Chip()
        self.storage.hide()
        self.api = Chip()
        self.relay = Chip()
        layout.addWidget(self.storage)
        layout.addWidget(self.api)
        layout.addWidget(self.relay)
        self._last: ShopHeader | None = None
        self.update_from(ShopHeader())

    def update_from(self, header: ShopHeader, now: float | None = None) -> None:
        self._last = header
        name = header.shop_name or "No shop connected"
        self.shop.setText(f"{name}  ·  demo" if header.demo else name)
        if header.saved_at is not None:
            # Yesterday's numbers must not pass for today's: say how old they are.
            self.meta.setText(
                f"{header.sku_count:,} SKUs · {saved_note(header.saved_at, time.time())}"
            )
        else:
            self.meta.setText(
                f"{header.sku_count:,} SKUs · last sync "
                f"{fmt.ago(header.last_sync, now or time.time())}"
            )
        for chip, label, state, detail in (
            (self.api, "API", header.api_state, header.api_detail),
            (self.relay, "Relay", header.relay_state, header.relay_detail),
        ):
            level, word = STATE_LEVEL[state]
            chip.set_level(level, f"● {label} {word}")
            chip.setToolTip(detail or f"{label}: {word}")
        # Only shown while something is wrong: a full disk must not hide behind a green header.
        self.storage.setVisible(bool(header.storage_problem))
        if header.storage_problem:
            self.storage.set_level("critical", "● Not saving")
            self.storage.setToolTip(header.storage_problem)
