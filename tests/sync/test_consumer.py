"""The relay consumer against a real relay over HTTP and WebSocket: resume from the stored
cursor, acknowledge only what was committed, replay the rest after a reconnect, survive a
relay restart, resync on `gap`, stop on a refused token."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from app.sync.consumer import RelayConsumer, RelayEvent
from app.sync.state import LinkState
from app.tiktok.signing import webhook_signature
from relay.backend.base import bind_cursor
from relay.config import RelayConfig
from relay.server import RunningRelay, run_relay
from tests.e2e.harness import free_port, wait_until
from tests.relay.legacy_store import TOKEN as LEGACY_TOKEN
from tests.relay.legacy_store import old_sqlite_store

pytestmark = pytest.mark.timeout(60)

APP_KEY = "consumer-test-key"
APP_SECRET = "consumer-test-secret"  # loopback-only test value
SHOP = "7495540735365777507"


class ListSink:
    """A sink that 'commits' to a list; `gate` can hold a batch to simulate a slow commit."""

    def __init__(self, cursors: dict[str, str] | None = None) -> None:
        self.committed: list[RelayEvent] = []
        self._cursors = dict(cursors or {})
        self.resynced: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail_next = False

    async def apply(self, events: Sequence[RelayEvent]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("commit failed")
        self.committed.extend(events)
        for event in events:
            self._cursors[event.shop_id] = event.cursor

    async def resync(self, shop_id: str) -> None:
        self.resynced.append(shop_id)

    def cursors(self) -> dict[str, str]:
        return dict(self._cursors)

    @property
    def ids(self) -> list[str]:
        return [str(e.webhook["tts_notification_id"]) for e in self.committed]


def _config(folder: Path, **changes: object) -> RelayConfig:
    return RelayConfig(
        db=str(folder / "relay.sqlite3"),
        host="127.0.0.1",
        port=int(changes.pop("port", 0)),  # type: ignore[call-overload]
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        sqlite_sync="NORMAL",
        log_level="WARNING",
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with run_relay(_config(tmp_path, port=free_port())) as running:
        yield running


def post(base_url: str, n: int, start: int = 0) -> None:
    with httpx.Client(trust_env=False, timeout=5) as http:
        for i in range(start, start + n):
            body = json.dumps(
                {
                    "type": 1,
                    "tts_notification_id": f"n{i:06d}",
                    "shop_id": SHOP,
                    "timestamp": int(time.time()),
                    "data": {"order_id": f"{i}", "order_status": "UNPAID", "update_time": 1},
                },
                separators=(",", ":"),
            ).encode()
            sig = webhook_signature(APP_KEY, APP_SECRET, body)
            response = http.post(
                base_url + "/webhooks/tiktok",
                content=body,
                headers={"Authorization": sig, "content-type": "application/json"},
            )
            assert response.status_code == 200


async def _run(consumer: RelayConsumer) -> asyncio.Task[None]:
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(consumer.connected.wait(), 10)
    return task


async def _stop(consumer: RelayConsumer, task: asyncio.Task[None]) -> None:
    await consumer.stop()
    await asyncio.wait_for(task, 10)


async def test_delivers_in_order_and_resumes_after_the_committed_cursor(
    relay: RunningRelay,
) -> None:
    token = relay.create_token([SHOP])
    sink = ListSink()
    consumer = RelayConsumer(relay.ws_url, token, [SHOP], sink)
    task = await _run(consumer)
    await asyncio.to_thread(post, relay.base_url, 20)
    await wait_until(lambda: len(sink.committed) == 20, 10)
    assert sink.ids == [f"n{i:06d}" for i in range(20)]
    # Hold the next commits: those events are received but never committed or acknowledged.
    sink.gate = asyncio.Event()
    await asyncio.to_thread(post, relay.base_url, 5, 20)
    await wait_until(lambda: consumer.frames >= 26, 10)
    await consumer.stop()
    sink.gate.set()
    await asyncio.wait_for(task, 10)
    committed = sink.ids
    # A new consumer (the app restarted) resumes from what was committed: nothing lost, and
    # nothing committed is delivered again.
    resumed = ListSink(sink.cursors())
    resumed.committed = list(sink.committed)
    again = RelayConsumer(relay.ws_url, token, [SHOP], resumed)
    task = await _run(again)
    await asyncio.to_thread(post, relay.base_url, 3, 25)
    await wait_until(lambda: len(resumed.committed) >= 28, 10)
    await _stop(again, task)
    assert resumed.ids == [f"n{i:06d}" for i in range(28)]
    assert resumed.ids[: len(committed)] == committed


async def test_a_failed_commit_is_replayed_not_lost(relay: RunningRelay) -> None:
    token = relay.create_token([SHOP])
    sink = ListSink()
    sink.fail_next = True
    consumer = RelayConsumer(relay.ws_url, token, [SHOP], sink)
    task = await _run(consumer)
    await asyncio.to_thread(post, relay.base_url, 10)
    await wait_until(lambda: len(sink.committed) >= 10, 15)
    await _stop(consumer, task)
    assert consumer.apply_failures == 1
    assert sorted(set(sink.ids)) == [f"n{i:06d}" for i in range(10)]


async def test_survives_a_relay_restart(tmp_path: Path) -> None:
    config = _config(tmp_path, port=free_port())
    states: list[LinkState] = []
    sink = ListSink()
    with run_relay(config) as relay:
        token = relay.create_token([SHOP])
        consumer = RelayConsumer(
            relay.ws_url, token, [SHOP], sink, on_state=lambda s, _d: states.append(s)
        )
        task = await _run(consumer)
        await asyncio.to_thread(post, relay.base_url, 5)
        await wait_until(lambda: len(sink.committed) == 5, 10)
    assert not task.done()
    with run_relay(config) as relay:
        await asyncio.to_thread(post, relay.base_url, 5, 5)
        await wait_until(lambda: len(sink.committed) == 10, 20)
        await _stop(consumer, task)
    assert sink.ids == [f"n{i:06d}" for i in range(10)]
    assert LinkState.RECONNECTING in states
    assert states[-1] is LinkState.STOPPED
    assert consumer.connects >= 2


async def test_gap_asks_for_a_resync(tmp_path: Path) -> None:
    config = _config(tmp_path, port=free_port(), event_retention=0.2, trim_interval=0.1)
    with run_relay(config) as relay:
        token = relay.create_token([SHOP])
        await asyncio.to_thread(post, relay.base_url, 3)
        await asyncio.sleep(1.0)  # retention passes: the relay trims those events
        await asyncio.to_thread(post, relay.base_url, 1, 3)
        # The cursor of the first event, as the relay issued it (now trimmed).
        sink = ListSink({SHOP: bind_cursor(SHOP, "0000000000000001")})
        consumer = RelayConsumer(relay.ws_url, token, [SHOP], sink)
        task = await _run(consumer)
        await wait_until(lambda: sink.resynced == [SHOP], 10)
        await _stop(consumer, task)
    assert consumer.gaps == 1


async def test_a_refused_token_stops_with_an_error_state(relay: RunningRelay) -> None:
    states: list[tuple[LinkState, str]] = []
    consumer = RelayConsumer(
        relay.ws_url,
        "not-a-real-token",
        [SHOP],
        ListSink(),
        on_state=lambda s, d: states.append((s, d)),
    )
    await asyncio.wait_for(consumer.run(), 10)
    assert consumer.fatal is not None
    assert states[-1][0] is LinkState.ERROR
    assert "not-a-real-token" not in str(consumer.fatal)


class FailingSink(ListSink):
    """Every commit fails until `healthy` is set (e.g. TikTok down for every re-read)."""

    def __init__(self) -> None:
        super().__init__()
        self.healthy = False
        self.attempts = 0

    async def apply(self, events: Sequence[RelayEvent]) -> None:
        self.attempts += 1
        if not self.healthy:
            raise RuntimeError("re-read failed")
        await super().apply(events)


async def test_failing_applies_back_off_instead_of_a_reconnect_loop(relay: RunningRelay) -> None:
    """The relay answers `ready` on every reconnect; that must not reset the delay after a
    failed apply, or a persistent failure reconnects and refetches several times a second."""
    token = relay.create_token([SHOP])
    sink = FailingSink()
    details: list[str] = []
    consumer = RelayConsumer(
        relay.ws_url, token, [SHOP], sink, on_state=lambda _s, d: details.append(d)
    )
    task = await _run(consumer)
    await asyncio.to_thread(post, relay.base_url, 3)
    await asyncio.sleep(4.0)
    failures = consumer.apply_failures
    connects = consumer.connects
    sink.healthy = True
    await wait_until(lambda: len(sink.committed) >= 3, 70)
    await _stop(consumer, task)
    # Delays of uniform(0, 1), (0, 2), (0, 4) s with a 0.5 s floor: a handful in 4 s, where a
    # reset backoff made it dozens.
    assert 1 <= failures <= 8, failures
    assert connects <= failures + 1
    assert "relay unreachable" not in details
    assert sorted(set(sink.ids)) == [f"n{i:06d}" for i in range(3)]


async def test_resumes_from_a_cursor_stored_before_cursors_named_their_shop(
    tmp_path: Path,
) -> None:
    """A desktop that stored a bare cursor from an older relay resumes exactly after it once
    the relay's store is migrated (no gap, no resync), then goes on with the new cursors."""
    config = _config(tmp_path, port=free_port())
    old_sqlite_store(Path(config.db))  # shop SHOP has events 1..4
    with run_relay(config) as relay:
        sink = ListSink({SHOP: "0000000000000002"})
        consumer = RelayConsumer(relay.ws_url, LEGACY_TOKEN, [SHOP], sink)
        task = await _run(consumer)
        await wait_until(lambda: len(sink.committed) == 2, 10)
        await asyncio.to_thread(post, relay.base_url, 1)
        await wait_until(lambda: len(sink.committed) == 3, 10)
        await _stop(consumer, task)
        assert sink.ids == ["a-3", "a-4", "n000000"]
        assert consumer.gaps == 0 and sink.resynced == []
        assert sink.cursors()[SHOP].endswith(".0000000000000005")
        # The app restarts with the new cursor: nothing is delivered twice.
        again = RelayConsumer(relay.ws_url, LEGACY_TOKEN, [SHOP], sink)
        task = await _run(again)
        await asyncio.to_thread(post, relay.base_url, 1, 1)
        await wait_until(lambda: len(sink.committed) == 4, 10)
        await _stop(again, task)
    assert sink.ids == ["a-3", "a-4", "n000000", "n000001"]
    assert again.gaps == 0
