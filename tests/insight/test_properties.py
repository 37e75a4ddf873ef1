"""Properties over random histories: velocity never negative, more stock never less time."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.insight import Sale, ShopHistory, SkuState, StockPoint, compute_columns
from tests.insight.synthetic import DAY, EPOCH

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
