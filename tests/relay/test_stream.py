"""The WebSocket stream over real sockets: order, replay, gap, isolation, auth, slow readers."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest
import websockets

from relay.server import RunningRelay, run_relay
from tests.e2e.harness import wait_until
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
from tests.relay.poster import post_all


async def test_delivery_in_order_with_increasing_cursors(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    sent = [f"order-{i:03d}" for i in range(50)]
    for nid in sent:
        assert post(http, body(nid)).status_code == 200
    frames = await sub.events(50)
    assert nids(frames) == sent
    cursors = [f["cursor"] for f in frames]
    assert cursors == sorted(cursors) and len(set(cursors)) == 50
    await sub.close()


async def test_concurrent_posts_arrive_in_commit_order(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    raws = [body(f"conc-{i:03d}") for i in range(200)]
    assert set(await post_all(relay.base_url, raws, 16)) == {200}
    frames = await sub.events(200)
    assert sorted(nids(frames)) == sorted(f"conc-{i:03d}" for i in range(200))
    cursors = [f["cursor"] for f in frames]
    assert cursors == sorted(cursors) and len(set(cursors)) == 200
    await sub.silence(0.3)
    await sub.close()


async def test_replay_after_reconnect_resumes_after_last_ack(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    for i in range(10):
        post(http, body(f"r-{i}"))
    frames = await sub.events(10)
    await sub.ack(SHOP_A, frames[5]["cursor"])  # stored 0..5 durably, then crashed
    await asyncio.sleep(0.1)
    await sub.close()
    for i in range(10, 13):
        post(http, body(f"r-{i}"))  # sent while away
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    again = await sub.events(7)
    assert nids(again) == [f"r-{i}" for i in range(6, 13)]
    await sub.silence(0.3)
    # An explicit `after` wins over the stored ack.
    await sub.close()
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A], after={SHOP_A: frames[8]["cursor"]})
    assert nids(await sub.events(4)) == ["r-9", "r-10", "r-11", "r-12"]
    await sub.close()


async def test_ack_survives_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as http:
        token = running.create_token([SHOP_A])
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A])
        for i in range(4):
            post(http, body(f"p-{i}"))
        frames = await sub.events(4)
        await sub.ack(SHOP_A, frames[1]["cursor"])
        await sub.silence(0.2)  # let the ack reach the writer
        await sub.close()
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as http:
        post(http, body("p-4"))
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A])
        frames = await sub.events(3)
        assert nids(frames) == ["p-2", "p-3", "p-4"]
        assert frames[-1]["cursor"].endswith(".0000000000000005")  # continues across restarts
        await sub.close()


async def test_gap_when_cursor_is_older_than_retention(tmp_path: Path) -> None:
    config = make_config(tmp_path, event_retention=3600.0, trim_interval=0.05)
    ahead = [0.0]  # the relay's clock runs this far ahead of the wall clock

    def clock() -> float:
        return time.time() + ahead[0]

    with (
        run_relay(config, clock=clock) as running,
        httpx.Client(base_url=running.base_url) as http,
    ):
        token = running.create_token([SHOP_A])
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A])
        post(http, body("old-1"))
        post(http, body("old-2"))
        first = await sub.events(2)
        await sub.close()
        # An hour and a bit later (on the relay's clock): both events fall out of retention.
        # The desktops' webhooks are signed with the wall clock, so the window for new ones
        # stays open (it is wider than the hour).
        ahead[0] = 3700.0
        deadline = time.monotonic() + 5
        while running.relay.metrics.trimmed < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        post(http, body("new-1"))
        sub = await Subscriber.connect(running.ws_url, token)
        ready = await sub.subscribe([SHOP_A], after={SHOP_A: first[0]["cursor"]})
        assert ready["op"] == "ready"
        assert await sub.recv() == {"op": "gap", "shop_id": SHOP_A}
        assert nids(await sub.events(1)) == ["new-1"]
        await sub.close()
        # A client that is up to date gets no gap.
        sub = await Subscriber.connect(running.ws_url, token)
        await sub.subscribe([SHOP_A], after={SHOP_A: first[1]["cursor"]})
        assert nids(await sub.events(1)) == ["new-1"]
        await sub.close()


async def test_isolation_between_shops_and_tokens(relay: RunningRelay, http: httpx.Client) -> None:
    token_a = relay.create_token([SHOP_A])
    token_b = relay.create_token([SHOP_B])
    token_ab = relay.create_token([SHOP_A, SHOP_B])
    sub_a = await Subscriber.connect(relay.ws_url, token_a)
    sub_b = await Subscriber.connect(relay.ws_url, token_b)
    sub_ab = await Subscriber.connect(relay.ws_url, token_ab)
    await sub_a.subscribe([SHOP_A])
    await sub_b.subscribe([SHOP_B])
    await sub_ab.subscribe([SHOP_A, SHOP_B])
    post(http, body("a-1", SHOP_A))
    post(http, body("b-1", SHOP_B))
    post(http, body("a-2", SHOP_A))
    assert nids(await sub_a.events(2)) == ["a-1", "a-2"]
    assert nids(await sub_b.events(1)) == ["b-1"]
    both = await sub_ab.events(3)
    assert [n for n in nids(both) if n.startswith("a")] == ["a-1", "a-2"]
    assert {f["shop_id"] for f in both} == {SHOP_A, SHOP_B}
    await sub_a.silence(0.2)
    await sub_b.silence(0.2)
    # Acks are per token: token_a acking does not move token_ab's cursor.
    frames_a = both
    await sub_a.ack(SHOP_A, [f for f in frames_a if f["shop_id"] == SHOP_A][-1]["cursor"])
    await sub_ab.close()
    sub_ab = await Subscriber.connect(relay.ws_url, token_ab)
    await sub_ab.subscribe([SHOP_A])
    assert nids(await sub_ab.events(2)) == ["a-1", "a-2"]
    for s in (sub_a, sub_b, sub_ab):
        await s.close()


async def test_wrong_shop_is_refused_with_error_frame(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    refused = await sub.subscribe([SHOP_A, SHOP_B])
    assert refused["op"] == "error" and refused["code"] == "forbidden_shop"
    post(http, body("x-1", SHOP_B))
    post(http, body("x-2", SHOP_A))
    await sub.silence(0.4)  # refused subscription: nothing at all is forwarded
    # The connection stays usable for a correct subscription.
    assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
    assert nids(await sub.events(1)) == ["x-2"]
    await sub.silence(0.2)
    await sub.close()


@pytest.mark.parametrize("token", [None, "vsr_" + "x" * 43, "garbage"])
async def test_unauthenticated_is_closed_with_4401(
    relay: RunningRelay, http: httpx.Client, token: str | None
) -> None:
    post(http, body("secret-1"))
    sub = await Subscriber.connect(relay.ws_url, token)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await sub.subscribe([SHOP_A])
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_protocol_errors(relay: RunningRelay, http: httpx.Client) -> None:
    token = relay.create_token([SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.send({"op": "dance"})
    assert (await sub.recv())["code"] == "bad_op"
    await sub.ws.send("{not json")
    assert (await sub.recv())["code"] == "bad_frame"
    await sub.ws.send("[" * 60000)  # deep enough to exhaust the JSON parser's recursion
    assert (await sub.recv())["code"] == "bad_frame"
    await sub.ws.send(b"binary")
    assert (await sub.recv())["code"] == "bad_frame"
    bad = await sub.subscribe([SHOP_A], after={SHOP_A: "not-a-cursor"})
    assert bad["code"] == "bad_cursor"
    await sub.subscribe([SHOP_A])
    await sub.ack(SHOP_A, "0000000000000099")  # never delivered
    assert (await sub.recv())["code"] == "bad_ack"
    assert (await sub.subscribe([SHOP_A]))["code"] == "already_subscribed"
    await sub.close()


async def test_a_subscriber_leaving_while_idle_leaves_no_waiter_and_others_still_wake(
    relay: RunningRelay, http: httpx.Client
) -> None:
    """Each idle subscriber waits on its own future (relay/hub.py): one that leaves must take
    its future with it (desktops that reconnect all day would otherwise pile them up) and
    must not cancel the wake-up of the others."""
    token = relay.create_token([SHOP_A])
    stays = await Subscriber.connect(relay.ws_url, token)
    leaves = await Subscriber.connect(relay.ws_url, token)
    await stays.subscribe([SHOP_A])
    await leaves.subscribe([SHOP_A])
    assert post(http, body("before")).status_code == 200
    assert nids(await stays.events(1)) == ["before"]
    assert nids(await leaves.events(1)) == ["before"]
    ring = relay.relay.hub._rings[SHOP_A]
    await wait_until(lambda: len(ring.waiters) == 2, 5, step=0.01)  # both subscribers idle
    await leaves.close()
    await wait_until(lambda: ring.watchers == 1, 5, step=0.01)  # the relay saw the close
    await wait_until(lambda: len(ring.waiters) == 1, 5, step=0.01)  # the leaver's waiter went
    assert post(http, body("after")).status_code == 200
    assert nids(await stays.events(1)) == ["after"]
    await stays.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_slow_subscriber_is_bounded_and_does_not_slow_others(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    config = make_config(tmp_path, recent_per_shop=64)
    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        config = config.with_(bus=server.url)
    with run_relay(config) as running:
        token = running.create_token([SHOP_A])
        fast = await Subscriber.connect(running.ws_url, token)
        # The slow one never reads, with a small fixed receive buffer (no kernel autotuning) so
        # the relay's writes to it block after a few MB instead of tens.
        raw_sock = socket.socket()
        raw_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        raw_sock.connect(("127.0.0.1", int(running.base_url.rsplit(":", 1)[1])))
        slow = await Subscriber.connect(
            running.ws_url, token, max_queue=1, max_size=2**20, sock=raw_sock, compression=None
        )
        await fast.subscribe([SHOP_A])
        await slow.subscribe([SHOP_A])
        total = 600
        pad = "p" * 10000
        started = time.monotonic()
        fast_order: list[str] = []
        for start in range(0, total, 50):
            raws = [
                body(f"s-{i:04d}", data={"order_id": str(i), "pad": pad})
                for i in range(start, start + 50)
            ]
            assert set(await post_all(running.base_url, raws, 8)) == {200}
            got = await fast.events(50)
            assert sorted(nids(got)) == [f"s-{i:04d}" for i in range(start, start + 50)]
            fast_order += nids(got)
        assert time.monotonic() - started < 30
        # The slow reader was held back by its socket (not buffered for in the relay).
        held_back = running.relay.metrics.delivered - total
        assert held_back < total, held_back
        ring = running.relay.hub._rings[SHOP_A]
        assert len(ring.entries) <= 64  # memory per shop is bounded, whatever the slow one does
        # Now the slow subscriber reads: it still gets everything, in order (from storage).
        frames = await slow.events(total, timeout=20)
        assert nids(frames) == fast_order
        await fast.close()
        await slow.close()


async def test_subscriber_count_and_latency_metrics(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    post(http, body("m-1"))
    await sub.events(1)
    text = http.get("/metrics").text
    assert "relay_subscribers_connected 1" in text
    assert "relay_events_delivered_total 1" in text
    assert "relay_delivery_latency_seconds_count 1" in text
    await sub.close()
    for _ in range(50):
        if "relay_subscribers_connected 0" in http.get("/metrics").text:
            break
        await asyncio.sleep(0.05)
    assert "relay_subscribers_connected 0" in http.get("/metrics").text


async def test_ack_of_a_cursor_from_an_earlier_connection(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A])
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    for i in range(3):
        post(http, body(f"e-{i}"))
    frames = await sub.events(3)
    await sub.close()  # dropped before it could ack
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A], after={SHOP_A: frames[2]["cursor"]})
    await sub.ack(SHOP_A, frames[2]["cursor"])  # stored on the old connection: accepted
    await sub.silence(0.3)
    await sub.close()
    sub = await Subscriber.connect(relay.ws_url, token)
    await sub.subscribe([SHOP_A])  # resumes after that ack: nothing to replay
    await sub.silence(0.3)
    post(http, body("e-3"))
    assert nids(await sub.events(1)) == ["e-3"]
    await sub.close()


async def test_silent_peer_is_dropped_by_ping_timeout(tmp_path: Path) -> None:
    """A peer that completes the handshake and then never answers pings is disconnected."""
    import base64
    import os

    config = make_config(tmp_path, ws_ping_interval=0.2, ws_ping_timeout=0.3)
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as http:
        token = running.create_token([SHOP_A])
        port = int(running.base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert response.startswith(b"HTTP/1.1 101")
        for _ in range(40):
            if "relay_subscribers_connected 1" in http.get("/metrics").text:
                break
            await asyncio.sleep(0.05)
        assert "relay_subscribers_connected 1" in http.get("/metrics").text
        # Never read, never pong: the relay must give up on us within a second or so.
        for _ in range(60):
            if "relay_subscribers_connected 0" in http.get("/metrics").text:
                break
            await asyncio.sleep(0.05)
        assert "relay_subscribers_connected 0" in http.get("/metrics").text
        writer.close()
