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
import websockets

from relay.server import RunningRelay, run_relay
from tests.relay.conftest import SHOP_A, RedisServer, Subscriber, body, make_config, nids, post
from tests.relay.poster import post_all, retry_until_acknowledged
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
        client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # type: ignore[no-untyped-call]
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
    config = make_config(tmp_path, bus=bus, event_retention=1.0, trim_interval=0.1)
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
        await asyncio.sleep(1.5)
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


class ReconnectingClient:
    """A desktop's consumer: keeps events by cursor, acks, reconnects whenever it is cut off."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.ws_url = ws_url
        self.token = token
        self.by_cursor: dict[str, str] = {}
        self.reconnects = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sub = await Subscriber.connect(self.ws_url, self.token)
                ready = await sub.subscribe([SHOP_A])
                if ready.get("op") != "ready":
                    raise ConnectionError(str(ready))
                while not stop.is_set():
                    try:
                        frame = await sub.recv(0.2)
                    except TimeoutError:
                        continue
                    if frame["op"] != "event":
                        continue
                    nid = frame["webhook"]["tts_notification_id"]
                    assert self.by_cursor.setdefault(frame["cursor"], nid) == nid
                    await sub.ack(SHOP_A, frame["cursor"])
                await sub.close()
            except (OSError, TimeoutError, websockets.ConnectionClosed, ConnectionError):
                self.reconnects += 1
                await asyncio.sleep(0.1)


async def test_redis_restart_mid_burst_loses_nothing_acknowledged(
    redis_server: RedisServer, bus: str, tmp_path: Path
) -> None:
    ids = [f"rr-{i:04d}" for i in range(1500)]
    ok: set[str] = set()

    def answered(index: int, status: int) -> None:
        if status == 200:
            ok.add(ids[index])

    with run_relay(make_config(tmp_path, bus=bus)) as running:
        client = ReconnectingClient(running.ws_url, running.create_token([SHOP_A]))
        stop = asyncio.Event()
        consumer = asyncio.create_task(client.run(stop))
        burst = asyncio.create_task(
            post_all(running.base_url, [body(n) for n in ids], 16, answered)
        )
        for _ in range(500):
            if len(ok) >= 300:
                break
            await asyncio.sleep(0.01)
        assert not burst.done()  # the crash lands in the middle of the burst
        redis_server.kill_and_restart()
        await asyncio.wait_for(burst, 60)
        # TikTok retries whatever got no 200; a stored one comes back as a duplicate (200).
        await retry_until_acknowledged(running.base_url, ids, ok, body)
        assert ok == set(ids), f"{len(ids) - len(ok)} never acknowledged"
        for _ in range(300):
            if len(client.by_cursor) >= len(ids):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(consumer, 10)
    delivered = list(client.by_cursor.values())
    never = set(ids) - set(delivered)
    assert not never, f"{len(never)} acknowledged webhooks never delivered"
    assert len(delivered) == len(ids)  # and none was stored twice


async def test_sigkill_one_of_two_processes_mid_burst(bus: str) -> None:
    """Two relays share Redis; one is SIGKILLed during a burst it is taking. The subscriber on
    the other one gets every webhook that got a 200, once; TikTok's retries (sent to the
    survivor) fill in the rest."""
    ids = [f"k2-{i:04d}" for i in range(1500)]
    ok: set[str] = set()

    def answered(index: int, status: int) -> None:
        if status == 200:
            ok.add(ids[index])

    with RelayProcess("--bus", bus) as survivor:
        victim = RelayProcess("--bus", bus)
        token = cli("token", "create", "--shop", SHOP_A, "--bus", bus).stdout.split()[-1]
        client = ReconnectingClient(survivor.ws_url, token)
        stop = asyncio.Event()
        consumer = asyncio.create_task(client.run(stop))
        killed = asyncio.Event()
        burst = asyncio.create_task(
            post_all(victim.base_url, [body(n) for n in ids], 16, answered, killed)
        )
        for _ in range(1000):
            if len(ok) >= 300:
                break
            await asyncio.sleep(0.01)
        assert not burst.done()
        victim.kill()
        killed.set()
        await asyncio.wait_for(burst, 30)
        victim.stop()
        assert 300 <= len(ok) < len(ids)
        acknowledged_before_kill = set(ok)
        missing = [n for n in ids if n not in ok]
        statuses = await post_all(survivor.base_url, [body(n) for n in missing], 8)
        assert set(statuses) == {200}
        for _ in range(400):
            if len(client.by_cursor) >= len(ids):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(consumer, 10)
    delivered = list(client.by_cursor.values())
    assert acknowledged_before_kill <= set(delivered)
    assert sorted(delivered) == sorted(ids)  # all of them, none twice
