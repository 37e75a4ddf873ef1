"""The connect flow against the real sandbox and the in-process relay (vendor mode), and
own-app mode against the sandbox's auth host: authorization link -> sandbox /open/authorize
302 -> loopback catcher or pasted address -> relay /v1/oauth/token -> shops in SQLite, tokens
and the subscriber token in a keyring (a real `KeyringBackend` set with `keyring.set_keyring`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pytestqt.qtbot import QtBot

from app.store.catalog import list_shops
from app.store.db import Store, open_store
from app.sync.connect_service import ConnectService, ConnectSettings
from app.tiktok.credentials import APP_SECRET, SERVICE, SUBSCRIBER_TOKEN, TOKENS
from app.ui.connect_dialog import FAILURE_MESSAGES, ConnectDialog, ConnectFailure
from tests.desktop.conftest import MemoryKeyring, drive


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def _settings(world: Any, relay_url: str | None = None) -> ConnectSettings:
    box = world.sandbox
    return ConnectSettings(
        relay_url=relay_url or world.relay_base_url,
        app_key=world.app_key,
        service_id=box.service_id,
        authorize_url=box.base_url + "/open/authorize",
        auth_base_url=box.base_url,
        api_base_url=box.base_url,
    )


def _dialog(qtbot: QtBot, service: ConnectService, relay_url: str) -> ConnectDialog:
    dialog = ConnectDialog(relay_url, on_connect=service.connect)
    service.pasted = dialog.code.text
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as http:
        return await http.get(url)


def _submit_and_wait(qtbot: QtBot, dialog: ConnectDialog) -> None:
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=10_000)


def _assert_connected(world: Any, store: Store, backend: MemoryKeyring) -> None:
    with store.read() as session:
        shops = list_shops(session)
    assert [s.id for s in shops] and shops[0].name
    keys = {user for service, user in backend.items if service == SERVICE}
    shop_id = shops[0].id
    assert f"{world.app_key}/{shop_id}/{TOKENS}" in keys
    assert f"{world.app_key}/{shop_id}/{SUBSCRIBER_TOKEN}" in keys
    tokens = json.loads(backend.items[(SERVICE, f"{world.app_key}/{shop_id}/{TOKENS}")])
    # Secrets live in the keyring only, never in the database file.
    raw = b"".join(p.read_bytes() for p in Path(store.path).parent.glob("*.sqlite3*"))
    assert tokens["access_token"].encode() not in raw
    assert tokens["refresh_token"].encode() not in raw


def test_vendor_connect_through_the_loopback_catcher(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    world: Any,
    store: Store,
    memory_keyring: MemoryKeyring,
) -> None:
    service = ConnectService(_settings(world), store, now=world.now)
    dialog = _dialog(qtbot, service, world.relay_base_url)
    dialog.set_authorization_url = lambda url, open_browser=True: None  # type: ignore[method-assign]
    link = drive(qtbot, service.authorization_link())
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    assert link.startswith(world.sandbox.base_url + "/open/authorize")
    assert query["service_id"] == [world.sandbox.service_id]
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:")

    def caught(code: str) -> None:
        dialog.code.setText(code)
        dialog.submit()

    service.watch_catcher(caught)
    # The seller's browser: TikTok's consent page redirects back to the app's catcher.
    consent = drive(qtbot, _get(link))
    assert consent.status_code == 302
    location = consent.headers["location"]
    assert location.startswith(query["redirect_uri"][0]) and "code=" in location
    with qtbot.waitSignal(dialog.connected, timeout=10_000) as blocker:
        back = drive(qtbot, _get(location))
        assert back.status_code == 200
    assert blocker.args[0].shop_names
    assert dialog.failure is None and not dialog.isVisible()
    _assert_connected(world, store, memory_keyring)
    assert service.result is not None and not service.result.own_app


def test_vendor_connect_with_a_pasted_address(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    world: Any,
    store: Store,
    memory_keyring: MemoryKeyring,
) -> None:
    service = ConnectService(_settings(world), store, now=world.now)
    dialog = _dialog(qtbot, service, world.relay_base_url)
    link = drive(qtbot, service.authorization_link())
    location = drive(qtbot, _get(link)).headers["location"]
    dialog.code.setText(location)  # the whole address the browser ended on
    with qtbot.waitSignal(dialog.connected, timeout=10_000):
        dialog.submit()
    _assert_connected(world, store, memory_keyring)
    drive(qtbot, service.close_catcher())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "case", ["relay_unreachable", "code_expired", "code_used", "garbage", "wrong_state"]
)
def test_vendor_connect_failures(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    world: Any,
    store: Store,
    memory_keyring: MemoryKeyring,
    case: str,
) -> None:
    relay = world.relay_base_url
    expected = {
        "relay_unreachable": ConnectFailure.RELAY_UNREACHABLE,
        "code_expired": ConnectFailure.CODE_EXPIRED,
        "code_used": ConnectFailure.CODE_EXPIRED,
        "garbage": ConnectFailure.CODE_INVALID,
        "wrong_state": ConnectFailure.CODE_INVALID,
    }[case]
    service = ConnectService(_settings(world), store, now=world.now)
    dialog = _dialog(qtbot, service, relay)
    code = world.authorize_code()
    if case == "relay_unreachable":
        dialog.relay_url.setText(f"http://127.0.0.1:{_closed_port()}")
    elif case == "code_expired":
        # Codes live 30 simulated minutes: 3 real seconds at the test's 600x clock.
        time.sleep(3.3)
    elif case == "code_used":
        drive(qtbot, _get_token(relay, code))
    elif case == "wrong_state":
        drive(qtbot, service.authorization_link())
        code = f"http://127.0.0.1:1/callback?code={code}&state=forged"
    else:
        code = "TTP_" + "x" * 600  # not something TikTok hands out
    dialog.code.setText(code)
    _submit_and_wait(qtbot, dialog)
    assert dialog.failure is expected, dialog.message.text()
    assert FAILURE_MESSAGES[expected] in dialog.message.text()
    assert dialog.isVisible() and dialog.connect_button.isEnabled()
    with store.read() as session:
        assert list_shops(session) == []
    assert memory_keyring.items == {}
    drive(qtbot, service.close_catcher())


async def _get_token(relay: str, code: str) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as http:
        response = await http.post(relay + "/v1/oauth/token", json={"code": code})
        assert response.status_code == 200


def test_no_keyring_is_said_before_the_code_is_spent(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, world: Any, store: Store, no_keyring: None
) -> None:
    service = ConnectService(_settings(world), store, now=world.now)
    dialog = _dialog(qtbot, service, world.relay_base_url)
    code = world.authorize_code()
    dialog.code.setText(code)
    _submit_and_wait(qtbot, dialog)
    assert dialog.failure is ConnectFailure.NO_KEYRING
    assert "No system keyring" in dialog.message.text()
    # The code was not used: it still works once a keyring exists.
    drive(qtbot, _get_token(world.relay_base_url, code))


def test_own_app_wrong_secret_then_success(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    world: Any,
    store: Store,
    memory_keyring: MemoryKeyring,
) -> None:
    box = world.sandbox
    service = ConnectService(_settings(world), store, now=world.now)
    dialog = _dialog(qtbot, service, world.relay_base_url)
    dialog.own_app.setChecked(True)
    dialog.app_key.setText(box.app_key)
    dialog.app_secret.setText("not-the-secret")
    dialog.code.setText(world.authorize_code())
    _submit_and_wait(qtbot, dialog)
    assert dialog.failure is ConnectFailure.WRONG_SECRET
    assert memory_keyring.items == {}
    dialog.app_secret.setText(box.app_secret)
    dialog.code.setText(world.authorize_code())
    with qtbot.waitSignal(dialog.connected, timeout=10_000):
        dialog.submit()
    secret_key = (SERVICE, f"{box.app_key}/_app/{APP_SECRET}")
    assert memory_keyring.items[secret_key] == box.app_secret
    with store.read() as session:
        assert list_shops(session)
    raw = b"".join(p.read_bytes() for p in Path(store.path).parent.glob("*.sqlite3*"))
    assert box.app_secret.encode() not in raw
