"""`token list` and `token revoke` against a running `serve` (separate processes, real SQLite
file or real Redis): a revoked token is refused at once and its open streams close with 4401."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import websockets

from tests.relay.conftest import SHOP_A, SHOP_B, RedisServer, Subscriber, body, nids, sign
from tests.relay.procs import RelayProcess, cli


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The storage, named by the environment as production does."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        return {"VIRALSTOCK_RELAY_STORE": server.url}
    return {"VIRALSTOCK_RELAY_STORE": str(tmp_path / "relay.sqlite3")}


def _create(env: dict[str, str], *shops: str) -> str:
    args = [part for shop in shops for part in ("--shop", shop)]
    created = cli("token", "create", *args, env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def _ids(listing: str) -> dict[str, str]:
    """id -> shops column of `token list` output."""
    rows = {}
    for line in listing.splitlines()[1:]:
        match = re.match(r"^([0-9a-f]{12})\s+(\S+ \S+|-)\s+(\S+)$", line)
        assert match, line
        rows[match.group(1)] = match.group(3)
    return rows


async def test_list_and_revoke_while_serve_runs(store: dict[str, str]) -> None:
    with RelayProcess(env=store) as proc:
        first = _create(store, SHOP_A)
        second = _create(store, SHOP_A, SHOP_B)
        listing = cli("token", "list", env=store)
        assert listing.returncode == 0, listing.stderr
        rows = _ids(listing.stdout)
        assert sorted(rows.values()) == sorted([SHOP_A, f"{SHOP_A},{SHOP_B}"])
        for token in (first, second):  # ids, never tokens
            assert token not in listing.stdout and token[4:16] not in listing.stdout
        first_id = next(i for i, shops in rows.items() if shops == SHOP_A)

        kept = await Subscriber.connect(proc.ws_url, second)
        assert (await kept.subscribe([SHOP_A]))["op"] == "ready"
        doomed = await Subscriber.connect(proc.ws_url, first)
        assert (await doomed.subscribe([SHOP_A]))["op"] == "ready"

        revoked = cli("token", "revoke", first_id, env=store)
        assert revoked.returncode == 0, revoked.stderr
        assert first not in revoked.stdout
        # The open stream of that token closes with 4401 (within the check interval).
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await doomed.recv(timeout=8.0)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        # New connections with it are refused at once; the other token is untouched.
        again = await Subscriber.connect(proc.ws_url, first)
        with pytest.raises(websockets.ConnectionClosed) as refused:
            await again.recv(timeout=5.0)
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
        raw = body("after-revoke", SHOP_A)
        response = httpx.post(proc.base_url + "/webhooks/tiktok", content=raw, headers=sign(raw))
        assert response.status_code == 200
        assert nids(await kept.events(1)) == ["after-revoke"]
        await kept.close()
        assert set(_ids(cli("token", "list", env=store).stdout)) == set(rows) - {first_id}
        logs = proc.stop()
    assert first not in logs and second not in logs


def test_revoke_refuses_bad_or_unknown_ids(store: dict[str, str]) -> None:
    _create(store, SHOP_A)
    assert cli("token", "revoke", "abc", env=store).returncode == 2  # too short
    assert cli("token", "revoke", "vsr_abcdefgh", env=store).returncode == 2  # not an id
    unknown = cli("token", "revoke", "0000000000ff", env=store)
    assert unknown.returncode == 2 and "no token" in unknown.stderr
    assert len(_ids(cli("token", "list", env=store).stdout)) == 1
