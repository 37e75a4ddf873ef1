"""What a user can do wrong, each with a clear message and nothing lost (issue 16; reusable for
issue 20): a damaged database file, a read-only --data-dir, two instances on one data folder,
and SIGKILL in the middle of a sync followed by a restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from app.main import desktop_sessions
from app.store import DB_FILENAME
from app.store.recovery import damage
from app.sync.headless import DEMO_DB
from app.ui.bootstrap import start_ui
from app.ui.connect_dialog import ConnectDialog
from app.ui.desktop import DesktopApp
from tests.desktop.conftest import ROOT, MemoryKeyring, desktop_args, run_app


def _env(tmp_path: Path) -> dict[str, str]:
    """A user of their own: config, data and state folders under tmp_path."""
    home = tmp_path / "home"
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def test_a_damaged_database_is_kept_aside_and_the_user_told(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    settings: QSettings,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    garbage = os.urandom(32 * 1024)
    (data_dir / DB_FILENAME).write_bytes(garbage)
    ui = start_ui(["viralstock"], data_dir, file_logging=False, settings=settings, theme="dark")
    assert ui is not None
    qtbot.addWidget(ui.window)
    app = DesktopApp(ui, desktop_args(data_dir), desktop_sessions(data_dir))
    main = asyncio.ensure_future(app.main())
    try:
        qtbot.waitUntil(lambda: app.recovery_box is not None, timeout=10_000)
        box = app.recovery_box
        assert box is not None
        qtbot.waitUntil(box.isVisible, timeout=5_000)
        kept = [p for p in data_dir.iterdir() if ".corrupt-" in p.name]
        assert len(kept) == 1 and kept[0].read_bytes() == garbage  # nothing lost
        assert str(kept[0]) in box.text() and "fresh database" in box.text()
        assert any(str(kept[0]) in r.getMessage() for r in caplog.records)  # and in the log
        # The app goes on: no shop in the fresh database, so the connect dialog opens.
        qtbot.waitUntil(lambda: isinstance(app.dialog, ConnectDialog), timeout=10_000)
        assert damage(data_dir / DB_FILENAME) is None
    finally:
        app.request_quit()
        qtbot.waitUntil(main.done, timeout=15_000)
        ui.shutdown()


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` made unwritable even for root (immutable), else by permissions."""
    folder.mkdir(parents=True, exist_ok=True)
    immutable = os.geteuid() == 0 and shutil.which("chattr") is not None
    if immutable:
        if subprocess.run(["chattr", "+i", str(folder)], check=False).returncode != 0:
            pytest.skip("cannot make a folder immutable on this file system")
    else:
        folder.chmod(0o555)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        else:
            folder.chmod(0o755)


def test_a_read_only_data_dir_gets_one_clear_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    with read_only(folder):
        for args in (["--data-dir", str(folder)], ["sync", "--data-dir", str(folder)]):
            done = run_app(*args, env=_env(tmp_path))
            assert done.returncode == 2, done.stderr[-2000:]
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1, done.stderr
            assert str(folder) in lines[0] and "--data-dir" in lines[0]
            assert "Traceback" not in done.stderr


def test_a_second_instance_on_the_same_data_dir_focuses_the_first(tmp_path: Path) -> None:
    env = _env(tmp_path)
    data = str(tmp_path / "data")
    first = subprocess.Popen(
        [sys.executable, "-m", "app", "--demo", "--data-dir", data, "--run-for", "60"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # The window is up once the demo's database exists (start_ui took the lock before).
        while not list((tmp_path / "data").glob("*.sqlite3")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.poll() is None, first.communicate()[1][-2000:]
        second = run_app("--demo", "--data-dir", data, "--run-for", "30", env=env, timeout=60)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "already running" in second.stdout
        assert first.poll() is None  # the first one is untouched
    finally:
        first.terminate()
        first.wait(30)


def _orders(db: Path) -> int:
    raw = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return int(raw.execute("SELECT count(*) FROM orders").fetchone()[0])
    finally:
        raw.close()


def test_sigkill_mid_sync_leaves_an_intact_database_and_a_clean_restart(tmp_path: Path) -> None:
    """SIGKILL while the demo sync writes: what was committed is there and intact (WAL), and
    the next start runs normally. The demo starts its own database afresh on every start
    (app/sync/headless.py), so this covers corruption; the real shop's resume after a SIGKILL
    is tests/e2e/test_sync_resume.py."""
    env = _env(tmp_path)
    data = tmp_path / "data"
    db = data / DEMO_DB
    command = [sys.executable, "-m", "app", "--demo", "--headless", "--data-dir", str(data)]
    command += ["--demo-speed", "600", "--report", str(tmp_path / "report.json")]
    proc = subprocess.Popen([*command, "--run-for", "60"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        before = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.Error):
                if db.exists() and (before := _orders(db)) > 20:
                    break
            time.sleep(0.1)
        assert before > 20, "the sync never got going"
        proc.send_signal(signal.SIGKILL)  # mid-sync: writes in flight
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert damage(db) is None  # no corruption
    assert _orders(db) >= before  # every committed order survived the kill
    done = subprocess.run(
        [*command, "--run-for", "4"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [p for p in data.iterdir() if ".corrupt-" in p.name]
    assert json.loads((tmp_path / "report.json").read_text())["orders"]
    assert damage(db) is None
