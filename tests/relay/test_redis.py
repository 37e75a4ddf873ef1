"""What only the shared Redis backend does: several relay processes on one Redis, a lost
notification channel, retention by MINID, and the durability check at start-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from relay.server import RunningRelay, run_relay
from tests.relay.conftest import SHOP_A, RedisServer, Subscriber, body, make_config, nids, post
from tests.relay.poster import post_all
from tests.relay.procs import RelayProcess, cli

pytestmark = pytest.mark.redis


@pytest.fixture
def bus(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def pair(bus: str, tmp_path: Path) -> Iterator[tuple[RunningRelay, RunningRelay]]:
    with (
        run_relay(make_config(tmp_path / "a", bus=bus)) as one,
        run_relay(make_config(tmp_path / "b", bus=bus)) as two,
    ):
        yield one, two


async def test_webhook_accepted_by_one_process_reaches_a_subscriber_on_another(
    pair: tuple[RunningRelay, RunningRelay],
) -> None:
    one, two = pair
    token = one.create_token([SHOP_A])
    on_two = await Subscriber.connect(two.ws_url, token)
    on_one = await Subscriber.connect(one.ws_url, token)
    await on_two.subscribe([SHOP_A])
    await on_one.subscribe([SHOP_A])
    # Round-robin over both processes, like a load balancer; retries land on the other one.
    raws = [body(f"rr-{i:03d}") for i in range(200)]
    answers = await asyncio.gather(
        post_all(one.base_url, raws[0::2], 8), post_all(two.base_url, raws[1::2], 8)
    )
    assert {status for batch in answers for status in batch} == {200}
    retries = await post_all(two.base_url, raws[0::2][:20], 4)
    assert set(retries) == {200}
    got_two = await on_two.events(200)
    got_one = await on_one.events(200)
    assert sorted(nids(got_two)) == sorted(f"rr-{i:03d}" for i in range(200))
    assert nids(got_one) == nids(got_two)  # one order for everyone: the stream's
    assert [f["cursor"] for f in got_two] == sorted(f["cursor"] for f in got_two)
    await on_two.silence(0.3)  # the duplicates were not stored again
    await on_one.close()
    await on_two.close()


async def test_token_minted_on_one_process_works_on_the_other(
    pair: tuple[RunningRelay, RunningRelay],
) -> None:
    one, two = pair
    token = two.create_token([SHOP_A])
    sub = await Subscriber.connect(one.ws_url, token)
    assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
    await sub.close()


async def test_lost_notification_channel_delays_but_loses_nothing(bus: str, tmp_path: Path) -> None:
    with (
        run_relay(make_config(tmp_path, bus=bus)) as running,
        httpx.Client(base_url=running.base_url) as http,
    ):
        token = running.create_token([SHOP_A])
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A])
        post(http, body("before"))
        assert nids(await sub.events(1)) == ["before"]
        client = redis.Redis.from_url(bus)
        generation = running.relay.hub.generation
        client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        # Written while the relay's listener is down or reconnecting.
        for i in range(5):
            post(http, body(f"during-{i}"))
        assert nids(await sub.events(5)) == [f"during-{i}" for i in range(5)]
        for _ in range(100):
            if running.relay.hub.generation > generation:
                break
            await asyncio.sleep(0.05)
        assert running.relay.hub.generation > generation  # the hub was reset
        post(http, body("after"))
        assert nids(await sub.events(1)) == ["after"]
        await sub.silence(0.3)
        await sub.close()


async def test_gap_after_retention_on_redis(bus: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, bus=bus, event_retention=0.5, trim_interval=0.1)
    with (
        run_relay(config) as running,
        httpx.Client(base_url=running.base_url) as http,
    ):
        token = running.create_token([SHOP_A])
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A])
        post(http, body("old"))
        (old,) = await sub.events(1)
        await sub.close()
        await asyncio.sleep(1.0)
        post(http, body("new"))
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A], after={SHOP_A: old["cursor"]})
        # "old" itself was trimmed but the client holds it: no gap, just the new one.
        assert nids(await sub.events(1)) == ["new"]
        await sub.close()
        earlier = "0000000000000001-0000000000"
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A], after={SHOP_A: earlier})
        assert await sub.recv() == {"op": "gap", "shop_id": SHOP_A}
        assert nids(await sub.events(1)) == ["new"]
        await sub.close()


async def test_token_create_cli_on_the_bus_while_serve_runs(bus: str) -> None:
    with RelayProcess("--bus", bus) as proc:
        created = cli("token", "create", "--shop", SHOP_A, "--bus", bus)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        sub = await Subscriber.connect(proc.ws_url, token)
        assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
        await sub.close()


def test_durability_is_checked_at_start(
    bus: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis.from_url(bus)
    with run_relay(make_config(tmp_path, bus=bus)) as running:
        assert running.relay.backend.durability_warning is None  # type: ignore[attr-defined]
    client.config_set("appendfsync", "everysec")
    try:
        caplog.set_level(logging.WARNING, logger="relay")
        with run_relay(make_config(tmp_path, bus=bus)) as running:
            warning = running.relay.backend.durability_warning  # type: ignore[attr-defined]
        assert warning is not None and "appendfsync always" in warning
        assert any("appendfsync" in record.getMessage() for record in caplog.records)
    finally:
        client.config_set("appendfsync", "always")
