"""The demand-curve families (`app.sandbox.curves`) as one shop's history, for the backtest.

Every case becomes a SKU of its own product, with its videos; all cases share one time axis, so
one replay (`app.insight.backtest.replay`) judges them all at once, and the shop has the other
SKUs' videos around as a real one does (an unlinked video may be correlated with any SKU).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import numpy as np

from app.insight.backtest import Truth
from app.insight.history import ShopHistory
from app.insight.types import SkuState, VideoInfo
from app.sandbox.curves import Case, Split, draw_case


def cases(families: Iterable[str], seeds: Iterable[int], split: Split) -> list[Case]:
    return [draw_case(family, seed, split) for family in families for seed in seeds]


def shop(items: list[Case]) -> tuple[ShopHistory, dict[str, Truth]]:
    skus: list[SkuState] = []
    videos: list[VideoInfo] = []
    sale_sku, sale_time, sale_video = [], [], []
    stock_sku, stock_time, stock_available = [], [], []
    view_video, view_time, view_count = [], [], []
    truth: dict[str, Truth] = {}
    for i, case in enumerate(items):
        sku_id = f"{case.family}-{case.plan.seed}"
        product = f"p-{sku_id}"
        final = int(case.stock_available[-1]) if len(case.stock_available) else case.initial_stock
        skus.append(SkuState(sku_id, product, sku_id, available=final, unit_price=Decimal(10)))
        first_video = len(videos)
        for k, plan in enumerate(case.plan.videos):
            links = frozenset({product}) if plan.linked else frozenset()
            videos.append(VideoInfo(f"v-{sku_id}-{k}", f"{plan.shape} {k}", links))
            view_video.append(np.full(len(case.view_time[k]), first_video + k, dtype=np.int64))
            view_time.append(case.view_time[k])
            view_count.append(case.view_count[k])
        sale_sku.append(np.full(len(case.sale_time), i, dtype=np.int64))
        sale_time.append(case.sale_time)
        sale_video.append(np.where(case.sale_video >= 0, case.sale_video + first_video, -1))
        stock_sku.append(np.full(len(case.stock_time) + 1, i, dtype=np.int64))
        stock_time.append(np.concatenate(([case.start], case.stock_time)))
        stock_available.append(np.concatenate(([case.initial_stock], case.stock_available)))
        truth[sku_id] = Truth(case.stockouts.tolist(), case.restocks.tolist())
    sale_units = np.ones(sum(len(s) for s in sale_time))
    history = ShopHistory(
        skus=tuple(skus),
        since=items[0].start,
        sale_sku=np.concatenate(sale_sku),
        sale_time=np.concatenate(sale_time),
        sale_units=sale_units,
        sale_revenue=sale_units * 10.0,
        sale_video=np.concatenate(sale_video).astype(np.int64),
        stock_sku=np.concatenate(stock_sku),
        stock_time=np.concatenate(stock_time),
        stock_available=np.concatenate(stock_available).astype(np.float64),
        videos=tuple(videos),
        view_video=np.concatenate(view_video) if view_video else np.zeros(0, dtype=np.int64),
        view_time=np.concatenate(view_time) if view_time else np.zeros(0),
        view_count=np.concatenate(view_count) if view_count else np.zeros(0),
    )
    return history, truth
