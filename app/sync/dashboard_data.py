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
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from app.insight.scurve import took_off_at
from app.insight.types import SkuSettings
from app.store.columns import stock_series
from app.store.dashboard import video_skus, video_totals
from app.store.hourly import order_hour_columns, sku_window_sales
from app.store.settings import sku_settings_for_shop
from app.store.videos import view_histories
from app.sync.dashboard_types import OrderHours, SkuSalesWindow, StockSeries, VideoSummary

if TYPE_CHECKING:
    from app.sync.engine import SyncEngine

__all__ = [
    "HISTORY_DAYS",
    "DashboardData",
    "HistoryCache",
    "OrderHours",
    "SkuSalesWindow",
    "StockSeries",
    "VideoSummary",
    "load_dashboard_data",
    "read_dashboard_data",
]

FloatArray = npt.NDArray[np.float64]


ORDER_HOURS_DAYS = 365


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
    order_hours: OrderHours | None = None


def _order_hours(session: Session, shop_id: str, now: float) -> OrderHours:
    hours, orders, revenue = order_hour_columns(
        session, shop_id, int(now) - ORDER_HOURS_DAYS * DAY, int(now) + 1
    )
    return OrderHours(
        np.asarray(hours, dtype=np.float64),
        np.asarray(orders, dtype=np.float64),
        np.asarray(revenue, dtype=np.float64),
    )


def _histories(
    session: Session, shop_id: str, levels: Mapping[str, int], now: float, cache: HistoryCache
) -> dict[str, StockSeries]:
    since = int(now) - HISTORY_DAYS * DAY
    out: dict[str, StockSeries] = {}
    stale = [
        sku_id
        for sku_id, level in levels.items()
        if cache.series.get(sku_id) is None or cache.levels.get(sku_id) != level
    ]
    # One columnar read of the SKUs that moved (app/store/columns.py; one query per SKU cost
    # seconds with 5,000 SKUs, #15, and the whole shop on every refresh of a storm kept a
    # reader thread busy), then the level at the window's start and every change inside it.
    picked = stale if len(stale) < len(levels) else None  # all of them: one shop-wide read
    fresh = stock_series(session, shop_id, since, picked) if stale else {}
    for sku_id, level in levels.items():
        known = cache.series.get(sku_id)
        if known is not None and cache.levels.get(sku_id) == level:
            out[sku_id] = known
            continue
        found = fresh.get(sku_id)
        if found is None:
            history = StockSeries(sku_id, np.array([float(now)]), np.array([float(level)]))
        else:
            history = StockSeries(sku_id, found[0], found[1])
        out[sku_id] = history
        cache.series[sku_id] = history
        cache.levels[sku_id] = level
    return out


def _sku_sales(session: Session, shop_id: str, now: float) -> tuple[SkuSalesWindow, ...]:
    """Units per SKU over 7/14/30 days from the store's hourly totals (app/store/hourly.py;
    cancelled orders and line items excluded)."""
    sales = [
        SkuSalesWindow(
            sku_id=row.sku_id,
            name=(
                f"{row.product_name} · {row.sku_name}"
                if row.sku_name
                else str(row.product_name or row.sku_id)
            ),
            units_7d=row.units_7d,
            units_14d=row.units_14d,
            units_30d=row.units_30d,
            revenue_30d=Decimal(str(round(float(row.revenue_30d), 2))),
        )
        for row in sku_window_sales(session, shop_id, int(now))
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
    aggregate the whole month, so the caller refreshes them less often). Without `slow` and
    without `previous` (the first read, for the first paint) they are left empty."""
    base, overrides = sku_settings_for_shop(session, shop_id)
    histories = _histories(session, shop_id, levels, now, cache)
    order_hours: OrderHours | None
    videos: tuple[VideoSummary, ...]
    sales: tuple[SkuSalesWindow, ...]
    if previous is None and not slow:
        # The first paint needs none of these (Analytics page, long chart ranges): the
        # caller reads them right after it (#15).
        videos, sales, order_hours = (), (), None
    elif slow or previous is None:
        videos = _videos(session, shop_id, now)
        sales = _sku_sales(session, shop_id, now)
        order_hours = _order_hours(session, shop_id, now)
    else:
        videos, sales = previous.videos, previous.sku_sales
        order_hours = previous.order_hours
    return DashboardData(
        histories=histories,
        videos=videos,
        sku_sales=sales,
        default_settings=base,
        sku_settings=overrides,
        order_hours=order_hours,
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
