"""Synthetic shop state for UI tests, screenshots and the benchmark.

Until the insight functions land, SkuInsight values are built here with the same arithmetic the
insight module documents (hours left = stock / rate, reorder sum, revenue at risk).
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

import numpy as np

from app.insight.types import (
    AlertLevel,
    Attribution,
    Forecast,
    OrderIntelligence,
    ReorderSuggestion,
    SkuInsight,
    SkuSettings,
    Velocity,
)
from app.ui.viewmodel import (
    Correction,
    DashboardViewModel,
    LinkState,
    LogEntry,
    LogLevel,
    ShopHeader,
    SkuSales,
    StockHistory,
    SyncPerformance,
    VideoRow,
)

NOW = 1_780_000_000.0
PRODUCTS = [
    "Glow Serum",
    "Cloud Slides",
    "Mini Projector",
    "LED Strip 5m",
    "Lip Oil",
    "Phone Tripod",
    "Ice Roller",
    "Matcha Kit",
    "Hair Claw Set",
    "Posture Corrector",
    "Sunset Lamp",
    "Scalp Massager",
    "Pet Hair Remover",
    "Jelly Cleanser",
    "Cargo Pants",
    "Bamboo Socks",
]
VARIANTS = ["Black", "White", "Pink", "S", "M", "L", "30 ml", "50 ml"]


def make_insight(
    sku_id: str,
    name: str,
    variant: str,
    available: int,
    rate: float,
    price: Decimal,
    settings: SkuSettings,
    viral_title: str | None = None,
    trend: float = 0.0,
    incoming: int = 0,
) -> SkuInsight:
    """One SkuInsight, computed the way app.insight documents it."""
    hours_left: float | None = None if rate <= 0 else (0.0 if available <= 0 else available / rate)
    low = None if hours_left is None else hours_left * 0.75
    high = None if hours_left is None else hours_left * 1.4
    lead, safety_h = settings.lead_time_hours, settings.safety_days * 24
    if hours_left is None:
        level = AlertLevel.OK
    elif hours_left <= max(lead, settings.critical_hours):
        level = AlertLevel.CRITICAL
    elif hours_left <= lead + safety_h:
        level = AlertLevel.WARNING
    else:
        level = AlertLevel.OK
    demand = rate * (lead + settings.days_of_cover * 24)
    safety = rate * safety_h
    need = demand + safety - available - incoming
    qty = 0 if need <= 0 else math.ceil(need / settings.pack_size) * settings.pack_size
    explanation = (
        f"{demand:.0f} forecast over {lead / 24:g} d lead + {settings.days_of_cover:g} d cover, "
        f"+ {safety:.0f} safety - {available} available - {incoming} incoming = {need:.0f}, "
        f"rounded up to packs of {settings.pack_size}: {qty}"
    )
    unserved = max(0.0, rate * lead - available - incoming)
    risk = (price * Decimal(str(round(unserved, 2)))).quantize(Decimal("0.01"))
    attribution = Attribution(f"v-{sku_id}", "explicit", 0.7, viral_title) if viral_title else None
    context = f"viral video '{viral_title}' driving orders" if viral_title else "steady demand"
    rate_text = f"selling {rate:.0f}/hour" if rate >= 1 else f"selling {rate * 24:.1f}/day"
    left = "N/A" if hours_left is None else f"{hours_left:.0f} h of stock"
    headline = f"{context} · {rate_text}, {left} · reorder {qty}"
    return SkuInsight(
        sku_id=sku_id,
        product_id=f"p-{sku_id}",
        product_name=name,
        sku_name=variant,
        available=available,
        velocity=Velocity(rate * 1.1, rate, rate * 0.8, rate * 0.6, rate),
        forecast=Forecast(
            hours_left,
            low,
            high,
            None if hours_left is None else NOW + hours_left * 3600,
            rate,
            trend,
        ),
        level=level,
        reorder=ReorderSuggestion(
            qty,
            demand,
            safety,
            available,
            incoming,
            settings.pack_size,
            lead,
            settings.days_of_cover,
            explanation,
        ),
        attribution=attribution,
        revenue_at_risk=risk,
        context=context,
        headline=headline,
        computed_at=NOW,
    )


def stock_history(
    sku_id: str, available: int, rate: float, points: int, rng: random.Random
) -> StockHistory:
    """A sawtooth of sales and restocks ending at `available`, over `points` samples (5 min)."""
    times = NOW - (np.arange(points)[::-1] + 1) * 300.0
    sold = np.array([rng.random() < min(0.95, rate / 12 + 0.05) for _ in range(points)], float)
    per_step = max(1.0, rate * 300 / 3600)
    stock = np.empty(points)
    level = float(available)
    for i in range(points - 1, -1, -1):
        stock[i] = level
        level += sold[i] * per_step
        if level > available + 600 + rate * 48:
            level = float(available)
    return StockHistory(sku_id, times, stock)


def orders_intelligence(hours: int = 48, viral_from: int = 30) -> OrderIntelligence:
    starts = tuple(NOW - (hours - i) * 3600.0 for i in range(hours))
    counts, viral, revenue = [], [], []
    for i in range(hours):
        daily = 8 + 6 * math.sin((i % 24) / 24 * 2 * math.pi - 1.5)
        boost = 0 if i < viral_from else int(12 * (1 - math.exp(-(i - viral_from) / 4)))
        counts.append(int(daily) + boost)
        viral.append(boost)
        revenue.append(Decimal(counts[-1] * 24) + Decimal("0.50"))
    total_rev = sum(revenue, Decimal(0))
    viral_rev = Decimal(sum(viral) * 24)
    return OrderIntelligence(
        computed_at=NOW,
        hour_starts=starts,
        orders_per_hour=tuple(counts),
        revenue_per_hour=tuple(revenue),
        viral_orders_per_hour=tuple(viral),
        funnel={
            "UNPAID": 4,
            "AWAITING_SHIPMENT": 61,
            "AWAITING_COLLECTION": 22,
            "IN_TRANSIT": 140,
            "DELIVERED": 310,
            "COMPLETED": 90,
            "CANCELLED": 12,
        },
        order_count=sum(counts),
        revenue=total_rev,
        viral_revenue=viral_rev,
        viral_revenue_share=float(viral_rev / total_rev),
        near_ship_by=(
            ("576460752303423488", NOW - 1800),
            ("576460752303429001", NOW + 5400),
            ("576460752303431777", NOW + 3 * 3600),
        ),
    )


def viewmodel(skus: int = 24, history_points: int = 600, seed: int = 7) -> DashboardViewModel:
    """A busy shop: a few SKUs drained by viral videos, most fine, some slow movers."""
    rng = random.Random(seed)
    settings = SkuSettings(lead_time_hours=72, pack_size=12, days_of_cover=14)
    insights = []
    histories = {}
    for i in range(skus):
        sku_id = f"17293{i:05d}"
        name = PRODUCTS[i % len(PRODUCTS)]
        variant = VARIANTS[(i * 3) % len(VARIANTS)]
        viral = None
        if i in (0, 3, 7):
            rate, available, viral = 30.0 + 17 * (i % 3), 140 + 60 * i, f"{name} hack #{i + 1}"
        elif i % 5 == 1:
            rate, available = 4.0 + i % 3, 220 + 11 * i
        elif i % 11 == 10:
            rate, available = 0.0, 35
        else:
            rate, available = rng.uniform(0.05, 1.2), rng.randint(150, 900)
        price = Decimal(str(round(9.99 + (i % 7) * 4.5, 2)))
        item = make_insight(
            sku_id,
            name,
            variant,
            available,
            rate,
            price,
            settings,
            viral,
            trend=0.4 if viral else 0.0,
        )
        insights.append(item)
        histories[sku_id] = stock_history(sku_id, available, rate, history_points, rng)
    insights.sort(key=lambda s: -s.revenue_at_risk)
    videos = (
        *(
            VideoRow(
                f"v-{s.sku_id}",
                s.attribution.title,
                1_200_000 + 350_000 * k,
                900 - 120 * k,
                Decimal(21_000 - 3000 * k),
                (s.sku_id,),
                NOW - (9 - k) * 3600,
            )
            for k, s in enumerate(x for x in insights if x.attribution)
        ),
        VideoRow("v-quiet", "Unboxing haul", 8_400, 3, Decimal("71.97")),
    )
    sales = tuple(
        SkuSales(
            s.sku_id,
            f"{s.product_name} · {s.sku_name}",
            int(s.velocity.per_hour_7d * 168),
            int(s.velocity.per_hour_7d * 300),
            int(s.velocity.per_hour_7d * 600),
            Decimal(int(s.velocity.per_hour_7d * 600 * 20)),
        )
        for s in insights
    )
    sources = ["webhook", "sync", "api", "relay"]
    log = tuple(
        LogEntry(
            k,
            NOW - (60 - k) * 20,
            LogLevel.WARNING if k % 17 == 0 else LogLevel.INFO,
            sources[k % 4],
            f"event {k}: order status change ORDER_{k:04d}",
        )
        for k in range(60)
    )
    corrections = (
        Correction(
            NOW - 900,
            insights[1].sku_id,
            "available",
            "212",
            "198",
            "a webhook was lost; polling caught it",
        ),
    )
    return DashboardViewModel(
        header=ShopHeader(
            "Glow & Go Store",
            LinkState.ONLINE,
            LinkState.ONLINE,
            skus,
            NOW - 40,
            "1,000 requests/min budget",
            "relay.viralstock.app",
            demo=True,
        ),
        performance=SyncPerformance(180.0, 420.0, 0.994, 0.31, 1000, 3, 2900.0),
        insights=tuple(insights),
        histories=histories,
        orders=orders_intelligence(),
        videos=videos,
        sku_sales=sales,
        log=log,
        corrections=corrections,
        default_settings=settings,
        now=NOW,
    )
