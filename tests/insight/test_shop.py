"""The batch entry point on a many-SKU shop: consistency of the whole result."""

from __future__ import annotations

import numpy as np

from app.insight import AlertLevel, compute_columns, compute_shop_insight
from app.insight.alerts import attention_key
from tests.insight.synthetic import large_shop


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
