"""VIRALSTOCK_RELAY_STORE: `serve` and `token` find their storage in the environment, so a
Redis password never has to be on a command line, and it never reaches a log line."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relay.config import RelayConfig, safe_url
from tests.relay.conftest import SHOP_A, RedisServer, Subscriber, body, nids, sign
from tests.relay.procs import RelayProcess, cli

PASSWORD = "s3cret-Redis-pass"


def test_store_env_picks_the_backend() -> None:
    env = {"VIRALSTOCK_RELAY_STORE": "redis://:pw@127.0.0.1:6379/0"}
    assert RelayConfig.from_env(env).bus == "redis://:pw@127.0.0.1:6379/0"
    assert RelayConfig.from_env({"VIRALSTOCK_RELAY_STORE": "/x/r.sqlite3"}).db == "/x/r.sqlite3"
    assert RelayConfig.from_env({"VIRALSTOCK_RELAY_STORE": "/x/r.sqlite3"}).bus is None
    # An explicit --db or --bus wins over the environment.
    assert RelayConfig.from_env(env, db="/y.sqlite3").bus is None
    assert RelayConfig.from_env(env, bus="redis://h/1").bus == "redis://h/1"


def test_safe_url_masks_the_password() -> None:
    assert safe_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert safe_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert safe_url("redis://h:1/0") == "redis://h:1/0"
    assert safe_url("sqlite:///var/lib/r.sqlite3") == "sqlite:///var/lib/r.sqlite3"


async def test_sqlite_store_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.sqlite3"
    env = {"VIRALSTOCK_RELAY_STORE": str(db)}
    with RelayProcess(env=env) as proc:
        created = cli("token", "create", "--shop", SHOP_A, env=env)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        sub = await Subscriber.connect(proc.ws_url, token)  # same store: the token works
        assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
        raw = body("env-1", SHOP_A)
        response = httpx.post(proc.base_url + "/webhooks/tiktok", content=raw, headers=sign(raw))
        assert response.status_code == 200
        assert nids(await sub.events(1)) == ["env-1"]
        await sub.close()
        logs = proc.stop()
    with sqlite3.connect(db) as conn:  # the relay's schema is in that file
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    assert str(db) in logs  # the started line says where events live


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis-auth"), password=PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.redis
async def test_redis_password_from_env_is_never_logged(locked_redis: RedisServer) -> None:
    assert PASSWORD in locked_redis.url
    env = {"VIRALSTOCK_RELAY_STORE": locked_redis.url}
    with RelayProcess(env=env) as proc:
        assert PASSWORD not in " ".join(proc.proc.args)  # type: ignore[arg-type]
        health = httpx.get(proc.base_url + "/healthz", timeout=5).json()
        assert health["backend"] == "redis" and health["status"] == "ok"
        created = cli("token", "create", "--shop", SHOP_A, env=env)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        sub = await Subscriber.connect(proc.ws_url, token)
        assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
        raw = body("redis-env-1", SHOP_A)
        response = httpx.post(proc.base_url + "/webhooks/tiktok", content=raw, headers=sign(raw))
        assert response.status_code == 200
        assert nids(await sub.events(1)) == ["redis-env-1"]
        await sub.close()
        logs = proc.stop()
    assert '"msg": "relay started"' in logs
    assert f"redis://:***@127.0.0.1:{locked_redis.port}/0" in logs
    assert PASSWORD not in logs
    assert PASSWORD not in created.stdout + created.stderr
