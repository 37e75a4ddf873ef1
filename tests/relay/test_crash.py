"""SIGKILL the relay in the middle of a burst, restart it on the same database: every webhook
that got a 200 is delivered, and none is stored twice (exactly once after client dedupe)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.relay.conftest import SHOP_A, RedisServer, Subscriber, body
from tests.relay.poster import post_all
from tests.relay.procs import RelayProcess, cli

TOTAL = 1500
KILL_AFTER = 400


class Client:
    """What a desktop does: keep events by cursor (its dedupe key), ack as it stores them."""

    def __init__(self) -> None:
        self.by_cursor: dict[str, str] = {}
        self.last_acked: str | None = None

    async def consume(self, sub: Subscriber, stop: asyncio.Event) -> None:
        count = 0
        with contextlib.suppress(Exception):
            while not stop.is_set():
                try:
                    frame = await sub.recv(0.2)
                except TimeoutError:
                    continue
                if frame["op"] != "event":
                    continue
                cursor = frame["cursor"]
                nid = frame["webhook"]["tts_notification_id"]
                assert self.by_cursor.setdefault(cursor, nid) == nid
                count += 1
                if count % 25 == 0:
                    await sub.ack(SHOP_A, cursor)
                    self.last_acked = cursor


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        "sqlite-normal",
        "sqlite-normal-1",
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
async def test_sigkill_mid_burst_loses_nothing_acknowledged(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """With every backend and durability mode (`--sync normal` too: a killed process leaves
    its commits in the OS's page cache, PROTOCOL.md "Backends"). `sqlite-normal-1` posts one
    webhook at a time, so NORMAL commits them on the event loop rather than the writer thread
    (`SQLiteBackend._inline_ok`): a 200 from that path must survive the kill too."""
    in_flight = 1 if backend == "sqlite-normal-1" else 24
    durability: list[str] = []
    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        where = ["--bus", server.url]
    else:
        where = ["--db", str(tmp_path / "relay.sqlite3")]
        if backend.startswith("sqlite-normal"):
            durability = ["--sync", "normal"]
    token = cli("token", "create", "--shop", SHOP_A, *where).stdout.strip().splitlines()[-1]
    ids = [f"crash-{i:05d}" for i in range(TOTAL)]
    ok: set[str] = set()
    client = Client()

    first = RelayProcess(*where, *durability)  # by default synchronous=FULL
    killed = asyncio.Event()
    stop = asyncio.Event()
    sub = await Subscriber.connect(first.ws_url, token)
    await sub.subscribe([SHOP_A])
    consumer = asyncio.create_task(client.consume(sub, stop))

    def answered(index: int, status: int) -> None:
        if status == 200:
            ok.add(ids[index])

    raws = [body(nid) for nid in ids]
    burst = asyncio.create_task(post_all(first.base_url, raws, in_flight, answered, killed))
    for _ in range(1000):
        if len(ok) >= KILL_AFTER:
            break
        await asyncio.sleep(0.01)
    first.kill()  # SIGKILL, mid-burst: requests are in flight
    killed.set()
    await asyncio.wait_for(burst, 15)
    stop.set()
    await asyncio.wait_for(consumer, 5)
    first.stop()
    assert KILL_AFTER <= len(ok) < TOTAL, len(ok)

    with RelayProcess(*where, *durability) as second:
        # TikTok retries everything that got no 200; retries of stored ones are duplicates.
        missing = [nid for nid in ids if nid not in ok]
        answers = await post_all(second.base_url, [body(nid) for nid in missing], 16)
        assert set(answers) == {200}
        sub = await Subscriber.connect(second.ws_url, token)
        await sub.subscribe([SHOP_A])  # resumes after the last ack that reached the disk
        stop = asyncio.Event()
        consumer = asyncio.create_task(client.consume(sub, stop))
        for _ in range(500):
            if len(client.by_cursor) >= TOTAL:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # anything extra would show up now
        stop.set()
        await asyncio.wait_for(consumer, 5)
        await sub.close()

    delivered = list(client.by_cursor.values())
    # Every webhook that got a 200 before the kill was delivered ...
    assert ok <= set(delivered)
    # ... and stored once: no two cursors carry the same notification id.
    assert len(delivered) == len(set(delivered)) == TOTAL
