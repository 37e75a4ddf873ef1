"""The `viralstock-relay` command: serve, `--port 0`, and `token create` beside a running serve."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.relay.conftest import APP_SECRET, SHOP_A, SHOP_B, Subscriber, body, nids, sign
from tests.relay.procs import RelayProcess, cli


async def test_token_create_while_serve_runs_on_the_same_db(tmp_path: Path) -> None:
    db = str(tmp_path / "relay.sqlite3")
    with RelayProcess("--db", db) as proc:
        created = cli("token", "create", "--shop", SHOP_A, "--shop", SHOP_B, "--db", db)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert token.startswith("vsr_")
        sub = await Subscriber.connect(proc.ws_url, token)  # usable at once
        assert (await sub.subscribe([SHOP_A, SHOP_B]))["op"] == "ready"
        raw = body("cli-1", SHOP_B)
        response = httpx.post(proc.base_url + "/webhooks/tiktok", content=raw, headers=sign(raw))
        assert response.status_code == 200
        assert nids(await sub.events(1)) == ["cli-1"]
        await sub.close()
        logs = proc.stop()
    # Structured logs, and no secret or token in them.
    assert '"msg": "relay started"' in logs
    assert token not in logs and APP_SECRET not in logs
    # Only a hash of the token is stored.
    assert token.encode() not in Path(db).read_bytes()


async def test_token_create_with_open_id_routes_seller_webhooks(tmp_path: Path) -> None:
    """Own-app pairing teaches the relay no open_id (TikTok documents no API returning it), so
    the admin maps it: FBT inventory (24, seller_open_id only) then reaches the shop."""
    db = str(tmp_path / "relay.sqlite3")
    with RelayProcess("--db", db) as proc:
        created = cli("token", "create", "--shop", SHOP_A, "--open-id", "seller-9", "--db", db)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        sub = await Subscriber.connect(proc.ws_url, token)
        assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
        envelope = {"type": 24, "tts_notification_id": "fbt-cli", "seller_open_id": "seller-9"}
        raw = json.dumps({**envelope, "timestamp": int(time.time()), "data": {"sku_id": "1"}})
        response = httpx.post(
            proc.base_url + "/webhooks/tiktok", content=raw.encode(), headers=sign(raw.encode())
        )
        assert response.status_code == 200
        (event,) = await sub.events(1)
        assert event["shop_id"] == SHOP_A and event["webhook"]["seller_open_id"] == "seller-9"
        await sub.close()
        proc.stop()
    bad = cli("token", "create", "--shop", SHOP_A, "--open-id", " ", "--db", db)
    assert bad.returncode == 2 and "open_id" in bad.stderr


def test_token_create_needs_a_shop(tmp_path: Path) -> None:
    result = cli("token", "create", "--db", str(tmp_path / "x.sqlite3"))
    assert result.returncode != 0


def test_serve_needs_app_credentials(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.relay.procs import ROOT

    result = subprocess.run(
        [sys.executable, "-m", "relay", "serve", "--port", "0", "--db", str(tmp_path / "x")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "VIRALSTOCK_RELAY_APP_SECRET" in result.stderr
