"""SIGKILL in the middle of `viralstock sync`'s first backfill, then `viralstock sync` again on
the same data folder (issue 16): nothing committed is lost, the database is intact, and the
second run resumes the backfill where the first stopped instead of starting over.

All real: the sandbox over HTTP, the relay over HTTP/WebSocket, the shop connected through the
desktop's own connect service into a real SQLite store and a real keyring backend (a file one,
`tests/e2e/file_keyring.py`, which the subprocess loads through `PYTHON_KEYRING_BACKEND`), and
`python -m app sync` as the user runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.store import DB_FILENAME
from app.store.db import open_store
from app.store.progress import get_watermark
from app.store.recovery import damage
from app.sync.backfill import ORDERS_DONE, ORDERS_FROM
from app.sync.connect_service import ConnectService, ConnectSettings
from app.sync.connect_types import ConnectRequest
from app.tiktok.credentials import SERVICE, TOKENS
from tests.e2e.file_keyring import BACKEND, ENV, FileKeyring
from tests.e2e.harness import report_by_sku, truth_by_sku, world

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
DAYS = 3
PAGE = 100  # the backfill's order page size (app/sync/backfill.py)


def _order_ids(db: Path) -> set[str]:
    raw = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return {row[0] for row in raw.execute("SELECT id FROM orders")}
    finally:
        raw.close()


async def _connect(w: Any, data: Path, keyring_file: Path) -> str:
    """Connect the sandbox shop as the desktop does; returns the shop id."""
    box = w.sandbox
    settings = ConnectSettings(
        relay_url=w.relay_url,
        app_key=box.app_key,
        service_id=box.service_id,
        authorize_url=box.base_url + "/open/authorize",
        auth_base_url=box.base_url,
        api_base_url=box.base_url,
    )
    store = open_store(data)
    try:
        service = ConnectService(
            settings, store, now=time.time, keyring_backend=FileKeyring(keyring_file)
        )
        result = await service.connect(ConnectRequest(w.relay_url, box.authorize_code()))
        await service.close_catcher()
    finally:
        store.close()
    assert result.shop_names and service.result is not None
    return service.result.shops[0].id


def _watermarks(data: Path, shop_id: str) -> dict[str, int | None]:
    store = open_store(data)
    try:
        with store.read() as session:
            names = [ORDERS_DONE, *(f"{ORDERS_FROM}:{i}" for i in range(4))]
            return {name: get_watermark(session, shop_id, name) for name in names}
    finally:
        store.close()


def test_sigkill_mid_backfill_then_the_next_sync_resumes_and_matches_the_shop(
    tmp_path: Path,
) -> None:
    data, keyring_file = tmp_path / "data", tmp_path / "keyring.json"
    db = data / DB_FILENAME
    # A frozen shop clock at "now" with three days of order history: the backfill has work.
    start = time.time() - DAYS * 86_400
    with world(
        tmp_path, seed=4, speed=0.0, webhooks=False, orders_per_hour=120.0, start_time=start
    ) as w:
        w.sandbox.clock.advance(DAYS * 86_400)
        truth = w.sandbox.truth()
        total = truth["orders"]["count"]
        assert total > 20 * PAGE, "the sandbox needs enough history for a backfill to be cut"
        shop_id = asyncio.run(_connect(w, data, keyring_file))
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env |= {
            "PYTHON_KEYRING_BACKEND": BACKEND,
            ENV: str(keyring_file),
            "VIRALSTOCK_APP_KEY": w.sandbox.app_key,
            "PYTHONPATH": str(ROOT),
        }
        command = [sys.executable, "-m", "app", "sync", "--data-dir", str(data)]
        command += ["--relay", w.relay_url, "--api-base", w.sandbox.base_url]

        log = tmp_path / "first-run.log"
        with log.open("wb") as output:
            first = subprocess.Popen(
                [*command, "--run-for", "120"], cwd=ROOT, env=env, stdout=output, stderr=output
            )
        before: set[str] = set()
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and first.poll() is None:
                with contextlib.suppress(sqlite3.Error):
                    if len(before := _order_ids(db)) >= 0.5 * total:
                        break
                time.sleep(0.02)
            assert first.poll() is None, log.read_text()[-3000:]
            first.send_signal(signal.SIGKILL)  # mid-backfill: pages in flight, writes pending
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(10)
        assert len(before) >= 0.5 * total, "the backfill never got going"

        # No damage, and every order committed before the kill is still there.
        assert damage(db) is None
        kept = _order_ids(db)
        assert before <= kept
        assert len(kept) < total, "the backfill ended before the kill: nothing to resume"
        marks = _watermarks(data, shop_id)
        assert marks[ORDERS_DONE] is None
        assert any(marks[f"{ORDERS_FROM}:{i}"] is not None for i in range(4))

        key = w.sandbox.app_key
        report_path = tmp_path / "report.json"
        second = subprocess.run(
            [*command, "--run-for", "20", "--report", str(report_path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
        report = json.loads(report_path.read_text())
        final_truth = w.sandbox.truth()

    assert final_truth["orders"]["count"] == total  # the shop stood still throughout
    assert damage(db) is None
    assert not [p for p in data.iterdir() if ".corrupt-" in p.name]
    # Resumed, not restarted: a backfill from scratch reads at least one page per 100 orders
    # (plus the products); the second run made fewer requests than that in all.
    from_scratch = math.ceil(total / PAGE)
    figures = (total, len(kept), report["sync"]["api_requests"], from_scratch)
    assert report["sync"]["api_requests"] < from_scratch, figures
    assert _watermarks(data, shop_id)[ORDERS_DONE] is not None
    # The store is the shop: every order once, every stock level right, nothing counted twice.
    final = _order_ids(db)
    assert kept <= final
    assert len(final) == report["orders"]["count"] == total
    assert report["orders"]["revenue"] == truth["orders"]["revenue"]
    assert report_by_sku(report) == truth_by_sku(truth)
    # The stored tokens stayed in the keyring file, never in the database.
    stored = FileKeyring(keyring_file).get_password(SERVICE, f"{key}/{shop_id}/{TOKENS}")
    assert stored is not None
    tokens = json.loads(stored)
    raw = b"".join(p.read_bytes() for p in data.glob("*.sqlite3*"))
    assert tokens["access_token"].encode() not in raw
    assert tokens["refresh_token"].encode() not in raw
