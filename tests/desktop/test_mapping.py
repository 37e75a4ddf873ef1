"""The Qt-free half of the wiring: link details, progress, the log book, and the store read
put into the view model as it is."""

from __future__ import annotations

from decimal import Decimal

from app.insight.types import SkuSettings
from app.sync.dashboard_data import DashboardData, SkuSalesWindow, StockSeries, VideoSummary
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
from app.ui.mapping import (
    LogBook,
    RateMeter,
    build_viewmodel,
    link_detail,
    progress_of,
)
from app.ui.viewmodel import LogLevel


def test_link_details_tell_the_seller_what_to_do() -> None:
    assert link_detail(LinkStatus(LinkState.CONNECTED)) == ""
    assert link_detail(LinkStatus(LinkState.RECONNECTING)) == "reconnecting"
    assert "reconnect" in link_detail(LinkStatus(LinkState.DEAUTHORIZED, "105001"))
    assert "expires" in link_detail(LinkStatus(LinkState.EXPIRING))


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
    assert vm.header.api_state is LinkState.CONNECTED
    assert vm.header.relay_state is LinkState.RECONNECTING
    assert vm.performance.success_rate == 0.99 and vm.performance.budget_used == 0.5
    assert vm.performance.latency_p50_ms == 30.0 and vm.performance.queue_depth == 3
    assert vm.now == 1_000.0


def _data(
    histories: dict[str, StockSeries], videos: tuple[VideoSummary, ...] = ()
) -> DashboardData:
    sales = (SkuSalesWindow("a", "Serum · 30 ml", 7, 14, 30, Decimal("299.70")),)
    return DashboardData(
        histories=histories,
        videos=videos,
        sku_sales=sales,
        default_settings=SkuSettings(),
        sku_settings={"a": SkuSettings(pack_size=6)},
    )


def test_the_view_model_keeps_an_unchanged_history_object_for_the_charts() -> None:
    a = StockSeries.from_points("a", [(0.0, 10.0), (60.0, 8.0)])
    b = StockSeries.from_points("b", [(0.0, 5.0)])
    video = VideoSummary("v1", "Unboxing", 12_000, 30, Decimal("300"), ("a",), 30.0)
    snap = ShopSnapshot(ShopRef("s1", "Glow Shop"), updated_at=100.0)
    first = build_viewmodel(snap, _data({"a": a, "b": b}, (video,)))
    assert first.histories["a"] is a  # the reader's series itself, not a copy
    assert first.videos[0].title == "Unboxing" and first.videos[0].linked_skus == ("a",)
    assert first.sku_sales[0].units_30d == 30 and first.settings_for("a").pack_size == 6
    moved = StockSeries.from_points("b", [(0.0, 5.0), (90.0, 4.0)])
    second = build_viewmodel(snap, _data({"a": a, "b": moved}, (video,)))
    assert second.histories["a"] is a  # the reader kept the series: same object
    assert second.histories["b"] is not first.histories["b"]
    assert list(second.histories["b"].stock) == [5.0, 4.0]
    assert build_viewmodel(snap, None).default_settings == SkuSettings()


def test_a_storage_failure_reaches_the_header_and_the_log() -> None:
    disk_full = "Disk full: ViralStock can't save new orders"
    snap = ShopSnapshot(
        ShopRef("s1", "Glow Shop"),
        api=LinkStatus(LinkState.CONNECTED),
        storage=LinkStatus(LinkState.ERROR, disk_full),
    )
    assert build_viewmodel(snap, None).header.storage_problem == disk_full

    book = LogBook(size=10, clock=lambda: 100.0)
    book.feed(Change(ChangeKind.CONNECTION, "s1", ShopSnapshot(ShopRef("s1"))))
    book.feed(Change(ChangeKind.CONNECTION, "s1", snap))
    recovered = ShopSnapshot(ShopRef("s1"), storage=LinkStatus(LinkState.CONNECTED))
    book.feed(Change(ChangeKind.CONNECTION, "s1", recovered))
    storage = [(e.level, e.message) for e in book.entries if e.source == "storage"]
    assert storage[0] == (LogLevel.ERROR, f"Database: error ({disk_full})")
    assert storage[1] == (LogLevel.INFO, "Database: connected")
    assert build_viewmodel(recovered, None).header.storage_problem == ""
