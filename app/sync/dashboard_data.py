"""What the dashboard needs beyond the sync snapshot, read from the store (Qt-free).

The engine publishes insight and counters; the charts also want each SKU's stock history, the
Analytics page wants videos and 7/14/30-day sales, and the SKU view wants the settings in
effect. These are plain blocking reads of one consistent store snapshot: `load_dashboard_data`
runs `read_dashboard_data` through the engine's `Database.read` (an executor thread), so the UI
thread never waits on SQLite.
The results are this package's plain dataclasses; the UI maps them onto its view model.

Histories are incremental: a SKU's series is re-read only when its stock moved since the last
read, and an unchanged SKU keeps the very same `StockSeries` object, so the UI (which keys its
chart caches on identity) skips it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from app.insight.scurve import took_off_at
from app.insight.types import SkuSettings
from app.store.catalog import stock_history
from app.store.dashboard import sku_sales_windows, video_skus, video_totals
from app.store.settings import sku_settings_for_shop
from app.store.videos import view_histories
from app.sync.engine import SyncEngine

__all__ = [
    "HISTORY_DAYS",
    "DashboardData",
    "HistoryCache",
    "SkuSalesWindow",
    "StockSeries",
    "VideoSummary",
    "load_dashboard_data",
    "read_dashboard_data",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StockSeries:
    """Available stock of one SKU over time (a step function), as float64 arrays."""

    sku_id: str
    times: FloatArray
    stock: FloatArray

    @staticmethod
    def from_points(sku_id: str, points: list[tuple[float, float]]) -> StockSeries:
        """Build from (time, available) pairs."""
        arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return StockSeries(sku_id, arr[:, 0].copy(), arr[:, 1].copy())


@dataclass(frozen=True, slots=True)
class VideoSummary:
    """One video with its sales and the SKUs it sells."""

    video_id: str
    title: str
    views: int
    orders: int
    revenue: Decimal
    linked_skus: tuple[str, ...] = ()
    took_off_at: float | None = None  # when its view growth turned viral; None if it has not


@dataclass(frozen=True, slots=True)
class SkuSalesWindow:
    """Units and revenue of one SKU over Seller Center's 7 / 14 / 30-day windows."""

    sku_id: str
    name: str
    units_7d: int
    units_14d: int
    units_30d: int
    revenue_30d: Decimal = Decimal(0)


HISTORY_DAYS = 14
DAY = 86_400


@dataclass
class HistoryCache:
    """Stock histories kept between reads: (last level seen, series) per SKU."""

    series: dict[str, StockSeries] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DashboardData:
    """One read for the dashboard: histories, videos, sales windows and settings in effect."""

    histories: Mapping[str, StockSeries]
    videos: tuple[VideoSummary, ...]
    sku_sales: tuple[SkuSalesWindow, ...]
    default_settings: SkuSettings
    sku_settings: Mapping[str, SkuSettings]


def _histories(
    session: Session, levels: Mapping[str, int], now: float, cache: HistoryCache
) -> dict[str, StockSeries]:
    since = int(now) - HISTORY_DAYS * DAY
    out: dict[str, StockSeries] = {}
    for sku_id, level in levels.items():
        known = cache.series.get(sku_id)
        if known is not None and cache.levels.get(sku_id) == level:
            out[sku_id] = known
            continue
        points = stock_history(session, sku_id)
        # The level at the window's start, then every change inside it.
        before = [p for p in points if p.at < since]
        inside = [p for p in points if p.at >= since]
        pairs = [(float(since), float(before[-1].quantity))] if before else []
        pairs.extend((float(p.at), float(p.quantity)) for p in inside)
        if not pairs:
            pairs = [(float(now), float(level))]
        history = StockSeries.from_points(sku_id, pairs)
        out[sku_id] = history
        cache.series[sku_id] = history
        cache.levels[sku_id] = level
    return out


def _sku_sales(session: Session, shop_id: str, now: float) -> tuple[SkuSalesWindow, ...]:
    """Units per SKU over 7/14/30 days (one aggregate query; cancelled orders excluded)."""
    sales = [
        SkuSalesWindow(
            sku_id=sku_id,
            name=f"{product} · {sku}" if sku else str(product or sku_id),
            units_7d=int(u7 or 0),
            units_14d=int(u14 or 0),
            units_30d=int(u30 or 0),
            revenue_30d=Decimal(str(round(float(rev or 0), 2))),
        )
        for sku_id, product, sku, u7, u14, u30, rev in sku_sales_windows(session, shop_id, now)
    ]
    sales.sort(key=lambda s: -s.units_30d)
    return tuple(sales)


def _took_off(points: list[tuple[int, int]], now: float) -> float | None:
    """When a video's views took off, by insight's one rule (`scurve.took_off_at`, the rule
    the viral forecast and so the alerts start from), over the histories' whole window."""
    if not points:
        return None
    samples = np.asarray(points, dtype=np.float64)
    return took_off_at(samples[:, 0], samples[:, 1], now, window_hours=HISTORY_DAYS * 24)


def _videos(session: Session, shop_id: str, now: float) -> tuple[VideoSummary, ...]:
    links = video_skus(session, shop_id)
    views = view_histories(session, shop_id, int(now) - HISTORY_DAYS * DAY)
    lines = [
        VideoSummary(
            video_id=video_id,
            title=title or video_id,
            views=total_views,
            orders=orders,
            revenue=gmv if gmv is not None else Decimal(0),
            linked_skus=tuple(sorted(links.get(video_id, ()))),
            took_off_at=_took_off([(p.at, p.views) for p in views.get(video_id, [])], now),
        )
        for video_id, title, total_views, orders, gmv in video_totals(session, shop_id)
    ]
    lines.sort(key=lambda v: -v.views)
    return tuple(lines)


def read_dashboard_data(
    session: Session,
    shop_id: str,
    now: float,
    levels: Mapping[str, int],
    cache: HistoryCache,
    *,
    slow: bool = True,
    previous: DashboardData | None = None,
) -> DashboardData:
    """Histories (incremental), settings and, when `slow`, videos and sales windows (those
    aggregate the whole month, so the caller refreshes them less often)."""
    base, overrides = sku_settings_for_shop(session, shop_id)
    histories = _histories(session, levels, now, cache)
    if slow or previous is None:
        videos = _videos(session, shop_id, now)
        sales = _sku_sales(session, shop_id, now)
    else:
        videos, sales = previous.videos, previous.sku_sales
    return DashboardData(
        histories=histories,
        videos=videos,
        sku_sales=sales,
        default_settings=base,
        sku_settings=overrides,
    )


async def load_dashboard_data(
    engine: SyncEngine,
    shop_id: str,
    now: float,
    levels: Mapping[str, int],
    cache: HistoryCache,
    *,
    slow: bool = True,
    previous: DashboardData | None = None,
) -> DashboardData:
    """`read_dashboard_data` on one of the engine database's reader threads."""
    return await engine.db.read(
        lambda session: read_dashboard_data(
            session, shop_id, now, levels, cache, slow=slow, previous=previous
        )
    )
