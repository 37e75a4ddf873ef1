"""Fault tests on real processes sharing a real Redis (issue 9), beside test_redis.py and
test_crash.py: a subscriber away for a long time (longer than the in-memory ring holds, across
a reconnect to the other process), and a Redis restart under a `viralstock-relay serve`
process. After each, every webhook that got a 200 is delivered once after client dedupe."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import websockets

from tests.relay.conftest import SHOP_A, RedisServer, Subscriber, body, nids
from tests.relay.poster import post_all, retry_until_acknowledged
from tests.relay.procs import RelayProcess, cli
from tests.relay.test_redis import ReconnectingClient

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]


@pytest.fixture
def bus(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


async def test_subscriber_away_for_long_gets_everything_once_from_the_other_process(
    bus: str,
) -> None:
    """Away while 2,600 webhooks arrive round-robin on two processes: more than the 2,048 the
    hub keeps per shop in memory, so the catch-up comes from the streams; it reconnects to the
    other process and resumes after its last ack: everything, in order, nothing twice."""
    with RelayProcess("--bus", bus) as one, RelayProcess("--bus", bus) as two:
        token = cli("token", "create", "--shop", SHOP_A, "--bus", bus).stdout.split()[-1]
        sub = await Subscriber.connect(one.ws_url, token)
        await sub.subscribe([SHOP_A])
        first = [body(f"away-{i:05d}") for i in range(100)]
        assert set(await post_all(one.base_url, first, 8)) == {200}
        seen = await sub.events(100)
        await sub.ack(SHOP_A, seen[49]["cursor"])  # 50 stored by the desktop, 50 not yet
        await asyncio.sleep(0.2)  # the ack is a fire-and-forget frame: let it land
        sub.ws.transport.abort()  # the laptop lid closes: no close handshake

        later = [body(f"away-{i:05d}") for i in range(100, 2700)]
        answers = await asyncio.gather(
            post_all(one.base_url, later[0::2], 8), post_all(two.base_url, later[1::2], 8)
        )
        assert {s for batch in answers for s in batch} == {200}
        await asyncio.sleep(1.0)  # the relay notices the dead peer; time passes

        back = await Subscriber.connect(two.ws_url, token)
        assert (await back.subscribe([SHOP_A]))["op"] == "ready"
        frames = await back.events(2650, timeout=30)
        await back.silence(0.5)
        await back.close()
    got = nids(frames)
    assert got[:50] == [f"away-{i:05d}" for i in range(50, 100)]  # resumed after the ack
    assert len(got) == len(set(got)) == 2650
    assert set(got) == {f"away-{i:05d}" for i in range(50, 2700)}
    cursors = [f["cursor"] for f in frames]
    assert cursors == sorted(cursors)  # one order: the stream's


async def test_redis_restart_under_a_relay_process_loses_nothing_acknowledged(
    redis_server: RedisServer, bus: str
) -> None:
    """SIGKILL redis-server mid-burst and start it again (AOF, fsync always): the relay
    process answers 503 while it is gone, never 200 for something it did not store; TikTok's
    retries fill in; the subscriber, reconnecting when cut off, gets each webhook once."""
    ids = [f"rp-{i:04d}" for i in range(1200)]
    ok: set[str] = set()
    statuses: set[int] = set()

    def answered(index: int, status: int) -> None:
        statuses.add(status)
        if status == 200:
            ok.add(ids[index])

    with RelayProcess("--bus", bus) as proc:
        token = cli("token", "create", "--shop", SHOP_A, "--bus", bus).stdout.split()[-1]
        client = ReconnectingClient(proc.ws_url, token)
        stop = asyncio.Event()
        consumer = asyncio.create_task(client.run(stop))
        burst = asyncio.create_task(post_all(proc.base_url, [body(n) for n in ids], 16, answered))
        for _ in range(1000):
            if len(ok) >= 250:
                break
            await asyncio.sleep(0.01)
        assert not burst.done()
        redis_server.kill_and_restart()
        await asyncio.wait_for(burst, 60)
        assert statuses <= {200, 503}
        await retry_until_acknowledged(proc.base_url, ids, ok, body)
        assert ok == set(ids)
        for _ in range(400):
            if len(client.by_cursor) >= len(ids):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(consumer, 10)
        assert proc.proc.poll() is None  # the relay process survived its storage vanishing
    delivered = list(client.by_cursor.values())
    assert sorted(delivered) == sorted(ids)  # all of them, none twice


async def test_slow_subscriber_on_one_process_catches_up_and_slows_nobody(bus: str) -> None:
    """A subscriber that stops reading (tiny receive buffer, no reads) on one process while a
    burst of large webhooks arrives round-robin on two: the fast subscribers on both processes
    get everything as it comes; when the slow one reads again it gets everything, in the same
    order, once."""
    with RelayProcess("--bus", bus) as one, RelayProcess("--bus", bus) as two:
        token = cli("token", "create", "--shop", SHOP_A, "--bus", bus).stdout.split()[-1]
        raw_sock = socket.socket()
        raw_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        raw_sock.connect(("127.0.0.1", int(one.base_url.rsplit(":", 1)[1])))
        slow = await Subscriber.connect(
            one.ws_url, token, max_queue=1, max_size=2**20, sock=raw_sock, compression=None
        )
        fast_one = await Subscriber.connect(one.ws_url, token)
        fast_two = await Subscriber.connect(two.ws_url, token)
        for sub in (slow, fast_one, fast_two):
            assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
        pad = "p" * 10000
        total = 400
        order: list[str] = []
        for start in range(0, total, 50):
            raws = [
                body(f"slow-{i:04d}", data={"order_id": str(i), "pad": pad})
                for i in range(start, start + 50)
            ]
            answers = await asyncio.gather(
                post_all(one.base_url, raws[0::2], 4), post_all(two.base_url, raws[1::2], 4)
            )
            assert {s for batch in answers for s in batch} == {200}
            got_one = nids(await fast_one.events(50))
            got_two = nids(await fast_two.events(50))
            assert got_one == got_two
            order += got_one
        assert sorted(order) == [f"slow-{i:04d}" for i in range(total)]
        # The slow one really was held back: process one has not sent it everything yet.
        metrics = httpx.get(one.base_url + "/metrics", timeout=5).text
        sent = next(
            int(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("relay_events_delivered_total ")
        )
        assert sent < 2 * total, sent
        frames = await slow.events(total, timeout=30)
        await slow.silence(0.3)
        assert nids(frames) == order
        for sub in (slow, fast_one, fast_two):
            await sub.close()


async def test_storage_down_when_a_desktop_connects_is_said_on_the_socket(
    bus: str, redis_server: RedisServer
) -> None:
    """Redis gone when a desktop opens its stream: the token cannot be checked. The desktop
    gets the storage error and a 1011 close (it retries), and the relay does not die in the
    server's handler ("Exception in ASGI application" in its log)."""
    with RelayProcess("--bus", bus) as relay:
        token = cli("token", "create", "--shop", SHOP_A, "--bus", bus).stdout.split()[-1]
        redis_server.stop()
        try:
            sub = await Subscriber.connect(relay.ws_url, token)
            frame = await sub.recv(timeout=30)
            assert frame["op"] == "error" and frame["code"] == "storage"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await sub.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        finally:
            redis_server.start()
        log = relay.stop()
    assert "Exception in ASGI application" not in log
    assert "stream storage failure" in log
