"""Viral attribution: explicit content_id first, then correlation with a noise threshold."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.insight import (
    Sale,
    ShopHistory,
    SkuState,
    VideoInfo,
    ViewPoint,
    compute_shop_insight,
)
from tests.insight.synthetic import DAY, EPOCH, HOUR, even_sales, viral_case

NOW = EPOCH + 30 * DAY
SKU = SkuState("sku-1", "prod-1", "Gadget", available=500)


def test_explicit_attribution_from_content_id() -> None:
    sales = even_sales("sku-1", 3.0, NOW - 5 * DAY, NOW)
    tagged = [
        Sale(s.time, s.sku_id, s.units, s.revenue, "vid-7" if i % 3 == 0 else None)
        for i, s in enumerate(sales)
    ]
    history = ShopHistory.from_records([SKU], tagged, videos=[VideoInfo("vid-7", "Haul")])
    item = compute_shop_insight(history, NOW).by_sku["sku-1"]
    assert item.attribution is not None
    assert (item.attribution.video_id, item.attribution.method) == ("vid-7", "explicit")
    assert abs(item.attribution.score - 1 / 3) < 0.02
    assert item.context == "viral video 'Haul' driving orders"


def test_correlation_finds_the_viral_video() -> None:
    case = viral_case(3)
    now = case.surge_at
    history = case.history.with_available(case.history.stock_at(now))
    item = compute_shop_insight(history, now).by_sku[case.sku_id]
    assert item.attribution is not None
    assert item.attribution.video_id == case.video_id
    assert item.attribution.method == "correlation"
    assert item.attribution.score >= 0.4
    assert item.headline.startswith("viral video 'Unboxing the gadget' driving orders · ")


def _noise_shop(seed: int) -> ShopHistory:
    """Poisson sales at a steady rate and videos whose views grow at random, unrelated."""
    rng = np.random.default_rng(seed)
    skus = [SkuState(f"s{i}", f"p{i}", available=300) for i in range(20)]
    sales = [
        Sale(float(t), sku.sku_id, 1, Decimal(5))
        for sku in skus
        for t in rng.uniform(NOW - 3 * DAY, NOW, rng.poisson(3 * 24 * rng.uniform(0.5, 4)))
    ]
    samples = np.arange(NOW - 3 * DAY, NOW + 1, 600.0)
    views, videos = [], []
    for v in range(10):
        videos.append(
            VideoInfo(f"v{v}", product_ids=frozenset({f"p{v}"}) if v < 5 else frozenset())
        )
        growth = np.cumsum(rng.exponential(rng.uniform(100, 2000), len(samples)))
        views += [
            ViewPoint(float(t), f"v{v}", int(c)) for t, c in zip(samples, growth, strict=True)
        ]
    return ShopHistory.from_records(skus, sales, [], views, videos, since=NOW - 3 * DAY)


def test_noise_does_not_attribute() -> None:
    attributed = 0
    for seed in range(5):
        insight = compute_shop_insight(_noise_shop(seed), NOW)
        attributed += sum(item.attribution is not None for item in insight.skus)
    assert attributed == 0


@settings(max_examples=60, deadline=None)
@given(
    hourly=st.lists(st.integers(min_value=0, max_value=40), min_size=48, max_size=48),
    flat_views=st.integers(min_value=0, max_value=10**7),
    other_growth=st.lists(st.integers(min_value=0, max_value=50_000), min_size=48, max_size=48),
)
def test_a_video_without_view_growth_is_never_picked(
    hourly: list[int], flat_views: int, other_growth: list[int]
) -> None:
    sales = [
        Sale(NOW - (48 - h) * HOUR + (k + 0.5) * HOUR / max(n, 1), "sku-1", 1, Decimal(1))
        for h, n in enumerate(hourly)
        for k in range(n)
    ]
    samples = [NOW - (48 - h) * HOUR for h in range(49)]
    flat = [ViewPoint(t, "flat", flat_views) for t in samples]
    totals = np.concatenate(([0], np.cumsum(other_growth)))
    other = [ViewPoint(t, "other", int(c)) for t, c in zip(samples, totals, strict=True)]
    videos = [VideoInfo("flat", product_ids=frozenset({"prod-1"})), VideoInfo("other")]
    history = ShopHistory.from_records([SKU], sales, [], flat + other, videos, since=NOW - 3 * DAY)
    item = compute_shop_insight(history, NOW).by_sku["sku-1"]
    assert item.attribution is None or item.attribution.video_id != "flat"
