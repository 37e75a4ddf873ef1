"""The batch entry point: insight for every SKU of a shop from its history, at a given moment.

`compute_columns` does all the numbers as whole-array numpy work (this is what must stay under
200 ms for 10,000 SKUs); `compute_shop_insight` adds the per-SKU result objects and their text.
Both take `now` explicitly and ignore events after it, so the same history can be replayed at
any earlier moment (`app.insight.evaluation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from app.insight.alerts import LEVELS, alert_levels, thresholds
from app.insight.attribution import AttributionColumns, attribute
from app.insight.forecast import (
    BinnedSales,
    ForecastColumns,
    VideoViews,
    band_spread,
    bin_sales,
    bin_views,
    forecast_stockout,
    holt,
    make_bins,
)
from app.insight.history import FloatArray, IntArray, ShopHistory
from app.insight.reorder import ReorderColumns, reorder_quantities, suggestion
from app.insight.stockouts import out_of_stock_intervals
from app.insight.text import context, headline
from app.insight.types import (
    AlertLevel,
    InsightParams,
    ShopInsight,
    SkuInsight,
    SkuSettings,
)
from app.insight.velocity import VelocityColumns, compute_velocities
from app.insight.viral import ViralDemand, viral_demand

_CENT = Decimal("0.01")
# A trend "rises" (for the context text) when it adds this share of the level within 6 hours.
_RISING_SHARE = 0.25


@dataclass(frozen=True, eq=False)
class SettingsColumns:
    lead_time_hours: FloatArray
    pack_size: IntArray
    days_of_cover: FloatArray
    safety_days: FloatArray
    critical: FloatArray
    warning: FloatArray


def settings_columns(
    history: ShopHistory, settings: Mapping[str, SkuSettings] | None, default: SkuSettings
) -> SettingsColumns:
    rows = [
        (settings or {}).get(sku.sku_id, default) if settings else default for sku in history.skus
    ]
    limits = [thresholds(row) for row in rows]
    return SettingsColumns(
        lead_time_hours=np.array([row.lead_time_hours for row in rows], dtype=np.float64),
        pack_size=np.array([row.pack_size for row in rows], dtype=np.int64),
        days_of_cover=np.array([row.days_of_cover for row in rows], dtype=np.float64),
        safety_days=np.array([row.safety_days for row in rows], dtype=np.float64),
        critical=np.array([c for c, _ in limits], dtype=np.float64),
        warning=np.array([w for _, w in limits], dtype=np.float64),
    )


def _shrink_to(level: FloatArray, anchor: FloatArray, se: FloatArray) -> FloatArray:
    """Pull the fast level toward the steadier 24-hour rate unless it clearly differs.

    Weight d^2 / (d^2 + (2 se)^2) on the difference d: noise (d ~ se) mostly goes, a real
    change (d >> se) passes nearly whole. Steady sellers get steady forecasts, surges do not
    wait for the 24-hour average to catch up.
    """
    d = level - anchor
    noise = (2.0 * se) ** 2
    weight = np.where(noise > 0, d * d / np.maximum(d * d + noise, 1e-300), 1.0)
    return np.maximum(anchor + weight * d, 0.0)


def _viral_rows(
    history: ShopHistory,
    binned: BinnedSales,
    views: VideoViews,
    attribution: AttributionColumns,
    bin_hours: float,
    params: InsightParams,
) -> dict[int, ViralDemand]:
    """Demand curves of the SKUs a video is driving (few, so one by one)."""
    rows = np.flatnonzero(attribution.video >= 0)
    if len(rows) == 0:
        return {}
    first = np.argmax(views.valid, axis=1)
    start = views.rate[np.arange(len(history.videos)), first]
    view_model = holt(views.rate, views.valid, start, bin_hours, params)
    result: dict[int, ViralDemand] = {}
    for row in rows:
        video = int(attribution.video[row])
        demand = viral_demand(
            binned,
            int(row),
            views,
            video,
            bin_hours,
            float(view_model.trend[video]),
            params.trend_horizon_hours,
        )
        if demand is not None:
            result[int(row)] = demand
    return result


@dataclass(frozen=True, eq=False)
class InsightColumns:
    """Every number of a shop's insight, as arrays indexed like `history.skus`."""

    now: float
    velocity: VelocityColumns
    forecast: ForecastColumns
    attribution: AttributionColumns
    severity: IntArray
    reorder: ReorderColumns
    revenue_at_risk: FloatArray
    settings: SettingsColumns


def compute_columns(
    history: ShopHistory,
    now: float,
    *,
    settings: Mapping[str, SkuSettings] | None = None,
    default: SkuSettings = SkuSettings(),  # noqa: B008 - frozen, so sharing it is safe
    previous_levels: Mapping[str, AlertLevel] | None = None,
    params: InsightParams = InsightParams(),  # noqa: B008
) -> InsightColumns:
    """All numbers for all SKUs at `now` (epoch seconds of the event clock)."""
    n = len(history.skus)
    config = settings_columns(history, settings, default)
    oos = out_of_stock_intervals(history, now)
    velocity = compute_velocities(history, now, oos, params)
    bins = make_bins(now, params)
    binned = bin_sales(history, oos, bins)
    views = bin_views(history, bins)
    attribution = attribute(history, now, binned, views, bins.width_hours, params)

    sales_model = holt(binned.rate, binned.valid, velocity.per_hour_7d, bins.width_hours, params)
    level = _shrink_to(sales_model.level, velocity.per_hour_24h, sales_model.level_se)
    available = history.available
    incoming = np.array([sku.incoming for sku in history.skus], dtype=np.int64)
    sold = velocity.units_7d > 0
    forecast, model = forecast_stockout(
        available,
        sold,
        level,
        sales_model.trend,
        velocity.per_hour_7d,
        sales_model.level_se,
        params,
    )
    viral = _viral_rows(history, binned, views, attribution, bins.width_hours, params)
    spread = band_spread(model.level, sales_model.level_se, params)
    for i, curve in viral.items():
        if not sold[i]:
            continue
        units = float(max(available[i], 0))
        forecast.hours_left[i] = curve.hours_until(units)
        forecast.hours_low[i] = curve.shifted(spread[i]).hours_until(units)
        forecast.hours_high[i] = curve.shifted(-spread[i]).hours_until(units)
        forecast.rate[i] = curve.rate[0]
        forecast.trend[i] = (curve.rate[1] - curve.rate[0]) / curve.step_hours

    previous = np.zeros(n, dtype=np.int64)
    if previous_levels:
        previous = np.array(
            [previous_levels.get(sku.sku_id, AlertLevel.OK).severity for sku in history.skus],
            dtype=np.int64,
        )
    severity = alert_levels(
        forecast.hours_left, previous, config.critical, config.warning, params.hysteresis_fraction
    )

    horizon = config.lead_time_hours + 24.0 * config.days_of_cover
    demand = np.where(sold, model.cumulative(horizon), 0.0)
    lead_demand = np.where(sold, model.cumulative(config.lead_time_hours), 0.0)
    for i, curve in viral.items():
        if sold[i]:
            demand[i] = curve.cumulative(float(horizon[i]))
            lead_demand[i] = curve.cumulative(float(config.lead_time_hours[i]))
    safety = np.where(sold, 24.0 * config.safety_days * forecast.rate, 0.0)
    reorder = reorder_quantities(demand, safety, available, incoming, config.pack_size)

    price = np.array([float(sku.unit_price) for sku in history.skus], dtype=np.float64)
    price = np.where(
        velocity.units_7d > 0, velocity.revenue_7d / np.maximum(velocity.units_7d, 1e-12), price
    )
    short = np.maximum(lead_demand - np.maximum(available, 0) - np.maximum(incoming, 0), 0.0)
    return InsightColumns(
        now=now,
        velocity=velocity,
        forecast=forecast,
        attribution=attribution,
        severity=severity,
        reorder=reorder,
        revenue_at_risk=short * price,
        settings=config,
    )


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(_CENT, rounding=ROUND_HALF_UP)


def materialize(history: ShopHistory, columns: InsightColumns) -> ShopInsight:
    """The per-SKU result objects, sorted by revenue at risk (then severity, then hours left)."""
    now = columns.now
    items: list[SkuInsight] = []
    for i, sku in enumerate(history.skus):
        forecast = columns.forecast.item(i, now)
        attribution = columns.attribution.item(i, history)
        rate = forecast.rate_per_hour
        has_forecast = forecast.hours_left is not None
        reorder = suggestion(
            columns.reorder,
            i,
            available=sku.available,
            incoming=sku.incoming,
            pack_size=int(columns.settings.pack_size[i]),
            lead_time_hours=float(columns.settings.lead_time_hours[i]),
            days_of_cover=float(columns.settings.days_of_cover[i]),
            rate_per_hour=rate,
            has_forecast=has_forecast,
        )
        rising = bool(columns.forecast.trend[i] * 6.0 > _RISING_SHARE * max(rate, 1e-9))
        context_text = context(
            attribution=attribution,
            available=sku.available,
            has_forecast=has_forecast,
            rising=rising,
        )
        items.append(
            SkuInsight(
                sku_id=sku.sku_id,
                product_id=sku.product_id,
                product_name=sku.product_name,
                sku_name=sku.sku_name,
                available=sku.available,
                velocity=columns.velocity.item(i),
                forecast=forecast,
                level=LEVELS[int(columns.severity[i])],
                reorder=reorder,
                attribution=attribution,
                revenue_at_risk=_money(columns.revenue_at_risk[i]),
                context=context_text,
                headline=headline(
                    context_text=context_text,
                    rate=rate,
                    hours=forecast.hours_left,
                    reorder=reorder.quantity,
                ),
                computed_at=now,
            )
        )
    items.sort(
        key=lambda item: (
            -item.revenue_at_risk,
            -item.level.severity,
            item.forecast.hours_left if item.forecast.hours_left is not None else float("inf"),
            item.sku_id,
        )
    )
    return ShopInsight(
        computed_at=now, skus=tuple(items), by_sku={item.sku_id: item for item in items}
    )


def compute_shop_insight(
    history: ShopHistory,
    now: float,
    *,
    settings: Mapping[str, SkuSettings] | None = None,
    default: SkuSettings = SkuSettings(),  # noqa: B008
    previous_levels: Mapping[str, AlertLevel] | None = None,
    params: InsightParams = InsightParams(),  # noqa: B008
) -> ShopInsight:
    """Insight for every SKU of `history` at `now`.

    `settings` maps sku_id to its settings (others use `default`); `previous_levels` are the
    levels from the last computation (`ShopInsight.levels()`), for hysteresis.
    """
    columns = compute_columns(
        history,
        now,
        settings=settings,
        default=default,
        previous_levels=previous_levels,
        params=params,
    )
    return materialize(history, columns)
