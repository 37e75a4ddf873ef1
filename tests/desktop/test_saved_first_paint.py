"""A stored shop opened twice, in-process and offline (relay and Open API refused, as the
big-shop benchmark opens it): the first session leaves its last dashboard on disk; the second
paints that dashboard before any engine exists, saying how old it is, and the live recompute
then replaces it with the store's current figures. A broken saved file is ignored with a log
line and the start goes on as before.

The shop is written by the benchmark's generator through the store's own write functions
(`tests/benchmarks/bigshop.py`, a small spec), so the store holds what sync would write."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from app.insight import fmt
from app.main import desktop_sessions
from app.store.catalog import record_stock
from app.store.db import DB_FILENAME, open_store
from app.sync.first_paint import FILENAME, load_saved_dashboard
from app.tiktok.credentials import (
    APP_ACCOUNT,
    SUBSCRIBER_TOKEN,
    KeyringCredentialStore,
    save_tokens,
)
from app.tiktok.models import TokenSet
from app.ui.bootstrap import Ui, start_ui
from app.ui.cards import sku_title
from app.ui.desktop import DesktopApp, _paint_saved
from tests.benchmarks.bigshop import SHOP_ID, SHOP_NAME, ShopSpec, build
from tests.desktop.conftest import ROOT, MemoryKeyring, desktop_args

# These sessions run in a process of their own (`test_saved_first_paint_isolated.py`): in some
# orders of the whole suite the Qt leak check after them found their window still alive,
# held by frames of the test's own stack, and the cause is not found yet.
ISOLATED = "VIRALSTOCK_SAVED_FIRST_PAINT"
pytestmark = pytest.mark.skipif(
    os.environ.get(ISOLATED) != "1", reason="runs in its own process (see ISOLATED)"
)

APP_KEY = "vendor-key"
CLOSED = "http://127.0.0.1:9"  # nothing listens: the seller is offline
SPEC = ShopSpec(orders=600, days=3, skus=24, videos=3, peak_per_day=1, seed=5)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small-shop") / DB_FILENAME
    build(SPEC, path, progress=False)
    return path


@pytest.fixture
def data_dir(built: Path, tmp_path: Path, memory_keyring: MemoryKeyring) -> Iterator[Path]:
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copyfile(built, folder / DB_FILENAME)
    far = int(time.time()) + 86_400
    tokens = TokenSet(
        access_token="at-secret",
        access_token_expire_in=far,
        refresh_token="rt-secret",
        refresh_token_expire_in=far,
    )
    credentials = KeyringCredentialStore()
    save_tokens(credentials, APP_KEY, SHOP_ID, tokens)
    credentials.set(APP_KEY, APP_ACCOUNT, SUBSCRIBER_TOKEN, "sub-secret")
    yield folder


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRALSTOCK_APP_KEY", APP_KEY)
    for name in ("VIRALSTOCK_RELAY_URL", "VIRALSTOCK_TIKTOK_API", "VIRALSTOCK_TIKTOK_AUTH"):
        monkeypatch.setenv(name, CLOSED)


def _ui(data_dir: Path, settings: QSettings) -> Ui:
    ui = start_ui(["viralstock"], data_dir, file_logging=False, settings=settings, theme="dark")
    assert ui is not None  # `ui.shutdown()` deletes the window (two of them in one test)
    ui.window.show()
    return ui


def _live(app: DesktopApp) -> bool:
    vm = app.window.vm
    return bool(vm.insights) and vm.header.saved_at is None


def _session(ui: Ui, data_dir: Path, qtbot: QtBot, app: DesktopApp | None = None) -> DesktopApp:
    """Run a desktop session on the stored shop until its live figures are on screen, then quit
    it from the window (the saved dashboard is written as it closes)."""
    app = app or DesktopApp(ui, desktop_args(data_dir), desktop_sessions(data_dir))
    main = asyncio.ensure_future(app.main())
    try:
        qtbot.waitUntil(lambda: _live(app), timeout=30_000)
        ui.window.quit_requested.emit()
        qtbot.waitUntil(main.done, timeout=15_000)
        assert main.result() == 0
    finally:
        if not main.done():
            app.request_quit()
            qtbot.waitUntil(main.done, timeout=15_000)
    return app


def test_the_next_start_shows_the_last_dashboard_until_the_live_one_replaces_it(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, data_dir: Path, settings: QSettings
) -> None:
    ui = _ui(data_dir, settings)
    try:
        assert _paint_saved(ui.window, data_dir) is None  # never opened: nothing saved yet
        first = _session(ui, data_dir, qtbot)
        shown = {s.sku_id: s.available for s in first.window.vm.insights}
    finally:
        ui.shutdown()
    saved = load_saved_dashboard(data_dir)
    assert saved is not None and saved.shop_id == SHOP_ID and saved.shop_name == SHOP_NAME
    assert {s.sku_id: s.available for s in saved.skus} == shown

    # Between the sessions the shelf moves: the chart's SKU gets 1,000 more units.
    ui = _ui(data_dir, settings)
    try:
        assert _paint_saved(ui.window, data_dir) is not None  # what `run` does first
        window = ui.window
        sku = window.dashboard.inventory.selected
        assert sku is not None
        before = next(s for s in saved.skus if s.sku_id == sku)
        store = open_store(data_dir)
        try:
            with store.write() as session:
                quantity = before.available + 1000
                record_stock(session, sku, {"7000": quantity}, int(time.time()), "sync")
        finally:
            store.close()
        # The saved figures are on screen before any engine exists, and say how old they are.
        assert window.header.shop.text() == SHOP_NAME
        assert f"{len(saved.skus):,} SKUs" in window.header.meta.text()
        assert "figures of" in window.header.meta.text()
        assert "updating" in window.updated_label.text()
        assert window.dashboard.inventory.subtitle_label.text().startswith(
            f"{sku_title(before)} · {fmt.units(before.available)} in stock"
        )

        app = DesktopApp(ui, desktop_args(data_dir), desktop_sessions(data_dir))
        app.saved = saved
        _session(ui, data_dir, qtbot, app)
        # The live recompute replaced them: today's stock, no "figures of" note.
        after = window.vm.insight_for(sku)
        assert after is not None and after.available == quantity
        assert "figures of" not in window.header.meta.text()
        assert window.updated_label.text().startswith("Updated")
    finally:
        ui.shutdown()
    again = load_saved_dashboard(data_dir)
    assert again is not None
    assert {s.sku_id: s.available for s in again.skus}[sku] == quantity


def test_a_broken_saved_dashboard_is_ignored_and_the_start_goes_on(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    data_dir: Path,
    settings: QSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (data_dir / FILENAME).write_bytes(b'{"format": "viralstock-first-paint", "version": 1, "sk')
    ui = _ui(data_dir, settings)
    try:
        with caplog.at_level(logging.WARNING, logger="app.sync.first_paint"):
            assert _paint_saved(ui.window, data_dir) is None
        assert any(
            "saved dashboard first-paint.json ignored" in r.getMessage() for r in caplog.records
        )
        window = ui.window
        assert window.dashboard.alerts.empty_label.text() == "Loading stock…"
        assert "figures of" not in window.header.meta.text()
        _session(ui, data_dir, qtbot)
        assert window.vm.insights and window.header.shop.text() == SHOP_NAME
    finally:
        ui.shutdown()
    # ... and the session left a good one in its place.
    assert load_saved_dashboard(data_dir) is not None


def test_the_window_and_the_saved_dashboard_need_no_store_nor_engine() -> None:
    """What the first paint imports (the window, the saved dashboard's reader and mapping):
    not SQLAlchemy, the store, the engine or the HTTP client, which cost ~0.8 s before the
    seller saw anything (a card importing `app.sync.dashboard_data` once did just that)."""
    probe = (
        "import sys\n"
        "import app.ui.desktop, app.ui.bootstrap, app.ui.main_window, app.ui.mapping\n"
        "import app.sync.first_paint\n"
        "heavy = ('sqlalchemy', 'httpx', 'app.store', 'app.sync.engine', 'app.tiktok.client')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
