"""The batch entry point on a many-SKU shop: consistency of the whole result."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from app.insight import (
    AlertLevel,
    Sale,
    ShopHistory,
    SkuState,
    VideoInfo,
    ViewPoint,
    compute_columns,
    compute_shop_insight,
)
from app.insight.alerts import attention_key
from tests.insight.synthetic import DAY, EPOCH, HOUR, large_shop


def test_a_big_shop_is_consistent() -> None:
    history, now = large_shop(skus=600, days=10, seed=3, videos=12, viral=3)
    insight = compute_shop_insight(history, now)
    assert len(insight.skus) == len(insight.by_sku) == 600
    risks = [item.revenue_at_risk for item in insight.skus]
    assert risks == sorted(risks, reverse=True)
    # The vectorised order is the UI's one attention order (`alerts.attention_key`).
    assert list(insight.skus) == sorted(insight.skus, key=attention_key)
    for item in insight.skus:
        assert item.computed_at == now
        assert item.revenue_at_risk >= 0 and item.revenue_at_risk.as_tuple().exponent == -2
        assert item.reorder.quantity % item.reorder.pack_size == 0
        assert item.headline.startswith(item.context)
        if item.forecast.hours_left is None:
            assert item.level is AlertLevel.OK and item.forecast.stockout_at is None
        if item.attribution is not None:
            assert item.attribution.method in ("explicit", "correlation")
    assert any(item.attribution is not None for item in insight.skus)
    assert {item.level for item in insight.skus} >= {AlertLevel.OK, AlertLevel.CRITICAL}
    # Feeding the levels back keeps them (same data, same moment: nothing to flap about).
    again = compute_shop_insight(
        history, now, previous_levels=insight.levels(), previous_videos=insight.videos()
    )
    assert again.levels() == insight.levels()
    # The columns and the objects agree.
    columns = compute_columns(history, now)
    hours = [insight.by_sku[sku.sku_id].forecast.hours_left for sku in history.skus]
    expected = [None if not np.isfinite(h) else float(h) for h in columns.forecast.hours_left]
    assert hours == expected


def test_projection_through_the_result_objects() -> None:
    history, now = large_shop(skus=50, days=10, seed=1, videos=3, viral=1)
    insight = compute_shop_insight(history, now)
    item = insight.skus[0]
    projection = insight.projected_stock(item.sku_id, [0.0, 1.0, 1000.0])
    assert projection.expected[0] == max(item.available, 0)
    assert projection.expected == sorted(projection.expected, reverse=True)
    assert projection.busy[1] <= projection.expected[1] <= projection.quiet[1]
    if item.forecast.hours_left is not None:
        assert projection.expected[-1] == 0


def test_top_keeps_the_first_objects_and_every_level() -> None:
    history, now = large_shop(skus=300, days=10, seed=2, videos=5, viral=2)
    full = compute_shop_insight(history, now)
    top = compute_shop_insight(history, now, top=10)
    assert [item.sku_id for item in top.skus] == [item.sku_id for item in full.skus[:10]]
    assert top.levels() == full.levels() and len(top.levels()) == 300
    assert top.videos() == full.videos()


def test_a_video_seen_twice_does_not_put_quadrillions_at_risk() -> None:
    """A video with two view samples so far (just posted, or just found) and orders naming
    it: its binned view rate is one number, equal across the bins up to float rounding, and
    a link fitted on that rounding forecast the SKU at 4e14 units an hour; live (and here, before the fix) the
    cents overflowed and the seller's table and CSV said -$92 quadrillion at risk. The SKU
    sells at about 4 an hour: what is at risk is the price of a lead time at about that."""
    now = EPOCH + 8 * DAY + 0.4 * HOUR
    rng = np.random.default_rng(10)
    times = np.sort(rng.uniform(EPOCH, now, 800))
    sales = [
        Sale(float(t), "sku-1", 1, Decimal("19.90"), "v1" if i % 2 else None)
        for i, t in enumerate(times)
    ]
    views = [ViewPoint(now - 2.2 * HOUR, "v1", 431_117), ViewPoint(now - 0.1 * HOUR, "v1", 481_983)]
    sku = SkuState("sku-1", "prod-1", "Gadget", available=20, unit_price=Decimal("19.90"))
    video = VideoInfo("v1", "New haul", frozenset({"prod-1"}))
    history = ShopHistory.from_records([sku], sales, (), views, [video], since=EPOCH)
    item = compute_shop_insight(history, now).by_sku["sku-1"]
    assert item.forecast.rate_per_hour < 20.0
    lead_hours = 168.0
    assert Decimal(0) <= item.revenue_at_risk <= Decimal("19.90") * Decimal(20 * lead_hours)
