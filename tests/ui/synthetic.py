"""A synthetic shop for UI tests, screenshots and the benchmark, run through the real insight.

Sales are Poisson minute by minute from a seeded generator: most SKUs sell steadily with
restocks (a sawtooth), a few are drained by a video whose views follow an S-curve, some are slow
movers and one never sells. `compute_shop_insight` and `order_intelligence` from app.insight turn
that history into the SkuInsight and OrderIntelligence the widgets show, so nothing on screen is
a hand-made number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from app.insight.history import ShopHistory
from app.insight.orders import order_intelligence
from app.insight.shop import compute_shop_insight
from app.insight.types import (
    OrderFact,
    Sale,
    SkuSettings,
    SkuState,
    StockPoint,
    VideoInfo,
    ViewPoint,
)
from app.sync.dashboard_data import SkuSalesWindow, StockSeries, VideoSummary
from app.sync.state import LinkState
from app.ui.viewmodel import (
    Correction,
    DashboardViewModel,
    LogEntry,
    LogLevel,
    ShopHeader,
    SyncPerformance,
)

HOUR = 3600.0
DAY = 24 * HOUR
NOW = 1_780_000_000.0
PRODUCTS = [
    "Glow Serum", "Cloud Slides", "Mini Projector", "LED Strip 5m", "Lip Oil", "Phone Tripod",
    "Ice Roller", "Matcha Kit", "Hair Claw Set", "Posture Corrector", "Sunset Lamp",
    "Scalp Massager", "Pet Hair Remover", "Jelly Cleanser", "Cargo Pants", "Bamboo Socks",
]  # fmt: skip
VARIANTS = ["Black", "White", "Pink", "S", "M", "L", "30 ml", "50 ml"]
SETTINGS = SkuSettings(lead_time_hours=72.0, pack_size=12, days_of_cover=14.0)


@dataclass(frozen=True)
class SyntheticShop:
    history: ShopHistory
    stock_points: dict[str, StockSeries]
    sales: list[Sale]
    videos: list[tuple[VideoInfo, float, int]]  # info, took-off time, final views
    orders: list[OrderFact]


def _simulate(skus: int, days: float, seed: int) -> SyntheticShop:
    rng = np.random.default_rng(seed)
    start = NOW - days * DAY
    minutes = np.arange(start, NOW, 60.0)
    season = 1.0 + 0.35 * np.sin(2 * np.pi * (minutes - start) / DAY - 1.2)
    states: list[SkuState] = []
    sales: list[Sale] = []
    points: list[StockPoint] = []
    views: list[ViewPoint] = []
    videos: list[tuple[VideoInfo, float, int]] = []
    chart: dict[str, StockSeries] = {}
    final_stock: list[int] = []
    viral_skus = {0, 3, 7} if skus > 7 else {0}
    for i in range(skus):
        sku_id = f"17293{i:05d}"
        product_id = f"p{i:04d}"
        name = PRODUCTS[i % len(PRODUCTS)]
        variant = VARIANTS[(i * 3) % len(VARIANTS)]
        price = round(9.99 + (i % 7) * 4.5, 2)
        if i % 11 == 10:
            base = 0.0
        elif i % 5 == 1:
            base = float(rng.uniform(3.0, 6.0))
        elif i % 4 == 2:
            base = float(rng.uniform(0.02, 0.15))
        else:
            base = float(rng.uniform(0.2, 1.5))
        rate = base * season
        video_id = None
        if i in viral_skus:
            video_id = f"v{i:03d}"
            inflection = NOW - float(rng.uniform(1.0, 3.0)) * HOUR
            scale = float(rng.uniform(1.2, 2.2)) * HOUR
            total = float(rng.uniform(1.2e6, 3.0e6))
            extra = float(rng.uniform(35.0, 60.0))
            per_view = extra / (total / (4 * scale) * HOUR)

            def curve(
                t: np.ndarray,
                total: float = total,
                inflection: float = inflection,
                scale: float = scale,
            ) -> np.ndarray:
                return total / (1.0 + np.exp(-(t - inflection) / scale))

            rate = rate + per_view * (curve(minutes + 60.0) - curve(minutes)) * 60.0
            samples = np.arange(start, NOW, 600.0)
            views.extend(
                ViewPoint(float(t), video_id, int(v) + 40 * k)
                for k, (t, v) in enumerate(zip(samples, curve(samples), strict=True))
            )
            title = f"{name} hack you need"
            info = VideoInfo(video_id, title, frozenset({product_id}))
            videos.append((info, inflection, int(curve(np.array([NOW]))[0])))
        counts = rng.poisson(rate / 60.0)
        # Stock: restock to `top` whenever it falls to `floor`, except the viral ones, which
        # were last restocked before the surge and are running out now.
        expected = float(rate.sum()) / 60.0
        if video_id:
            stock = int(expected + float(rate[-1]) * float(rng.uniform(2.0, 8.0)))
            floor, top = -1, stock
        else:
            cover_days = float(rng.uniform(1.5, 30.0))
            top = max(20, int(base * 24 * cover_days * 1.6) + 10)
            floor = max(3, int(top * 0.15))
            stock = int(top * float(rng.uniform(0.4, 1.0)))
        t_pts = [start]
        s_pts = [stock]
        points.append(StockPoint(start, sku_id, stock))
        for m in np.nonzero(counts)[0]:
            for t in np.sort(rng.uniform(minutes[m], minutes[m] + 60.0, int(counts[m]))):
                if stock <= 0:
                    break
                stock -= 1
                explicit = video_id if video_id and rng.random() < 0.35 else None
                sales.append(Sale(float(t), sku_id, 1, Decimal(str(price)), explicit))
                points.append(StockPoint(float(t), sku_id, stock))
                t_pts.append(float(t))
                s_pts.append(stock)
                if stock <= floor:
                    stock = top
                    restock_t = float(t) + 1800.0
                    points.append(StockPoint(restock_t, sku_id, stock))
                    t_pts.append(restock_t)
                    s_pts.append(stock)
        final_stock.append(stock)
        states.append(SkuState(sku_id, product_id, name, variant, stock, 0, Decimal(str(price))))
        chart[sku_id] = StockSeries(sku_id, np.array(t_pts), np.array(s_pts, dtype=np.float64))
    history = ShopHistory.from_records(
        states, sales, points, views, [v[0] for v in videos], since=start
    ).with_available(final_stock)
    orders = []
    statuses = ("DELIVERED", "COMPLETED", "IN_TRANSIT", "AWAITING_COLLECTION")
    for k, sale in enumerate(sales):
        age = NOW - sale.time
        if rng.random() < 0.03:
            status = "CANCELLED"
        elif age < 2 * HOUR:
            status = "UNPAID" if rng.random() < 0.1 else "AWAITING_SHIPMENT"
        elif age < 20 * HOUR:
            status = "AWAITING_SHIPMENT" if rng.random() < 0.5 else "AWAITING_COLLECTION"
        else:
            status = statuses[k % len(statuses)]
        orders.append(
            OrderFact(
                f"5764607523{k:08d}",
                sale.time,
                status,
                sale.revenue,
                sale.revenue
                if sale.video_id
                or (
                    sale.sku_id in {f"17293{i:05d}" for i in viral_skus}
                    and sale.time > NOW - 12 * HOUR
                )
                else Decimal(0),
                sale.time + 30 * HOUR,
            )
        )
    return SyntheticShop(history, chart, sales, videos, orders)


@functools.cache
def shop(skus: int = 24, days: float = 30.0, seed: int = 7) -> SyntheticShop:
    """The simulated shop (cached: tests share it)."""
    return _simulate(skus, days, seed)


def viewmodel(
    skus: int = 24, days: float = 30.0, seed: int = 7, settings: SkuSettings = SETTINGS
) -> DashboardViewModel:
    """The dashboard snapshot for the synthetic shop, insight computed by app.insight."""
    sim = shop(skus, days, seed)
    insight = compute_shop_insight(sim.history, NOW, default=settings)
    orders = order_intelligence(sim.orders, NOW)
    units: dict[str, list[float]] = {}
    money: dict[str, list[float]] = {}
    for sale in sim.sales:
        units.setdefault(sale.sku_id, []).append(sale.time)
        money.setdefault(sale.sku_id, []).append(float(sale.revenue))
    names = {s.sku_id: f"{s.product_name} · {s.sku_name}" for s in insight.skus}
    sales_rows = []
    for item in insight.skus:
        times = np.array(units.get(item.sku_id, []))
        n7, n14, n30 = (int((times > NOW - d * DAY).sum()) for d in (7, 14, 30))
        revenue = sum(
            (
                r
                for t, r in zip(times, money.get(item.sku_id, []), strict=True)
                if t > NOW - 30 * DAY
            ),
            0.0,
        )
        sales_rows.append(
            SkuSalesWindow(
                item.sku_id, names[item.sku_id], n7, n14, n30, Decimal(str(round(revenue, 2)))
            )
        )
    video_rows = []
    for info, took_off, total_views in sim.videos:
        linked = tuple(s.sku_id for s in insight.skus if s.product_id in info.product_ids)
        sold = [s for s in sim.sales if s.sku_id in linked and s.time > took_off - 2 * HOUR]
        video_rows.append(
            VideoSummary(
                info.video_id,
                info.title,
                total_views,
                len(sold),
                sum((s.revenue for s in sold), Decimal(0)),
                linked,
                took_off,
            )
        )
    video_rows.append(VideoSummary("v-quiet", "Morning routine haul", 8_400, 3, Decimal("71.97")))
    sources = ("webhook", "sync", "api", "relay")
    log = tuple(
        LogEntry(
            k,
            NOW - (80 - k) * 15,
            LogLevel.WARNING if k % 23 == 0 else LogLevel.INFO,
            sources[k % 4],
            f"order {5764607523000000 + k} status change → AWAITING_SHIPMENT",
        )
        for k in range(80)
    )
    corrections = (
        Correction(
            NOW - 900,
            insight.skus[1].sku_id,
            "available",
            "212",
            "198",
            "a webhook was lost; polling caught it",
        ),
    )
    return DashboardViewModel(
        header=ShopHeader(
            "Glow & Go Store",
            LinkState.CONNECTED,
            LinkState.CONNECTED,
            skus,
            NOW - 40,
            "1,000 requests/min budget",
            "relay.viralstock.app",
            demo=True,
        ),
        performance=SyncPerformance(180.0, 420.0, 0.994, 0.31, 1000, 3, 2900.0),
        insights=insight.skus,
        histories=sim.stock_points,
        projector=insight.projected_stock,
        orders=orders,
        videos=tuple(video_rows),
        sku_sales=tuple(sales_rows),
        log=log,
        corrections=corrections,
        default_settings=settings,
        now=NOW,
    )
