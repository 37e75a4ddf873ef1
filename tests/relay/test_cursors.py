"""Cursors belong to their shop (issue #18): a shop's cursors say nothing about other shops'
traffic, a cursor is a resume point only for the shop that issued it, and stores from before
(bare cursors) are migrated so a desktop holding an old cursor still resumes where it was.
Real relay, real SQLite and a real redis-server."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from relay.config import RelayConfig
from relay.server import RunningRelay, run_relay
from relay.tokens import hash_token
from tests.relay.conftest import (
    SHOP_A,
    SHOP_B,
    RedisServer,
    Subscriber,
    body,
    make_config,
    nids,
    post,
)
from tests.relay.legacy_store import TOKEN, old_sqlite_store


def _position(cursor: str) -> str:
    tag, dot, position = cursor.partition(".")
    assert dot and len(tag) == 8, cursor
    return position


async def _frames(relay: RunningRelay, token: str, shops: list[str], n: int) -> list[Any]:
    sub = await Subscriber.connect(relay.ws_url, token)
    assert (await sub.subscribe(shops))["op"] == "ready"
    frames = await sub.events(n)
    await sub.close()
    return frames


async def test_a_shops_cursors_ignore_other_shops_traffic(
    relay: RunningRelay, http: httpx.Client, relay_config: RelayConfig
) -> None:
    token = relay.create_token([SHOP_A, SHOP_B])
    post(http, body("a-1", SHOP_A))
    for i in range(50):
        post(http, body(f"b-{i}", SHOP_B))
    post(http, body("a-2", SHOP_A))
    frames = await _frames(relay, token, [SHOP_A], 2)
    assert nids(frames) == ["a-1", "a-2"]
    first, second = (_position(f["cursor"]) for f in frames)
    if relay_config.bus:  # stream ids: the relay's clock and a counter within one shop's ms
        assert int(second.split("-")[1]) <= 1
    else:  # the shop's own sequence: 50 events of another shop in between change nothing
        assert (int(first), int(second)) == (1, 2)
    # Each shop's cursors carry their shop's tag, not the other's.
    b_frames = await _frames(relay, token, [SHOP_B], 1)
    assert frames[0]["cursor"].split(".")[0] != b_frames[0]["cursor"].split(".")[0]


async def test_a_cursor_resumes_only_the_shop_that_issued_it(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A, SHOP_B])
    for i in range(3):
        post(http, body(f"a-{i}", SHOP_A))
        post(http, body(f"b-{i}", SHOP_B))
    a_cursor = (await _frames(relay, token, [SHOP_A], 3))[1]["cursor"]
    b_cursor = (await _frames(relay, token, [SHOP_B], 3))[1]["cursor"]
    # Shop A's own cursor: resumes right after it.
    sub = await Subscriber.connect(relay.ws_url, token)
    assert (await sub.subscribe([SHOP_A], after={SHOP_A: a_cursor}))["op"] == "ready"
    assert nids(await sub.events(1)) == ["a-2"]
    # An ack of shop B's cursor for shop A is refused.
    await sub.ack(SHOP_A, b_cursor)
    refused = await sub.recv()
    assert (refused["op"], refused["code"]) == ("error", "bad_ack")
    await sub.close()
    # Shop B's cursor offered for shop A is no resume point: `gap`, then A from the oldest.
    sub = await Subscriber.connect(relay.ws_url, token)
    assert (await sub.subscribe([SHOP_A], after={SHOP_A: b_cursor}))["op"] == "ready"
    assert await sub.recv() == {"op": "gap", "shop_id": SHOP_A}
    assert nids(await sub.events(3)) == ["a-0", "a-1", "a-2"]
    await sub.close()
    # A cursor written in full-width digits is not a number the relay reads.
    tag, position = a_cursor.split(".")
    wide = position.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    sub = await Subscriber.connect(relay.ws_url, token)
    answer = await sub.subscribe([SHOP_A], after={SHOP_A: f"{tag}.{wide}"})
    assert (answer["op"], answer["code"]) == ("error", "bad_cursor")
    await sub.close()


# --- migration of stores from before the shop tag ----------------------------------------


async def _check_migrated(
    relay: RunningRelay, http: httpx.Client, bare: dict[str, str], beyond: str
) -> None:
    """What a desktop holding `bare` cursors (A after its 2nd event, B after its 1st) sees;
    `beyond` is a bare cursor past shop B's head at the migration."""
    # The cursor the desktop stored, bare: it resumes right after it, no gap.
    sub = await Subscriber.connect(relay.ws_url, TOKEN)
    ready = await sub.subscribe([SHOP_A, SHOP_B], after=bare)
    assert ready["op"] == "ready"
    frames = await sub.events(3)
    assert sorted(nids(frames)) == ["a-3", "a-4", "b-2"]
    cursors = {f["webhook"]["tts_notification_id"]: f["cursor"] for f in frames}
    # New events get bound cursors that continue the shop's order.
    post(http, body("a-5", SHOP_A))
    (fresh,) = await sub.events(1)
    assert fresh["webhook"]["tts_notification_id"] == "a-5"
    assert fresh["cursor"] > cursors["a-4"] and "." in fresh["cursor"]
    await sub.ack(SHOP_A, fresh["cursor"])
    await sub.silence(0.3)
    await sub.close()
    # Without `after`, the token's (migrated) ack is the resume point.
    sub = await Subscriber.connect(relay.ws_url, TOKEN)
    assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
    await sub.silence(0.3)
    await sub.close()
    # A bare cursor the shop never issued before the migration (past its head then) is not a
    # resume point: gap, and the shop again from the oldest event held.
    sub = await Subscriber.connect(relay.ws_url, TOKEN)
    assert (await sub.subscribe([SHOP_B], after={SHOP_B: beyond}))["op"] == "ready"
    assert await sub.recv() == {"op": "gap", "shop_id": SHOP_B}
    assert nids(await sub.events(2)) == ["b-1", "b-2"]
    await sub.close()


async def test_an_old_sqlite_store_is_migrated(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    old_sqlite_store(Path(config.db))
    with run_relay(config) as relay, httpx.Client(base_url=relay.base_url) as http:
        bare = {SHOP_A: "0000000000000002", SHOP_B: "0000000000000001"}
        await _check_migrated(relay, http, bare, "0000000000000003")
    conn = sqlite3.connect(config.db)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    heads = dict(conn.execute("SELECT shop_id, legacy_head FROM shops").fetchall())
    assert heads == {SHOP_A: 4, SHOP_B: 2}  # not moved by the event stored since
    conn.close()
    # A restart does not migrate again: a bare cursor past the old head stays refused.
    with run_relay(config) as relay:
        sub = await Subscriber.connect(relay.ws_url, TOKEN)
        await sub.subscribe([SHOP_A], after={SHOP_A: "0000000000000005"})
        assert await sub.recv() == {"op": "gap", "shop_id": SHOP_A}
        await sub.close()


def _old_redis_store(server: RedisServer) -> dict[str, str]:
    """The Redis layout from before the tag: streams, bare acks, no `vs:schema`. Returns the
    bare cursors a desktop would hold (A after its 2nd event, B after its 1st)."""
    client = redis.Redis(port=server.port, socket_timeout=5)
    now = time.time()
    ids: dict[str, list[str]] = {SHOP_A: [], SHOP_B: []}
    for shop, prefix, count in ((SHOP_A, "a", 4), (SHOP_B, "b", 2)):
        for seq in range(1, count + 1):
            nid = f"{prefix}-{seq}"
            stream_id = client.xadd(
                f"vs:{{{shop}}}:ev", {"r": repr(now), "b": body(nid, shop).decode()}
            )
            ids[shop].append(stream_id.decode() if isinstance(stream_id, bytes) else stream_id)
            client.set(f"vs:{{{shop}}}:dd:{nid}", "1", ex=3600)
        client.sadd("vs:shops", shop)
    client.set(
        f"vs:tok:{hash_token(TOKEN)}",
        json.dumps({"shops": [SHOP_A, SHOP_B], "created_at": now - 60}),
    )
    client.hset(f"vs:ack:{hash_token(TOKEN)}", SHOP_A, ids[SHOP_A][1])
    client.close()

    def bare(stream_id: str) -> str:
        ms, seq = stream_id.split("-")
        return f"{int(ms):016d}-{int(seq):010d}"

    return {SHOP_A: bare(ids[SHOP_A][1]), SHOP_B: bare(ids[SHOP_B][0])}


@pytest.mark.redis
async def test_an_old_redis_store_is_migrated(redis_server: RedisServer, tmp_path: Path) -> None:
    redis_server.flush()
    bare = _old_redis_store(redis_server)
    config = make_config(tmp_path, bus=redis_server.url)
    with run_relay(config) as relay, httpx.Client(base_url=relay.base_url) as http:
        ms = int(bare[SHOP_B].split("-")[0])
        await _check_migrated(relay, http, bare, f"{ms + 60_000:016d}-0000000000")
    client = redis.Redis(port=redis_server.port, socket_timeout=5)
    assert client.get("vs:schema") == b"2"
    assert set(client.hgetall("vs:legacy")) == {SHOP_A.encode(), SHOP_B.encode()}
    client.close()
