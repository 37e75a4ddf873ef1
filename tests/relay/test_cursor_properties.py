"""Property test over the `after` cursors a subscriber may offer (issue #18), against a real
relay over WebSocket: only a cursor shop A issued resumes shop A mid-log; anything else
(shop B's cursors, Unicode digits, bare or mangled cursors) is `bad_cursor` or a `gap`
followed by shop A from its oldest event, never a silent resume somewhere in A's log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from relay.server import RunningRelay, run_relay
from tests.relay.conftest import SHOP_A, SHOP_B, Subscriber, body, make_config, nids, post

EVENTS = 5


@dataclass(frozen=True)
class Logs:
    relay: RunningRelay
    token: str
    a: list[str]  # shop A's cursors, oldest first
    b: list[str]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    config = make_config(tmp_path_factory.mktemp("cursors"))
    with run_relay(config) as relay, httpx.Client(base_url=relay.base_url) as http:
        token = relay.create_token([SHOP_A, SHOP_B])
        for i in range(EVENTS):
            post(http, body(f"a-{i}", SHOP_A))
            post(http, body(f"b-{i}", SHOP_B))

        async def read(shop: str) -> list[str]:
            sub = await Subscriber.connect(relay.ws_url, token)
            await sub.subscribe([shop])
            frames = await sub.events(EVENTS)
            await sub.close()
            return [f["cursor"] for f in frames]

        yield Logs(relay, token, asyncio.run(read(SHOP_A)), asyncio.run(read(SHOP_B)))


def _wide(text: str) -> str:
    return text.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})


def offered(logs: Logs) -> st.SearchStrategy[str]:
    own = st.sampled_from(logs.a)
    other = st.sampled_from(logs.b)
    return st.one_of(
        own,
        other,
        own.map(lambda c: c.split(".")[1]),  # bare: this store never issued bare cursors
        own.map(lambda c: c.split(".")[0] + "." + _wide(c.split(".")[1])),
        st.tuples(own, other).map(lambda p: p[0].split(".")[0] + "." + p[1].split(".")[1]),
        own.map(lambda c: c.upper()),
        own.map(lambda c: c + "\n"),
        st.text(st.sampled_from("0123456789abcdef.-"), max_size=30),
        st.text(max_size=30),
    )


async def _offer(logs: Logs, cursor: str) -> tuple[str, list[str]]:
    sub = await Subscriber.connect(logs.relay.ws_url, logs.token)
    try:
        first = await sub.subscribe([SHOP_A], after={SHOP_A: cursor})
        if first["op"] == "error":
            return first["code"], []
        assert first["op"] == "ready", first
        frame = await sub.recv()
        if frame == {"op": "gap", "shop_id": SHOP_A}:
            return "gap", nids(await sub.events(EVENTS))
        if frame["op"] != "event":
            return frame["op"], []
        got = [frame["webhook"]["tts_notification_id"]]
        remaining = EVENTS - 1 - logs.a.index(cursor) - 1 if cursor in logs.a else 0
        got += nids(await sub.events(remaining)) if remaining > 0 else []
        return "resumed", got
    finally:
        await sub.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_only_the_issuing_shops_cursor_resumes_it(logs: Logs, data: st.DataObject) -> None:
    cursor = data.draw(offered(logs))
    if cursor in logs.a[-1:]:
        return  # A's newest cursor: nothing after it to observe
    outcome, got = asyncio.run(_offer(logs, cursor))
    event(outcome)
    everything = [f"a-{i}" for i in range(EVENTS)]
    if cursor in logs.a:
        assert outcome == "resumed"
        assert got == everything[logs.a.index(cursor) + 1 :]
    else:
        assert outcome in {"bad_cursor", "gap"}, (cursor, outcome, got)
        if outcome == "gap":
            assert got == everything
