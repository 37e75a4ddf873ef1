"""`viralstock` the first time, in-process: no shop stored, so the connect dialog opens; the
seller authorizes (sandbox consent page -> loopback catcher), the relay pairs, and the engine
starts on the stored shop with the wall clock, filling the window. Then a quit from the window
stops everything inside the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from app.main import desktop_sessions
from app.sync.state import LinkState
from app.ui.bootstrap import start_ui
from app.ui.connect_dialog import ConnectDialog
from app.ui.desktop import DesktopApp
from tests.desktop.conftest import MemoryKeyring, desktop_args, drive


def test_first_run_connects_and_syncs_the_shop(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    world: Any,
    tmp_path: Path,
    settings: QSettings,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = world.sandbox
    monkeypatch.setenv("VIRALSTOCK_RELAY_URL", world.relay_base_url)
    monkeypatch.setenv("VIRALSTOCK_APP_KEY", world.app_key)
    monkeypatch.setenv("VIRALSTOCK_SERVICE_ID", box.service_id)
    monkeypatch.setenv("VIRALSTOCK_TIKTOK_AUTHORIZE", box.base_url + "/open/authorize")
    monkeypatch.setenv("VIRALSTOCK_TIKTOK_AUTH", box.base_url)
    monkeypatch.setenv("VIRALSTOCK_TIKTOK_API", box.base_url)
    data_dir = tmp_path / "data"
    ui = start_ui(["viralstock"], data_dir, file_logging=False, settings=settings, theme="dark")
    assert ui is not None
    qtbot.addWidget(ui.window)
    app = DesktopApp(ui, desktop_args(data_dir), desktop_sessions(data_dir))
    main = asyncio.ensure_future(app.main())
    try:
        qtbot.waitUntil(
            lambda: isinstance(app.dialog, ConnectDialog) and app.dialog.isVisible(), timeout=5_000
        )
        dialog = app.dialog
        assert dialog is not None
        qtbot.mouseClick(dialog.authorize_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.auth_link.text().startswith("http"), timeout=5_000)

        async def browser() -> None:
            async with httpx.AsyncClient(trust_env=False, follow_redirects=True, timeout=5) as h:
                response = await h.get(dialog.auth_link.text())
                assert response.status_code == 200

        drive(qtbot, browser())
        qtbot.waitUntil(lambda: app.session is not None, timeout=10_000)
        window = ui.window
        qtbot.waitUntil(
            lambda: (
                window.vm.header.sku_count > 0
                and window.vm.header.relay_state is LinkState.CONNECTED
            ),
            timeout=20_000,
        )
        assert not window.vm.header.demo
        assert settings.value("connection/relay_url") == world.relay_base_url
        # A quit from the window (or the tray) ends main() after a clean stop in the loop.
        window.quit_requested.emit()
        qtbot.waitUntil(main.done, timeout=15_000)
        assert main.result() == 0
        assert app.session is None and app.controller is None
    finally:
        if not main.done():
            app.request_quit()
            qtbot.waitUntil(main.done, timeout=15_000)
        ui.shutdown()
