"""Reorder quantity: the sum, the pack rounding and the explanation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.insight import SkuSettings, compute_shop_insight
from app.insight.reorder import reorder_quantities
from app.sandbox.curves import HOUR, draw_case, expected_units
from tests.insight.families import shop
from tests.insight.synthetic import DAY, EPOCH, even_sales, one_sku

NOW = EPOCH + 30 * DAY


def test_reorder_from_a_constant_rate() -> None:
    history = one_sku(even_sales("sku-1", 2.0, NOW - 10 * DAY, NOW), available=100, incoming=20)
    config = SkuSettings(lead_time_hours=72, pack_size=25, days_of_cover=7, safety_days=2)
    item = compute_shop_insight(history, NOW, default=config).by_sku["sku-1"]
    r = item.reorder
    # Demand over 3 + 7 days at 2/hour = 480, safety 2 days = 96, minus 100 + 20 = 456 -> 475.
    assert r.demand_units == np.float64(r.demand_units)
    assert abs(r.demand_units - 480) < 15
    assert abs(r.safety_units - 96) < 4
    assert r.quantity % 25 == 0
    assert r.quantity - 25 < r.demand_units + r.safety_units - 120 <= r.quantity
    assert (r.available, r.incoming, r.pack_size) == (100, 20, 25)
    text = r.explanation
    assert "lead time" in text and "packs of 25" in text and f"reorder {r.quantity:,}" in text


def test_enough_stock_means_no_reorder() -> None:
    history = one_sku(even_sales("sku-1", 0.5, NOW - 10 * DAY, NOW), available=10_000)
    item = compute_shop_insight(history, NOW).by_sku["sku-1"]
    assert item.reorder.quantity == 0
    assert "no reorder is needed" in item.reorder.explanation
    assert item.headline.endswith("no reorder needed")


def test_headline_reads_like_the_card() -> None:
    history = one_sku(even_sales("sku-1", 47.0, NOW - 3 * DAY, NOW), available=282)
    config = SkuSettings(lead_time_hours=24, pack_size=100, days_of_cover=7, safety_days=1)
    item = compute_shop_insight(history, NOW, default=config).by_sku["sku-1"]
    assert item.level.value == "critical"
    # The band is narrow enough to be said in words, and holds the point forecast.
    assert item.headline.startswith("steady sales · selling 47/hour, 6 h of stock (")
    band = item.headline.split("(")[1].split(")")[0]
    low, high = (float(x) for x in band.removesuffix(" h").split("\u2013"))
    assert low < 6 < high and " h) · reorder " in item.headline
    assert item.revenue_at_risk > 0


@settings(max_examples=300, deadline=None)
@given(
    demand=st.floats(min_value=0, max_value=1e6),
    safety=st.floats(min_value=0, max_value=1e5),
    available=st.integers(min_value=-50, max_value=10**6),
    incoming=st.integers(min_value=0, max_value=10**5),
    pack=st.integers(min_value=1, max_value=500),
)
def test_reorder_is_a_multiple_of_the_pack_and_covers_the_shortfall(
    demand: float, safety: float, available: int, incoming: int, pack: int
) -> None:
    out = reorder_quantities(
        np.array([demand]),
        np.array([safety]),
        np.array([available]),
        np.array([incoming]),
        np.array([pack]),
    )
    quantity = int(out.quantity[0])
    shortfall = demand + safety - max(available, 0) - incoming
    assert quantity >= 0
    assert quantity % pack == 0
    assert quantity >= shortfall - 1e-6
    # Never a whole pack more than needed.
    assert quantity < max(shortfall, 0) + pack + 1e-6


@pytest.mark.parametrize("family", ["lognormal", "gamma", "restock_mid_surge"])
@pytest.mark.parametrize("after_hours", [2.0, 4.0])
def test_a_surge_is_not_reordered_for_three_weeks_at_its_peak(
    family: str, after_hours: float
) -> None:
    """A viral video's buyers come for a day or two; the reorder covers 21 days (the app's
    defaults). Holding the surge's rate for all of them said "reorder 640,742" where 859 units
    would sell. Tuning-split cases; the figures on the report set are in the benchmark."""
    case = draw_case(family, 0, "tuning")
    history, _ = shop([case])
    now = case.window_start + (case.plan.videos[0].onset_hours + after_hours) * HOUR
    stock = history.stock_at(now)
    defaults = SkuSettings()
    horizon = defaults.lead_time_hours + 24 * defaults.days_of_cover
    item = compute_shop_insight(history.with_available(stock), now, default=defaults).skus[0]
    need = expected_units(case.plan, now, horizon) - float(stock[0])
    assert item.forecast.rate_per_hour > 5 * case.plan.baseline, "the SKU is surging"
    assert 0.5 * need <= item.reorder.quantity <= 5 * need
    # The sum says how it was made, so the seller can check it.
    assert "24 h at today's" in item.reorder.explanation
    assert "then the usual" in item.reorder.explanation


def test_a_steady_seller_still_reorders_its_three_weeks() -> None:
    case = draw_case("steady", 0, "tuning")
    history, _ = shop([case])
    now = case.window_start + 12 * HOUR
    stock = history.stock_at(now)
    defaults = SkuSettings()
    horizon = defaults.lead_time_hours + 24 * defaults.days_of_cover
    item = compute_shop_insight(history.with_available(stock), now, default=defaults).skus[0]
    need = expected_units(case.plan, now, horizon) - float(stock[0])
    assert need <= item.reorder.quantity <= 1.5 * need
    assert "selling" in item.reorder.explanation and "usual" not in item.reorder.explanation


@pytest.mark.parametrize("selling_days", [1.5, 3.0])
def test_a_new_sku_selling_steadily_is_not_taken_for_a_surge(selling_days: float) -> None:
    """Days before a SKU sold at all are not its usual day: a SKU launched days ago selling a
    steady 10 a day is not a surge, so its reorder covers its lead time and cover at the
    forecast's rate, with safety stock (taken for a surge with a usual rate of 0, it was told
    to order a day's worth and no safety stock)."""
    sales = even_sales("sku-1", 10 / 24, NOW - selling_days * DAY, NOW)
    history = one_sku(sales, available=20)
    item = compute_shop_insight(history, NOW, default=SkuSettings()).by_sku["sku-1"]
    r = item.reorder
    assert r.after_surge_per_hour is None and "usual" not in r.explanation
    assert r.demand_units == pytest.approx(r.rate_per_hour * 21 * 24, rel=0.2)
    assert r.safety_units == pytest.approx(r.rate_per_hour * 3 * 24, rel=0.01)
