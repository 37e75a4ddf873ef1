"""Connect a real shop: vendor mode (relay signs and exchanges the code) or "Use my own TikTok
app" (app key and secret go to the keyring). The dialog collects input and shows outcomes; the
work itself is an async callback supplied by the composition root, so no HTTP lives here.

Open it with `open()` (never `exec()` inside a coroutine). Failures arrive as `ConnectError`
with a `ConnectFailure` kind (Qt-free types from `app.sync.connect_types`, re-exported here);
each kind has a message a seller can act on.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs, urlparse

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.sync.connect_types import (
    ConnectCallback,
    ConnectError,
    ConnectFailure,
    ConnectRequest,
    ConnectResult,
)
from app.ui.widgets import set_level_property

__all__ = [
    "FAILURE_MESSAGES",
    "ConnectCallback",
    "ConnectDialog",
    "ConnectError",
    "ConnectFailure",
    "ConnectRequest",
    "ConnectResult",
    "extract_code",
    "valid_relay_url",
]

log = logging.getLogger(__name__)

FAILURE_MESSAGES: dict[ConnectFailure, str] = {
    ConnectFailure.RELAY_UNREACHABLE: (
        "Could not reach the relay. Check the relay address and your internet connection, "
        "then try again."
    ),
    ConnectFailure.CODE_EXPIRED: (
        "The authorization code has expired (codes are valid for a few minutes and work once). "
        "Open the authorization page again and paste the new code."
    ),
    ConnectFailure.CODE_INVALID: (
        "TikTok did not accept that code. Paste the whole address you were sent back to, "
        "or just the code after “code=”."
    ),
    ConnectFailure.WRONG_SECRET: (
        "TikTok rejected the app key or app secret. Copy both again from Partner Center "
        "(App & Service → your app → App credentials)."
    ),
    ConnectFailure.NO_KEYRING: (
        "No system keyring is available to keep your credentials safe, so nothing was saved. "
        "Install or unlock a keyring (GNOME Keyring, KWallet, macOS Keychain, Windows "
        "Credential Manager) and try again."
    ),
    ConnectFailure.AUTHORIZATION_REVOKED: (
        "The shop has withdrawn ViralStock's authorization, or it has expired. "
        "Authorize again from the authorization page."
    ),
    ConnectFailure.NO_SHOPS: (
        "The authorization worked but no shop came with it. Sign in with the seller account "
        "that owns the shop."
    ),
    ConnectFailure.INVALID_INPUT: "Some fields are missing or not valid; see the highlighted ones.",
    ConnectFailure.UNKNOWN: "Connecting failed for an unexpected reason. The log has the details.",
}


def extract_code(text: str) -> str:
    """The authorization code from a pasted redirect URL, a query string, or the bare code."""
    text = text.strip()
    if not text:
        return ""
    if "code=" in text:
        parsed = urlparse(text)
        query = parsed.query or (text.split("?", 1)[1] if "?" in text else text)
        values = parse_qs(query).get("code")
        if values:
            return values[0].strip()
    return text if " " not in text and "/" not in text else ""


def valid_relay_url(url: str) -> bool:
    parsed = urlparse(url.strip())
    return parsed.scheme in ("https", "http") and bool(parsed.netloc)


class ConnectDialog(QDialog):
    """The connect flow. Signals: `connect_requested(ConnectRequest)` (always, on submit),
    `authorize_requested(str relay_url, bool own_app, str app_key)` when the seller asks for
    the authorization page (the composition root answers with `set_authorization_url`),
    `connected(ConnectResult)`. Pass `on_connect` to have the dialog await the work itself.
    """

    connect_requested = Signal(object)
    authorize_requested = Signal(str, bool, str)
    connected = Signal(object)

    def __init__(
        self,
        relay_url: str = "",
        on_connect: ConnectCallback | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect your TikTok Shop")
        self.setMinimumWidth(560)
        self._on_connect = on_connect
        self._task: asyncio.Task[None] | None = None
        self._auth_url = ""
        # The last failure shown (None before any): lets callers and tests see what happened.
        self.failure: ConnectFailure | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 20, 22, 18)
        # Grow with its content (the own-app fields, the message) instead of squeezing it.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.setSpacing(12)
        title = QLabel("Connect your TikTok Shop")
        title.setObjectName("ShopName")
        intro = QLabel(
            "1. Open the authorization page and approve ViralStock in Seller Center.\n"
            "2. TikTok sends you back to an address containing “code=”. Paste it below."
        )
        intro.setProperty("muted", True)
        layout.addWidget(title)
        layout.addWidget(intro)
        form = QFormLayout()
        form.setSpacing(8)
        self.relay_url = QLineEdit(relay_url)
        self.relay_url.setPlaceholderText("https://relay.example.com")
        form.addRow("Relay address", self.relay_url)
        auth_row = QHBoxLayout()
        self.authorize_button = QPushButton("Open authorization page")
        self.authorize_button.clicked.connect(self._authorize)
        self.auth_link = QLabel("")
        self.auth_link.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.auth_link.setProperty("muted", True)
        self.auth_link.setWordWrap(True)
        auth_row.addWidget(self.authorize_button)
        auth_row.addWidget(self.auth_link, 1)
        form.addRow("", auth_row)
        self.code = QLineEdit()
        self.code.setPlaceholderText("Paste the code or the whole address you were sent back to")
        self.code.setMinimumWidth(400)
        form.addRow("Code", self.code)
        layout.addLayout(form)
        self.own_app = QCheckBox("Use my own TikTok app")
        self.own_app.setToolTip(
            "For sellers who registered their own app in TikTok Shop Partner Center. The key "
            "and secret are stored in your system keyring, never in a file."
        )
        layout.addWidget(self.own_app)
        self.own_box = QFrame()
        self.own_box.setObjectName("KpiTile")
        own_form = QFormLayout(self.own_box)
        own_form.setContentsMargins(14, 12, 14, 12)
        own_form.setSpacing(8)
        self.app_key = QLineEdit()
        self.app_secret = QLineEdit()
        self.app_secret.setEchoMode(QLineEdit.EchoMode.Password)
        own_form.addRow("App key", self.app_key)
        own_form.addRow("App secret", self.app_secret)
        keyring_note = QLabel(
            "Both are in Partner Center; they are kept in the system keyring only."
        )
        keyring_note.setProperty("muted", True)
        own_form.addRow(keyring_note)
        self.own_box.setVisible(False)
        self.own_app.toggled.connect(self._mode_changed)
        layout.addWidget(self.own_box)
        self.message = QLabel("")
        self.message.setObjectName("Banner")
        self.message.setWordWrap(True)
        self.message.setMinimumHeight(56)
        self.message.setContentsMargins(12, 8, 12, 8)
        self.message.hide()
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.connect_button = QPushButton("Connect")
        self.connect_button.setProperty("primary", True)
        self.connect_button.setDefault(True)
        self.connect_button.clicked.connect(self.submit)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.connect_button)
        layout.addLayout(buttons)

    @property
    def mode_text(self) -> str:
        return "own app" if self.own_app.isChecked() else "vendor app"

    def _mode_changed(self, own: bool) -> None:
        self.own_box.setVisible(own)
        self.adjustSize()

    def set_authorization_url(self, url: str, open_browser: bool = True) -> None:
        """Show (and open in the browser) the authorization link the composition root built."""
        self._auth_url = url
        self.auth_link.setText(url)
        if url and open_browser:
            QDesktopServices.openUrl(QUrl(url))

    def _authorize(self) -> None:
        if not valid_relay_url(self.relay_url.text()) and not self.own_app.isChecked():
            self.show_failure(ConnectFailure.INVALID_INPUT, "Enter the relay address first.")
            return
        self.authorize_requested.emit(
            self.relay_url.text().strip(), self.own_app.isChecked(), self.app_key.text().strip()
        )

    def request(self) -> ConnectRequest | None:
        """The request from the fields, or None (with a message) when input is incomplete."""
        problems = []
        relay = self.relay_url.text().strip()
        own = self.own_app.isChecked()
        if not valid_relay_url(relay):
            problems.append("a relay address starting with https://")
        code = extract_code(self.code.text())
        if not code:
            problems.append("the authorization code")
        if own and not self.app_key.text().strip():
            problems.append("your app key")
        if own and not self.app_secret.text():
            problems.append("your app secret")
        if problems:
            self.show_failure(ConnectFailure.INVALID_INPUT, "Missing: " + ", ".join(problems) + ".")
            return None
        return ConnectRequest(
            relay_url=relay,
            code=code,
            own_app=own,
            app_key=self.app_key.text().strip() if own else "",
            app_secret=self.app_secret.text() if own else "",
        )

    def submit(self) -> None:
        """Validate, emit `connect_requested`, and run the callback if there is one."""
        req = self.request()
        if req is None:
            return
        self.connect_requested.emit(req)
        if self._on_connect is not None:
            self.set_busy(True)
            self._task = asyncio.ensure_future(self._run(req))

    async def _run(self, req: ConnectRequest) -> None:
        assert self._on_connect is not None
        try:
            result = await self._on_connect(req)
        except ConnectError as exc:
            self.show_failure(exc.kind, exc.detail)
        except asyncio.CancelledError:
            self.set_busy(False)
            raise
        except Exception:
            log.exception("connect failed")
            self.show_failure(ConnectFailure.UNKNOWN)
        else:
            self.show_success(result)
        finally:
            self._task = None

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The running connect task, if any (tests await it)."""
        return self._task

    def set_busy(self, busy: bool) -> None:
        self.connect_button.setEnabled(not busy)
        self.connect_button.setText("Connecting…" if busy else "Connect")
        if busy:
            self._message("Connecting…", "")

    def show_failure(self, kind: ConnectFailure, detail: str = "") -> None:
        """Show the message for a failure kind (and re-enable the form)."""
        self.set_busy(False)
        text = FAILURE_MESSAGES[kind]
        if detail:
            text = f"{text}\n{detail}"
        self.failure = kind
        self._message(text, "critical")
        if kind is ConnectFailure.CODE_EXPIRED:
            self.code.clear()
            self.code.setFocus()
        elif kind is ConnectFailure.WRONG_SECRET:
            self.app_secret.selectAll()
            self.app_secret.setFocus()
        elif kind is ConnectFailure.RELAY_UNREACHABLE:
            self.relay_url.setFocus()

    def show_success(self, result: ConnectResult) -> None:
        self.set_busy(False)
        names = ", ".join(result.shop_names) or "your shop"
        self._message(f"Connected to {names}. The first sync starts now.", "ok")
        self.connected.emit(result)
        self.accept()

    def _message(self, text: str, level: str) -> None:
        self.message.setText(text)
        set_level_property(self.message, level)
        self.message.show()
        self.adjustSize()

    def reject(self) -> None:
        if self._task is not None:
            self._task.cancel()
        super().reject()
