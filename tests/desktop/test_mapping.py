"""The Qt-free half of the wiring: link states, progress, the log book, settings units."""

from __future__ import annotations

from decimal import Decimal

from app.insight.types import SkuSettings
from app.sync.state import (
    BackfillProgress,
    Change,
    ChangeKind,
    LinkState,
    LinkStatus,
    ShopRef,
    ShopSnapshot,
    SyncMetrics,
)
from app.ui.mapping import LogBook, RateMeter, build_viewmodel, link_state, progress_of
from app.ui.store_reader import to_insight, to_stored
from app.ui.viewmodel import LinkState as UiLink
from app.ui.viewmodel import LogLevel


def test_link_states_map_to_the_header() -> None:
    assert link_state(LinkStatus(LinkState.CONNECTED))[0] is UiLink.ONLINE
    assert link_state(LinkStatus(LinkState.RECONNECTING))[0] is UiLink.CONNECTING
    state, detail = link_state(LinkStatus(LinkState.DEAUTHORIZED, "105001"))
    assert state is UiLink.ERROR and "reconnect" in detail
    state, detail = link_state(LinkStatus(LinkState.EXPIRING))
    assert state is UiLink.ONLINE and "expires" in detail


def test_backfill_progress_and_its_end() -> None:
    running = progress_of(BackfillProgress("orders", 300, 1200, 150.0, 6.0))
    assert running is not None and running.total == 1200 and "300 of 1,200" in running.detail
    assert progress_of(BackfillProgress("done", 1200, 1200, 0.0, 0.0, True)) is None


def test_log_book_summarises_webhooks_links_and_corrections() -> None:
    book = LogBook(size=10, clock=lambda: 100.0)
    snap = ShopSnapshot(ShopRef("s1", "Shop"), relay=LinkStatus(LinkState.CONNECTED))
    book.feed(Change(ChangeKind.CONNECTION, "s1", snap))
    m = SyncMetrics(webhooks_received=5, webhooks_applied=4, duplicates_ignored=1, reconciled=2)
    book.feed(Change(ChangeKind.METRICS, "s1", ShopSnapshot(ShopRef("s1"), metrics=m)))
    messages = [(e.source, e.level, e.message) for e in book.entries]
    assert ("relay", LogLevel.INFO, "Webhook relay: connected") in messages
    assert any(
        s == "webhook" and "5 webhooks received, 4 applied, 1 duplicate" in t
        for s, _, t in messages
    )
    assert any(s == "sync" and lvl is LogLevel.WARNING for s, lvl, _ in messages)
    assert len(book.corrections) == 1
    # Sequence numbers increase: the Sync page appends only what it has not seen.
    seqs = [e.seq for e in book.entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Bounded.
    for n in range(30):
        book.add("app", f"line {n}")
    assert len(book.entries) == 10


def test_rates_per_minute() -> None:
    now = [0.0]
    meter = RateMeter(clock=lambda: now[0])
    meter.add(0, 0, 0)
    now[0] = 30.0
    meter.add(25, 100, 1)
    events, requests, limited = meter.per_minute()
    assert (events, requests, limited) == (50.0, 200.0, 2.0)


def test_viewmodel_from_a_snapshot() -> None:
    m = SyncMetrics(
        api_requests=200,
        api_429s=2,
        webhook_to_store_ms_p50=30.0,
        webhook_to_store_ms_p99=90.0,
        queue_depth=3,
    )
    snap = ShopSnapshot(
        ShopRef("s1", "Glow Shop"),
        api=LinkStatus(LinkState.CONNECTED),
        relay=LinkStatus(LinkState.RECONNECTING),
        metrics=m,
        revenue=Decimal("12.50"),
        updated_at=1_000.0,
    )
    vm = build_viewmodel(snap, None, rates=(60.0, 300.0, 0.0), budget_per_minute=600, demo=True)
    assert vm.header.shop_name == "Glow Shop" and vm.header.demo
    assert vm.header.api_state is UiLink.ONLINE and vm.header.relay_state is UiLink.CONNECTING
    assert vm.performance.success_rate == 0.99 and vm.performance.budget_used == 0.5
    assert vm.performance.latency_p50_ms == 30.0 and vm.performance.queue_depth == 3
    assert vm.now == 1_000.0


def test_settings_round_trip_between_days_and_hours() -> None:
    ui = SkuSettings(lead_time_hours=60.0, pack_size=12, days_of_cover=10.0)
    stored = to_stored(ui)
    assert stored["lead_time_days"] == 2.5 and stored["pack_size"] == 12
    from app.store.settings import SkuSettings as Stored

    back = to_insight(Stored(**stored))  # type: ignore[arg-type]
    assert back == ui
