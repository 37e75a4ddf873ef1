"""Logging redaction, the crash dialog, single instance, formatting, connect dialog."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.ui.connect_dialog import (
    FAILURE_MESSAGES,
    ConnectDialog,
    ConnectError,
    ConnectFailure,
    ConnectRequest,
    ConnectResult,
    extract_code,
)
from app.ui.crash import CrashHandler
from app.ui.logging_setup import redact, setup_logging
from app.ui.single_instance import SingleInstance

# Offscreen cannot size top-level dialogs; the message is about the platform, not our code.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_redaction_covers_query_json_headers_and_bearer() -> None:
    line = (
        "GET /api?app_key=abc&sign=deadbeef&access_token=TTP_123 "
        '{"refresh_token": "RT-9", "app_secret":"s3cr3t"} x-tts-access-token: TTP_456 '
        "Authorization: Bearer sub.tok.en"
    )
    out = redact(line)
    for secret in ("deadbeef", "TTP_123", "RT-9", "s3cr3t", "TTP_456", "sub.tok.en"):
        assert secret not in out
    assert "app_key=abc" in out and "design" in redact("design=1")


def test_log_file_is_redacted_including_tracebacks(tmp_path: Path) -> None:
    path = setup_logging(tmp_path)
    log = logging.getLogger("viralstock.test")
    try:
        raise ValueError("refresh failed: refresh_token=RT-SECRET")
    except ValueError:
        log.exception("oops access_token=AT-SECRET")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "oops" in text and "ValueError" in text
    assert "AT-SECRET" not in text and "RT-SECRET" not in text
    setup_logging(tmp_path)  # idempotent: still one handler of ours
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_viralstock", False)]
    assert len(ours) == 1
    logging.getLogger().removeHandler(ours[0])
    ours[0].close()


def test_log_file_keeps_our_info_but_not_every_http_request(tmp_path: Path) -> None:
    """The log file filled with httpx's INFO line per request; ours stay, theirs go, and
    httpx's own logger is left alone for whoever else listens."""
    path = setup_logging(tmp_path)
    try:
        logging.getLogger("app.sync.engine").info("backfill done: 120 orders")
        logging.getLogger("httpx").info('HTTP Request: GET http://x/ "HTTP/1.1 200 OK"')
        logging.getLogger("httpx").warning("connection pool is full")
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = path.read_text()
        assert "backfill done" in text
        assert "HTTP Request" not in text
        assert "connection pool is full" in text
        assert logging.getLogger("httpx").level == logging.NOTSET
    finally:
        for handler in [h for h in logging.getLogger().handlers if getattr(h, "_viralstock", 0)]:
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_crash_dialog_is_non_blocking_and_names_the_log(qtbot: QtBot, tmp_path: Path) -> None:
    handler = CrashHandler(tmp_path / "viralstock.log")
    with qtbot.waitSignal(handler.shown, timeout=2000) as blocker:
        try:
            raise RuntimeError("boom with sign=abcdef")
        except RuntimeError:
            handler.handle(*sys.exc_info())
    assert "RuntimeError" in blocker.args[0] and "abcdef" not in blocker.args[0]
    box = handler.dialog
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert str(tmp_path / "viralstock.log") in box.informativeText()
    # a second error while the dialog is up updates it instead of stacking dialogs
    with qtbot.waitSignal(handler.shown, timeout=2000):
        handler.handle(KeyError, KeyError("x"), None)
    assert handler.dialog is box and "2 errors" in box.informativeText()
    box.close()
    qtbot.waitUntil(lambda: handler.dialog is None, timeout=2000)


def test_single_instance_second_launch_focuses_first(qtbot: QtBot, tmp_path: Path) -> None:
    first = SingleInstance(tmp_path / "data")
    assert first.acquire()
    assert first.is_primary
    other_dir = SingleInstance(tmp_path / "other")
    assert other_dir.acquire()  # a different data dir is a different instance
    second = SingleInstance(tmp_path / "data")
    with qtbot.waitSignal(first.activated, timeout=3000):
        assert not second.acquire()
    assert not second.is_primary
    first.release()
    other_dir.release()
    third = SingleInstance(tmp_path / "data")
    assert third.acquire()  # after the first quits, the next launch becomes primary
    third.release()


def test_extract_code_from_redirect_or_bare() -> None:
    assert extract_code("https://example.com/cb?code=ROW_abc123&state=x") == "ROW_abc123"
    assert extract_code("  ROW_abc123 ") == "ROW_abc123"
    assert extract_code("code=XYZ&state=1") == "XYZ"
    assert extract_code("https://example.com/cb?state=x") == ""


@pytest.mark.parametrize("kind", list(ConnectFailure))
def test_connect_dialog_shows_each_failure(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, kind: ConnectFailure
) -> None:
    seen: list[ConnectRequest] = []

    async def connect(req: ConnectRequest) -> ConnectResult:
        seen.append(req)
        await asyncio.sleep(0)
        raise ConnectError(kind, "detail for the seller")

    dialog = ConnectDialog("https://relay.example.com", on_connect=connect)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.code.setText("https://seller.example/cb?code=ROW_xyz&state=1")
    dialog.own_app.setChecked(True)
    dialog.app_key.setText("6abc")
    dialog.app_secret.setText("my-secret")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=3000)
    assert seen[0].code == "ROW_xyz" and seen[0].own_app and seen[0].app_key == "6abc"
    assert "my-secret" not in repr(seen[0])
    assert FAILURE_MESSAGES[kind] in dialog.message.text()
    assert "detail for the seller" in dialog.message.text()
    assert dialog.connect_button.isEnabled() and dialog.isVisible()
    dialog.reject()


def test_connect_dialog_success_and_validation(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop
) -> None:
    async def connect(req: ConnectRequest) -> ConnectResult:
        await asyncio.sleep(0)
        return ConnectResult(("Glow & Go Store",))

    dialog = ConnectDialog("", on_connect=connect)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.submit()  # nothing filled in
    assert "relay address" in dialog.message.text() and dialog.task is None
    dialog.relay_url.setText("https://relay.example.com")
    dialog.code.setText("ROW_ok")
    with qtbot.waitSignal(dialog.connected, timeout=3000) as blocker:
        dialog.submit()
    assert blocker.args[0].shop_names == ("Glow & Go Store",)
    assert not dialog.isVisible()


def test_start_ui_once_per_data_dir(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings

    from app.ui.bootstrap import start_ui

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    ui = start_ui(
        [], tmp_path / "data", log_dir=tmp_path / "logs", theme="light", settings=settings
    )
    assert ui is not None
    try:
        qtbot.addWidget(ui.window)
        assert ui.app.quitOnLastWindowClosed() is False
        assert ui.theme.palette.name == "light"
        assert settings.value("ui/theme") is None  # the override is not remembered
        assert ui.log_path is not None and ui.log_path.parent == tmp_path / "logs"
        with qtbot.waitSignal(ui.instance.activated, timeout=3000):
            assert start_ui([], tmp_path / "data", file_logging=False, settings=settings) is None
    finally:
        ui.shutdown()
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_viralstock", False):
                logging.getLogger().removeHandler(handler)
                handler.close()


def test_every_icon_renders(qapp: QApplication) -> None:
    from app.ui.application import app_icon
    from app.ui.tray import TrayState, tray_icon

    assert not app_icon().pixmap(64, 64).isNull()
    for state in TrayState:
        assert not tray_icon(state).pixmap(32, 32).isNull(), state


def test_connect_dialog_authorization_link(qtbot: QtBot) -> None:
    dialog = ConnectDialog("")
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.mouseClick(dialog.authorize_button, Qt.MouseButton.LeftButton)
    assert dialog.failure is ConnectFailure.INVALID_INPUT  # no relay address yet
    dialog.relay_url.setText("https://relay.example.com")
    with qtbot.waitSignal(dialog.authorize_requested, timeout=1000) as blocker:
        qtbot.mouseClick(dialog.authorize_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["https://relay.example.com", False, ""]
    url = "https://services.tiktokshop.com/open/authorize?service_id=123"
    dialog.set_authorization_url(url, open_browser=False)
    assert dialog.auth_link.text() == url
    dialog.reject()


def test_viewmodel_and_policies_are_qt_free() -> None:
    """The sync layer builds the view model without Qt (DESIGN.md layering)."""
    import subprocess

    code = (
        "import sys, app.ui.viewmodel, app.ui.notifications, app.insight.fmt, app.ui.export;"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'qasync'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
