"""The Analytics page's "took off" column and the viral forecast (which drives the alerts) use
one take-off rule, read from the store the way the dashboard reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.insight.scurve import fit_views
from app.store import open_store, record_stock, upsert_products, upsert_shop, upsert_videos
from app.store.columns import stock_series
from app.sync import dashboard_data
from app.sync.dashboard_data import HistoryCache, read_dashboard_data
from tests.store.factories import NOW, SHOP_ID, product, shop, video

HOUR = 3600.0
STEP = 300.0  # a view sample every 5 minutes, like the engine's video poll


def _views(before: float, after: float, onset: float, times: np.ndarray) -> np.ndarray:
    """Cumulative views of a day-old video at `before` per hour, `after` per hour from `onset`."""
    steady = before * (24 + (times - times[0]) / HOUR)
    counts: np.ndarray = np.floor(steady + (after - before) * np.maximum(times - onset, 0) / HOUR)
    return counts


def test_analytics_took_off_is_the_forecasts_take_off(tmp_path: Path) -> None:
    onset = float(NOW + 6 * HOUR)
    times = np.arange(NOW, onset + 2 * HOUR + 1, STEP)
    # A big video, 180 views/hour then 60,000: every rule calls it viral.
    big = _views(180, 60_000, onset, times)
    # A small one, 200 views/hour then 700: 3.5x its pace. The forecast treats that as a
    # take-off; the Analytics page used to need 5x and 1,000 views/hour, and said "not yet".
    small = _views(200, 700, onset, times)
    store = open_store(tmp_path)
    try:
        with store.write() as session:
            upsert_shop(session, shop(), NOW)
        for at, b, s in zip(times, big, small, strict=True):
            with store.write() as session:
                upsert_videos(
                    session, SHOP_ID, [video("big", int(b)), video("small", int(s))], int(at)
                )
        now = float(times[-1])
        with store.read() as session:
            data = read_dashboard_data(session, SHOP_ID, now, {}, HistoryCache())
    finally:
        store.close()
    shown = {v.video_id: v.took_off_at for v in data.videos}
    for name, counts in (("big", big), ("small", small)):
        posterior = fit_views(times, counts, now)
        assert posterior is not None, name
        assert shown[name] == posterior.takeoff == onset, name


def test_a_steady_video_has_not_taken_off(tmp_path: Path) -> None:
    times = np.arange(NOW, NOW + 8 * HOUR, STEP)
    steady = _views(5_000, 5_000, NOW, times)
    store = open_store(tmp_path)
    try:
        with store.write() as session:
            upsert_shop(session, shop(), NOW)
        for at, count in zip(times, steady, strict=True):
            with store.write() as session:
                upsert_videos(session, SHOP_ID, [video("steady", int(count))], int(at))
        with store.read() as session:
            data = read_dashboard_data(session, SHOP_ID, float(times[-1]), {}, HistoryCache())
    finally:
        store.close()
    assert [v.took_off_at for v in data.videos] == [None]


def test_stock_histories_reread_only_the_skus_that_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart's history of a SKU whose stock moved is read again and shows the change; the
    others keep their very series object (the charts skip them) and are not read again, and
    every series is what a read from scratch gives."""
    read: list[list[str] | None] = []

    def recorded(session: Any, shop_id: str, since: int, sku_ids: Any = None) -> Any:
        read.append(None if sku_ids is None else sorted(sku_ids))
        return stock_series(session, shop_id, since, sku_ids)

    monkeypatch.setattr(dashboard_data, "stock_series", recorded)
    store = open_store(tmp_path)
    try:
        with store.write() as session:
            upsert_shop(session, shop(), NOW)
            upsert_products(
                session, SHOP_ID, [product("p1", {"a": {"w": 50}, "b": {"w": 9}})], NOW - 3600
            )
        cache = HistoryCache()
        with store.read() as session:
            first = read_dashboard_data(session, SHOP_ID, NOW, {"a": 50, "b": 9}, cache)
        with store.write() as session:
            record_stock(session, "a", {"w": 47}, NOW + 60, "order")
        with store.read() as session:
            second = read_dashboard_data(session, SHOP_ID, NOW + 120, {"a": 47, "b": 9}, cache)
            scratch = read_dashboard_data(
                session, SHOP_ID, NOW + 120, {"a": 47, "b": 9}, HistoryCache()
            )
    finally:
        store.close()
    assert read == [None, ["a"], None]  # all stale at first and from scratch; then only "a"
    assert second.histories["b"] is first.histories["b"]
    assert second.histories["a"] is not first.histories["a"]
    assert second.histories["a"].stock.tolist()[-2:] == [50.0, 47.0]
    for sku_id in ("a", "b"):
        assert second.histories[sku_id].times.tolist() == scratch.histories[sku_id].times.tolist()
        assert second.histories[sku_id].stock.tolist() == scratch.histories[sku_id].stock.tolist()
