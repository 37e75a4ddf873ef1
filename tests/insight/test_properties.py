"""Properties over random histories: velocity never negative, more stock never less time."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.insight import (
    Sale,
    ShopHistory,
    SkuState,
    StockPoint,
    VideoInfo,
    ViewPoint,
    compute_columns,
)
from tests.insight.synthetic import DAY, EPOCH, HOUR, viral_case

NOW = EPOCH + 10 * DAY

sale_times = st.lists(
    st.floats(min_value=NOW - 9 * DAY, max_value=NOW + DAY, allow_nan=False), max_size=300
)
stock_events = st.lists(
    st.tuples(
        st.floats(min_value=NOW - 9 * DAY, max_value=NOW, allow_nan=False),
        st.integers(min_value=-3, max_value=50),
    ),
    max_size=10,
)


def _history(times: list[float], stock: list[tuple[float, int]], skus: int) -> ShopHistory:
    states = [SkuState(f"s{i}", "p", available=10) for i in range(skus)]
    sales = [Sale(t, f"s{i % skus}", 1 + i % 3, Decimal(2)) for i, t in enumerate(times)]
    points = [StockPoint(t, f"s{i % skus}", a) for i, (t, a) in enumerate(stock)]
    return ShopHistory.from_records(states, sales, points, since=NOW - 9 * DAY)


@settings(max_examples=80, deadline=None)
@given(times=sale_times, stock=stock_events, skus=st.integers(min_value=1, max_value=4))
def test_velocity_is_never_negative(
    times: list[float], stock: list[tuple[float, int]], skus: int
) -> None:
    v = compute_columns(_history(times, stock, skus), NOW).velocity
    for column in (v.per_hour_1h, v.per_hour_6h, v.per_hour_24h, v.per_hour_7d, v.ewma_per_hour):
        assert np.all(column >= 0) and np.all(np.isfinite(column))


@settings(max_examples=80, deadline=None)
@given(
    times=sale_times,
    stock=stock_events,
    levels=st.lists(st.integers(min_value=-5, max_value=5000), min_size=2, max_size=6),
)
def test_more_stock_never_means_fewer_hours_left(
    times: list[float], stock: list[tuple[float, int]], levels: list[int]
) -> None:
    base = _history(times, stock, 1)
    results = []
    for units in sorted(levels):
        forecast = compute_columns(base.with_available([units]), NOW).forecast
        results.append((forecast.hours_left[0], forecast.hours_low[0], forecast.hours_high[0]))
    for left, low, high in results:
        if not np.isnan(left):
            assert low <= left <= high  # the band holds the forecast
    for column in range(3):
        values = np.array([r[column] for r in results])
        if np.isnan(values).any():
            assert np.isnan(values).all()  # N/A does not depend on the stock
            continue
        assert np.all(values[1:] >= values[:-1] - 1e-9)
        assert np.all(values >= 0)


def _steady_video_shop(
    seed: int,
    pace: int,
    interval_minutes: int,
    tagged_share: float,
    declared: bool,
    start: float,
    now: float,
    seen_hours: float | None = None,
) -> tuple[ShopHistory, ShopHistory]:
    """Two Poisson sellers from `start` to `now`, one of them sold partly through a video
    whose views tick along at exactly `pace` views per sample (a steady video, as most of a
    live shop's are; sampled over the last `seen_hours` only, as a video found late, when
    given); and the same shop without the video."""
    rng = np.random.default_rng(seed)
    skus = [
        SkuState(f"s{i}", f"p{i}", available=int(rng.integers(0, 60)), unit_price=Decimal(20))
        for i in range(2)
    ]
    sales = []
    for i in range(2):
        rate = float(rng.uniform(0.5, 8.0))
        for t in np.sort(rng.uniform(start, now, rng.poisson(rate * (now - start) / HOUR))):
            tag = "v1" if i == 0 and rng.random() < tagged_share else None
            sales.append(Sale(float(t), f"s{i}", 1, Decimal(20), tag))
    first = start + float(rng.uniform(0.0, 600.0))
    times = np.arange(first, now, 60.0 * interval_minutes)
    counts = 1000 + pace * np.arange(len(times))
    if seen_hours is not None:
        # Found mid-life: its first count is what the pace gathered before. (A first count
        # far below the pace would be a take-off by `scurve`'s first-seen rule, not steady.)
        found = times >= now - seen_hours * HOUR
        times, counts = times[found], counts[found]
    views = [ViewPoint(float(t), "v1", int(c)) for t, c in zip(times, counts, strict=True)]
    video = VideoInfo("v1", "Steady", frozenset({"p0"}) if declared else frozenset())
    history = ShopHistory.from_records(skus, sales, (), views, [video], since=start)
    plain = [Sale(s.time, s.sku_id, s.units, s.revenue) for s in sales]
    return history, ShopHistory.from_records(skus, plain, since=start)


@settings(max_examples=60, deadline=None)
# Seen for 1.5 h from a first count of 1,000 at 3,030 views/h: a take-off by the first-seen
# rule (CI found it), so the generator now starts a late-found video at its pace's count.
@example(seed=149, pace=101, interval=2, tagged=0.3, declared=False, seen=1.5)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    pace=st.integers(min_value=1, max_value=20_000),
    interval=st.sampled_from([2, 5, 10, 30, 60]),
    tagged=st.sampled_from([0.0, 0.3, 1.0]),
    declared=st.booleans(),
    seen=st.sampled_from([None, 1.5, 3.0, 6.0]),
)
def test_a_steady_video_changes_no_forecast_and_no_money(
    seed: int, pace: int, interval: int, tagged: float, declared: bool, seen: float | None
) -> None:
    """A video gaining views at a constant pace says nothing about where sales go: the
    forecast, the reorder and the revenue at risk are those of the same shop without it, and
    no SKU is matched to it by correlation. Its binned view rates are equal only up to float
    rounding, and a link fitted on that rounding once forecast 3e7 units an hour (and, live,
    -$92 quadrillion at risk once the cents overflowed)."""
    now = NOW - seed % 97 * 0.25 * HOUR
    history, without = _steady_video_shop(
        seed, pace, interval, tagged, declared, NOW - 9 * DAY, now, seen
    )
    with_video = compute_columns(history, now)
    alone = compute_columns(without, now)
    for a, b in (
        (with_video.forecast.rate, alone.forecast.rate),
        (with_video.forecast.hours_left, alone.forecast.hours_left),
        (with_video.reorder.quantity, alone.reorder.quantity),
        (with_video.revenue_at_risk, alone.revenue_at_risk),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    assert not (with_video.attribution.video[~with_video.attribution.explicit] >= 0).any()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    hours=st.floats(min_value=-3.0, max_value=8.0),
    pace=st.integers(min_value=1, max_value=20_000),
)
def test_money_and_hours_stay_finite_on_the_live_paths(seed: int, hours: float, pace: int) -> None:
    """The paths live traffic takes: a video taking off (its S-curve, the track record), a
    steady video next to it, recomputed in full and incrementally (`only` the changed SKU,
    with the last levels). Money is always a finite, non-negative amount whose cents fit the
    integer the screen shows, from a demand rate of the order the SKU sells at; hours are N/A
    (nan) only for a SKU without sales."""
    case = viral_case(seed % 50, onset_hours=3.0)
    now = case.surge_at + hours * HOUR
    steady, _ = _steady_video_shop(seed, pace, 10, 0.3, True, case.start, now)
    shop = _merged(case.history, steady)
    at = shop.with_available(shop.stock_at(now))
    full = compute_columns(at, now)
    parts = [
        compute_columns(at.only([sku_id]), now, previous_levels=full.levels(at))
        for sku_id in at.sku_ids
    ]
    for columns in (full, *parts):
        risk = columns.revenue_at_risk
        assert np.all(np.isfinite(risk)) and np.all(risk >= 0)
        assert np.all(np.abs(np.round(risk * 100.0)) < 2.0**62)
        assert np.all(np.isfinite(columns.reorder.demand_units))
        # The demand rate now is of the order of what the SKU has been selling at.
        v = columns.velocity
        fastest = np.maximum.reduce([v.per_hour_1h, v.per_hour_6h, v.per_hour_24h, v.per_hour_7d])
        assert np.all(columns.forecast.rate <= 100.0 * np.maximum(fastest, 1.0))
        left = columns.forecast.hours_left
        assert np.array_equal(np.isnan(left), columns.velocity.units_7d <= 0)
        assert np.all(np.nan_to_num(left, nan=0.0) >= 0)


def _merged(a: ShopHistory, b: ShopHistory) -> ShopHistory:
    """One shop of two histories' SKUs and videos (b's ids renamed apart)."""
    n, v = len(a.skus), len(a.videos)
    skus = a.skus + tuple(
        replace(s, sku_id=f"b-{s.sku_id}", product_id=f"b-{s.product_id}") for s in b.skus
    )
    videos = a.videos + tuple(
        replace(
            x, video_id=f"b-{x.video_id}", product_ids=frozenset(f"b-{p}" for p in x.product_ids)
        )
        for x in b.videos
    )
    return ShopHistory(
        skus=skus,
        since=min(a.since, b.since),
        sale_sku=np.concatenate((a.sale_sku, b.sale_sku + n)),
        sale_time=np.concatenate((a.sale_time, b.sale_time)),
        sale_units=np.concatenate((a.sale_units, b.sale_units)),
        sale_revenue=np.concatenate((a.sale_revenue, b.sale_revenue)),
        sale_video=np.concatenate(
            (a.sale_video, np.where(b.sale_video >= 0, b.sale_video + v, -1))
        ),
        stock_sku=np.concatenate((a.stock_sku, b.stock_sku + n)),
        stock_time=np.concatenate((a.stock_time, b.stock_time)),
        stock_available=np.concatenate((a.stock_available, b.stock_available)),
        videos=videos,
        view_video=np.concatenate((a.view_video, b.view_video + v)),
        view_time=np.concatenate((a.view_time, b.view_time)),
        view_count=np.concatenate((a.view_count, b.view_count)),
    )
