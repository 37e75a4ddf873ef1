"""The batch entry point: insight for every SKU of a shop from its history, at a given moment.

`compute_columns` does all the numbers as whole-array numpy work (this is what must stay under
200 ms for 10,000 SKUs); `compute_shop_insight` adds the per-SKU result objects and their text.
Both take `now` explicitly and ignore events after it, so the same history can be replayed at
any earlier moment (`app.insight.evaluation`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np

from app.insight import band
from app.insight.alerts import LEVELS, alert_levels, attention_key, thresholds
from app.insight.attribution import AttributionColumns, attribute
from app.insight.ensemble import (
    CURVE_NEW_WEIGHT,
    NEW_WEIGHT,
    ORIGIN_HOURS,
    Origin,
    blend,
    blended_errors,
    curve_weights,
    mix_curves,
    mixed_units,
    origin_stock,
    origin_times,
    recent,
    sales_rate_grid,
    sold_between,
    viral_weights,
    with_videos,
)
from app.insight.forecast import (
    BinnedSales,
    DemandModel,
    ForecastColumns,
    VideoViews,
    band_spread,
    bin_sales,
    bin_views,
    demand_model,
    forecast_stockout,
    holt,
    make_bins,
)
from app.insight.history import BoolArray, FloatArray, IntArray, ShopHistory
from app.insight.reorder import SURGE_HOURS, SURGE_RATIO, ReorderColumns, reorder_quantities
from app.insight.scurve import ViewPosterior, fit_views
from app.insight.seasonal import bin_profile, daily_profile
from app.insight.stockouts import HOUR, out_of_stock_intervals
from app.insight.types import (
    AlertLevel,
    Attribution,
    Forecast,
    InsightParams,
    ReorderSuggestion,
    ShopInsight,
    SkuInsight,
    SkuSettings,
    StockProjection,
    Velocity,
)
from app.insight.velocity import VelocityColumns, compute_velocities
from app.insight.viral import GRID_HOURS, ViralCurves, hours_until_grid, viral_curves


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
    n = len(history.skus)
    if not settings:
        critical, warning = thresholds(default)
        return SettingsColumns(
            lead_time_hours=np.full(n, default.lead_time_hours),
            pack_size=np.full(n, default.pack_size, dtype=np.int64),
            days_of_cover=np.full(n, default.days_of_cover),
            safety_days=np.full(n, default.safety_days),
            critical=np.full(n, critical),
            warning=np.full(n, warning),
        )
    rows = [settings.get(sku.sku_id, default) for sku in history.skus]
    limits = [thresholds(row) for row in rows]
    return SettingsColumns(
        lead_time_hours=np.array([row.lead_time_hours for row in rows], dtype=np.float64),
        pack_size=np.array([row.pack_size for row in rows], dtype=np.int64),
        days_of_cover=np.array([row.days_of_cover for row in rows], dtype=np.float64),
        safety_days=np.array([row.safety_days for row in rows], dtype=np.float64),
        critical=np.array([c for c, _ in limits], dtype=np.float64),
        warning=np.array([w for _, w in limits], dtype=np.float64),
    )


# A fast level differing from the 7-day rate by this many standard errors is half believed.
SHRINK_Z = 3.0


def _shrink_to(level: FloatArray, anchor: FloatArray, se: FloatArray) -> FloatArray:
    """Pull the fast level toward the steady 7-day rate unless it clearly differs.

    Weight d^2 / (d^2 + (SHRINK_Z se)^2) on the difference d: noise (d ~ se) mostly goes, a real
    change (d >> se) passes nearly whole. Steady and slow sellers get steady forecasts, surges
    do not wait for the weekly average to catch up.
    """
    d = level - anchor
    noise = (SHRINK_Z * se) ** 2
    weight = np.where(noise > 0, d * d / np.maximum(d * d + noise, 1e-300), 1.0)
    return np.maximum(anchor + weight * d, 0.0)


def _viral_rows(
    history: ShopHistory,
    now: float,
    binned: BinnedSales,
    views: VideoViews,
    edges: FloatArray,
    attribution: AttributionColumns,
    bin_hours: float,
    params: InsightParams,
    eligible: BoolArray,
    spread: FloatArray,
    grid_hours: float = GRID_HOURS,
) -> ViralCurves | None:
    """Demand curves and forecasts of the (`eligible`) SKUs attributed to a video whose views
    are growing; a video that took off gets its S-curve posterior (`fit_views`)."""
    video = attribution.video
    growing = np.zeros(len(video), dtype=bool)
    linked = video >= 0
    growing[linked] = views.growth[video[linked]] >= params.min_view_growth
    rows = np.flatnonzero(growing & eligible)
    if len(rows) == 0:
        return None
    posteriors: dict[int, ViewPosterior] = {}
    for index in np.unique(video[rows]).tolist():
        mine = history.view_video == index
        posterior = fit_views(history.view_time[mine], history.view_count[mine], now)
        if posterior is not None:
            posteriors[index] = posterior
    first = np.argmax(views.valid, axis=1)
    start = views.rate[np.arange(len(history.videos)), first]
    view_model = holt(views.rate.T, views.valid.T, start, bin_hours, params)
    units = np.maximum(history.available[rows], 0).astype(np.float64)
    curves = viral_curves(
        binned,
        rows,
        video[rows],
        views,
        bin_hours,
        view_model.trend,
        params.trend_horizon_hours,
        posteriors=posteriors,
        edges=edges,
        units=units,
        spread=spread[rows],
        band_fraction=params.min_band_fraction,
        grid_hours=grid_hours,
    )
    return curves if len(curves.rows) else None


def _weigh_by_track_record(
    history: ShopHistory,
    now: float,
    viral: ViralCurves,
    attributed: IntArray,
    model: DemandModel,
    profile: FloatArray,
    settings: Mapping[str, SkuSettings] | None,
    default: SkuSettings,
    params: InsightParams,
) -> tuple[ViralCurves, FloatArray]:
    """The video-driven curves averaged with the sales model by each one's recent error."""
    rows = viral.rows
    sub = recent(history, now - _RECENT_DAYS * 24 * HOUR).only(
        [history.skus[r].sku_id for r in rows.tolist()]
    )
    # Only the videos these SKUs are attributed to take part at the origins.
    videos = np.unique(attributed)
    sub = with_videos(sub, videos)
    pinned = {
        sku.sku_id: sub.videos[int(k)].video_id
        for sku, k in zip(sub.skus, np.searchsorted(videos, attributed).tolist(), strict=True)
    }
    origins: list[Origin] = []
    for hours_back, origin in origin_times(now):
        if origin <= history.since:
            continue
        at = sub.with_available(origin_stock(history, rows, origin, now))
        past = compute_columns(
            at,
            origin,
            settings=settings,
            default=default,
            previous_videos=pinned,
            params=params,
            track_record=False,
        )
        sold = past.velocity.units_7d > 0
        predicted_sales = np.where(sold, past.demand.cumulative(hours_back), 0.0)
        predicted_sales = np.nan_to_num(predicted_sales, nan=0.0, posinf=0.0)
        predicted_viral = np.full(len(rows), np.nan)
        predicted_damped = np.full(len(rows), np.nan)
        if past.viral is not None:
            back = np.full(len(past.viral.rows), hours_back)
            predicted_viral[past.viral.rows] = past.viral.cumulative(back, past.viral.expected)
            if past.viral.damped is not None:
                predicted_damped[past.viral.rows] = past.viral.damped.cumulative(back)
        actual = sold_between(history, rows, origin, now)
        origins.append(
            Origin(hours_back, predicted_viral, predicted_sales, actual, predicted_damped)
        )
    # First the two view-driven projections by their record, then that mix against sales.
    mix = curve_weights(origins) if origins else np.full(len(rows), CURVE_NEW_WEIGHT)
    viral = mix_curves(viral, mix)
    origins = [mixed_units(origin, mix) for origin in origins]
    weight = viral_weights(origins) if origins else np.full(len(rows), NEW_WEIGHT)
    extra = blended_errors(origins, weight) if origins else np.zeros((2, len(rows)))
    grid: FloatArray = np.arange(viral.rate.shape[1], dtype=np.float64) * viral.step_hours
    blended = blend(viral, sales_rate_grid(model, rows, grid, profile, now), weight)
    units = np.maximum(history.available[rows], 0).astype(np.float64)
    left = hours_until_grid(blended.rate, blended.step_hours, units)
    low = np.minimum(hours_until_grid(blended.busy, blended.step_hours, units), left)
    high = np.maximum(hours_until_grid(blended.quiet, blended.step_hours, units), left)
    curves = ViralCurves(
        rows, blended.rate, blended.step_hours, blended.logistic, blended.busy, blended.quiet,
        left, low, high,
    )  # fmt: skip
    return curves, extra


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
    # The demand curves behind the forecast, for drawing the projected depletion.
    demand: DemandModel
    floor: FloatArray
    spread: FloatArray
    horizon: float
    viral: ViralCurves | None = None

    def projected_stock(
        self, index: int, available: int, hours: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(expected, low, high) stock of SKU `index` at `now + hours` (never below zero), for
        the stock-flow chart's projected depletion and its band. "low" is the busy end of the
        band (stock falls faster). Flat when there is no forecast."""
        h = np.maximum(np.asarray(hours, dtype=np.float64), 0.0)
        units = float(max(available, 0))
        if np.isnan(self.forecast.hours_left[index]):
            flat = np.full(len(h), units)
            return flat, flat.copy(), flat.copy()
        spread = float(self.spread[index])
        rows = self.viral.rows.tolist() if self.viral is not None else []
        if self.viral is not None and index in rows:
            row = rows.index(index)
            used = [
                self.viral.cumulative_row(row, h, which) for which in ("central", "busy", "quiet")
            ]
        else:
            level = self.demand.level[index : index + 1]
            trend = self.demand.trend[index : index + 1]
            floor = self.floor[index : index + 1]
            used = [
                demand_model(
                    np.maximum(level + d, 0.0), trend, np.maximum(floor + d, 0.0), self.horizon
                ).cumulative(h[:, None])[:, 0]
                for d in (0.0, spread, -spread)
            ]
        central, busy, quiet = (np.maximum(units - u, 0.0) for u in used)
        return central, busy, quiet

    def levels(self, history: ShopHistory) -> dict[str, AlertLevel]:
        return {
            sku.sku_id: LEVELS[level]
            for sku, level in zip(history.skus, self.severity.tolist(), strict=True)
        }

    def videos(self, history: ShopHistory) -> dict[str, str]:
        return {
            sku.sku_id: history.videos[video].video_id
            for sku, video in zip(history.skus, self.attribution.video.tolist(), strict=True)
            if video >= 0
        }


def compute_columns(
    history: ShopHistory,
    now: float,
    *,
    settings: Mapping[str, SkuSettings] | None = None,
    default: SkuSettings = SkuSettings(),  # noqa: B008 - frozen, so sharing it is safe
    previous_levels: Mapping[str, AlertLevel] | None = None,
    previous_videos: Mapping[str, str] | None = None,
    params: InsightParams = InsightParams(),  # noqa: B008
    track_record: bool = True,
) -> InsightColumns:
    """All numbers for all SKUs at `now` (epoch seconds of the event clock).

    `track_record` weighs a video-driven forecast by how well it predicted the SKU's recent
    sales (`app.insight.ensemble`); the inner recomputations at earlier moments turn it off.

    `previous_levels` / `previous_videos` come from the last computation (`ShopInsight.levels()`
    and `.videos()`, or `InsightColumns.levels()` / `.videos()`) and give alert levels and
    attributions their hysteresis.
    """
    n = len(history.skus)
    config = settings_columns(history, settings, default)
    oos = out_of_stock_intervals(history, now)
    velocity = compute_velocities(history, now, oos, params)
    bins = make_bins(now, params)
    binned = bin_sales(history, oos, bins)
    views = bin_views(history, bins)
    sticky = None
    if previous_videos:
        index = {video.video_id: i for i, video in enumerate(history.videos)}
        sticky = np.array(
            [index.get(previous_videos.get(sku.sku_id, ""), -1) for sku in history.skus],
            dtype=np.int64,
        )
    attribution = attribute(history, now, binned, views, bins.width_hours, params, sticky)

    recent = max(1, round(params.holt_hours / bins.width_hours))
    profile = daily_profile(history, now)
    cycle = bin_profile(profile, bins.edges[-recent - 1 :])
    sales_model = holt(
        binned.rate[-recent:] / cycle,
        binned.valid[-recent:],
        velocity.per_hour_7d,
        bins.width_hours,
        params,
        snapshots=band.LAGS_BINS,
    )
    errors = band.sales_errors(sales_model, binned, cycle, bins.width_hours)
    level = _shrink_to(sales_model.level, velocity.per_hour_7d, sales_model.level_se)
    available = history.available
    incoming = history.incoming
    sold = velocity.units_7d > 0
    forecast, model = forecast_stockout(
        available,
        sold,
        level,
        sales_model.trend,
        velocity.per_hour_7d,
        sales_model.level_se,
        params,
        profile,
        now,
    )
    spread = band_spread(model.level, sales_model.level_se, params)
    viral = _viral_rows(
        history,
        now,
        binned,
        views,
        bins.edges,
        attribution,
        bins.width_hours,
        params,
        sold,
        spread,
        # At an origin only the next hours' demand is checked: a short grid is enough.
        GRID_HOURS if track_record else max(ORIGIN_HOURS) + 0.5,
    )
    if viral is not None and track_record:
        viral, extra = _weigh_by_track_record(
            history, now, viral, attribution.video[viral.rows], model, profile, settings,
            default, params,
        )  # fmt: skip
        errors[:, viral.rows] += extra
    if viral is not None:
        rows = viral.rows
        forecast.hours_left[rows] = viral.hours_left
        forecast.hours_low[rows] = viral.hours_low
        forecast.hours_high[rows] = viral.hours_high
        forecast.rate[rows] = viral.rate[:, 0]
        forecast.trend[rows] = (viral.rate[:, 1] - viral.rate[:, 0]) / viral.step_hours

    finite = np.isfinite(forecast.hours_left)
    low, high = band.hours_band(
        forecast.hours_left, band.model_variance(errors), np.maximum(available, 0).astype(float)
    )
    forecast.hours_low[finite] = np.minimum(low, forecast.hours_left)[finite]
    forecast.hours_high[finite] = np.maximum(high, forecast.hours_left)[finite]

    previous = np.zeros(n, dtype=np.int64)
    if previous_levels:
        previous = np.array(
            [previous_levels.get(sku.sku_id, AlertLevel.OK).severity for sku in history.skus],
            dtype=np.int64,
        )
    severity = alert_levels(
        forecast.hours_left, previous, config.critical, config.warning, params.hysteresis_fraction
    )
    # Never milder while the stock at the last hour's rate runs out within the critical
    # threshold: a forecast that believes a surge is ending must not call off the alarm
    # while the surge is still selling.
    with np.errstate(divide="ignore", invalid="ignore"):
        at_last_hour = np.where(
            velocity.per_hour_1h > 0, np.maximum(available, 0) / velocity.per_hour_1h, np.inf
        )
    hold = (previous > severity) & (at_last_hour <= config.critical)
    severity = np.where(hold, previous, severity).astype(np.int64)
    # ... nor OK at all while it sells that fast on enough units to tell (a second video
    # taking off before the forecast has caught up): at least a warning.
    brisk = (at_last_hour <= config.critical) & (velocity.per_hour_1h >= _BRISK_UNITS)
    severity = np.where(brisk, np.maximum(severity, 1), severity).astype(np.int64)

    horizon = config.lead_time_hours + 24.0 * config.days_of_cover
    usual = velocity.usual_per_hour
    surging = sold & (usual > 0) & (forecast.rate > SURGE_RATIO * usual)

    def demand_within(hours: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Units the forecast expects over `hours` (per SKU), for a surging SKU at most
        SURGE_HOURS at today's rate and the usual rate after them; and where that bound held."""
        expected: FloatArray = np.where(sold, model.cumulative(hours), 0.0)
        if viral is not None:
            expected[viral.rows] = viral.cumulative(hours[viral.rows])
        near = np.minimum(hours, SURGE_HOURS)
        bounded = forecast.rate * near + usual * (hours - near)
        capped: BoolArray = surging & (bounded < expected) & (hours > near)
        result: FloatArray = np.where(surging, np.minimum(expected, bounded), expected)
        return result, capped

    demand, capped = demand_within(horizon)
    lead_demand, _ = demand_within(config.lead_time_hours)
    after_surge = np.where(capped, usual, np.nan)
    # Safety stock covers the usual day's ups and downs: a surge's rate held for days is not
    # safety, it is the over-order this avoids.
    safety_rate = np.where(capped, usual, forecast.rate)
    safety = np.where(sold, 24.0 * config.safety_days * safety_rate, 0.0)
    reorder = reorder_quantities(demand, safety, available, incoming, config.pack_size, after_surge)

    price = np.where(
        velocity.units_7d > 0,
        velocity.revenue_7d / np.maximum(velocity.units_7d, 1e-12),
        history.unit_price,
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
        demand=model,
        floor=velocity.per_hour_7d,
        spread=spread,
        horizon=params.trend_horizon_hours,
        viral=viral,
    )


# The recomputations at the origins see this many days of sales (enough for the 7-day
# velocity and the whole-day profile), not the shop's whole history.
_RECENT_DAYS = 8.0
_ZERO = Decimal("0.00")
# Units in the last hour from which its rate alone keeps a SKU off OK (see compute_columns).
_BRISK_UNITS = 5.0
_CENT = Decimal("0.01")


def _finite_or_none(values: FloatArray) -> list[float | None]:
    finite = np.isfinite(values)
    return [v if ok else None for v, ok in zip(values.tolist(), finite.tolist(), strict=True)]


def sort_order(history: ShopHistory, columns: InsightColumns) -> IntArray:
    """Revenue at risk (cents) high to low, then severity high to low, then hours left, sku_id:
    `alerts.attention_key` over columns (tests/insight hold the two equal)."""
    cents = np.round(columns.revenue_at_risk * 100.0)
    hours = np.nan_to_num(columns.forecast.hours_left, nan=np.inf)
    ids = np.array(history.sku_ids)
    return np.lexsort((ids, hours, -columns.severity, -cents)).astype(np.int64)


def materialize(
    history: ShopHistory, columns: InsightColumns, top: int | None = None
) -> ShopInsight:
    """The per-SKU result objects, sorted by revenue at risk (then severity, then hours left);
    only the first `top` of them when given (the alert cards need a few; a frozen object per
    SKU costs more than all the numbers for 10,000 SKUs).

    Columns are turned into Python lists once: indexing numpy scalars one by one would cost
    more than all the numbers did.
    """
    now = columns.now
    order = sort_order(history, columns).tolist()
    if top is not None:
        order = order[: max(top, 0)]
    f, v, r, cfg = columns.forecast, columns.velocity, columns.reorder, columns.settings
    hours_left = _finite_or_none(f.hours_left)
    hours_low = _finite_or_none(f.hours_low)
    hours_high = _finite_or_none(f.hours_high)
    rate, trend = f.rate.tolist(), f.trend.tolist()
    velocity_rows = list(
        zip(
            v.per_hour_1h.tolist(),
            v.per_hour_6h.tolist(),
            v.per_hour_24h.tolist(),
            v.per_hour_7d.tolist(),
            v.ewma_per_hour.tolist(),
            v.in_stock_hours_7d.tolist(),
            strict=True,
        )
    )
    quantity, demand, safety = r.quantity.tolist(), r.demand_units.tolist(), r.safety_units.tolist()
    after_surge = [None if math.isnan(v) else v for v in r.after_surge_per_hour.tolist()]
    pack, lead, cover = (
        cfg.pack_size.tolist(),
        cfg.lead_time_hours.tolist(),
        cfg.days_of_cover.tolist(),
    )
    severity = columns.severity.tolist()
    cents = np.round(columns.revenue_at_risk * 100.0).astype(np.int64).tolist()
    video, explicit, score = (
        columns.attribution.video.tolist(),
        columns.attribution.explicit.tolist(),
        columns.attribution.score.tolist(),
    )
    items: list[SkuInsight] = []
    skus = history.skus
    for i in order:
        sku = skus[i]
        left = hours_left[i]
        has_forecast = left is not None
        forecast = (
            Forecast(left, hours_low[i], hours_high[i], now + left * HOUR, rate[i], trend[i])
            if left is not None
            else Forecast(None, None, None, None, rate[i], 0.0)
        )
        attribution = None
        if video[i] >= 0:
            info = history.videos[video[i]]
            method: Literal["explicit", "correlation"] = (
                "explicit" if explicit[i] else "correlation"
            )
            attribution = Attribution(info.video_id, method, score[i], info.title)
        # Positional arguments, in field order: a third cheaper than keywords at 10,000 SKUs.
        reorder = ReorderSuggestion(
            quantity[i],
            demand[i],
            safety[i],
            sku.available,
            sku.incoming,
            pack[i],
            lead[i],
            cover[i],
            rate[i],
            has_forecast,
            after_surge[i],
        )
        items.append(
            SkuInsight(
                sku.sku_id,
                sku.product_id,
                sku.product_name,
                sku.available,
                Velocity(*velocity_rows[i]),
                forecast,
                LEVELS[severity[i]],
                reorder,
                attribution,
                _ZERO if cents[i] == 0 else Decimal(cents[i]) * _CENT,
                now,
                sku.sku_name,
            )
        )
    ordered = tuple(items)
    by_sku = {item.sku_id: item for item in items}
    position = {sku.sku_id: i for i, sku in enumerate(history.skus)}

    def projector(sku_id: str, hours: Sequence[float]) -> StockProjection:
        index = position[sku_id]
        expected, busy, quiet = columns.projected_stock(
            index, history.skus[index].available, np.asarray(hours, dtype=np.float64)
        )
        return StockProjection(expected.tolist(), busy.tolist(), quiet.tolist())

    return ShopInsight(
        computed_at=now,
        skus=ordered,
        by_sku=by_sku,
        projector=projector,
        level_by_sku=columns.levels(history),
        video_by_sku=columns.videos(history),
    )


class Projectors:
    """The projector of a merged insight: each SKU's own computation draws its projection
    (a flat table, so merging again does not chain closures or keep old columns alive)."""

    def __init__(self, table: dict[str, Callable[[str, Sequence[float]], StockProjection]]):
        self.table = table

    def __call__(self, sku_id: str, hours: Sequence[float]) -> StockProjection:
        return self.table[sku_id](sku_id, hours)


def merge_insight(previous: ShopInsight, part: ShopInsight) -> ShopInsight:
    """`previous` with the SKUs of `part` put in place (or added): the result when only the
    SKUs whose data changed were recomputed (#15). Each SKU is computed alone (no number of
    one SKU depends on another's sales or stock), so this equals a computation of every SKU
    when nothing else changed; the SKUs left out keep their own `now`. Sorted as a full
    computation sorts (`alerts.attention_key`, which `sort_order` equals): the SKUs kept are
    in that order already, so only the recomputed ones are put in place, by bisection (on a
    big shop the whole sort worked out 5,000 keys for the ~100 SKUs a webhook touches)."""
    replaced = part.by_sku
    ordered_list = [item for item in previous.skus if item.sku_id not in replaced]
    for item in part.skus:
        bisect.insort(ordered_list, item, key=attention_key)
    ordered = tuple(ordered_list)
    table: dict[str, Callable[[str, Sequence[float]], StockProjection]] = {}
    for source in (previous, part):
        projector = source.projector
        if isinstance(projector, Projectors):
            table.update(projector.table)
        elif projector is not None:
            table.update(dict.fromkeys(source.by_sku, projector))
    levels = dict(previous.level_by_sku)
    levels.update(part.level_by_sku)
    videos = {
        sku_id: video for sku_id, video in previous.video_by_sku.items() if sku_id not in replaced
    }
    videos.update(part.video_by_sku)
    return ShopInsight(
        computed_at=max(previous.computed_at, part.computed_at),
        skus=ordered,
        by_sku={item.sku_id: item for item in ordered},
        projector=Projectors(table) if table else None,
        level_by_sku=levels,
        video_by_sku=videos,
    )


def compute_shop_insight(
    history: ShopHistory,
    now: float,
    *,
    settings: Mapping[str, SkuSettings] | None = None,
    default: SkuSettings = SkuSettings(),  # noqa: B008
    previous_levels: Mapping[str, AlertLevel] | None = None,
    previous_videos: Mapping[str, str] | None = None,
    params: InsightParams = InsightParams(),  # noqa: B008
    top: int | None = None,
) -> ShopInsight:
    """Insight for every SKU of `history` at `now`.

    `settings` maps sku_id to its settings (others use `default`); `previous_levels` are the
    levels from the last computation (`ShopInsight.levels()`), `previous_videos` its attributed
    videos (`ShopInsight.videos()`), for hysteresis. `top` keeps only the first SKUs by revenue
    at risk as objects (all of them by default).
    """
    columns = compute_columns(
        history,
        now,
        settings=settings,
        default=default,
        previous_levels=previous_levels,
        previous_videos=previous_videos,
        params=params,
    )
    return materialize(history, columns, top)
