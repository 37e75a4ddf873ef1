"""The plain data that goes into and comes out of insight.

Every type here is a frozen dataclass (or an enum) over stdlib values so that the sync layer can
build the inputs from the store and the UI can read the outputs without importing numpy.

Units, everywhere in `app.insight`:
- times are UTC epoch seconds (`float`), always *event* times (order create time, stock change
  time, view sample time); the caller passes `now`, nothing here reads a clock;
- durations are hours (`float`), named `*_hours`; settings given in days are named `*_days`;
- rates are units per hour (`per_hour`);
- stock and quantities are whole units (`int`); demand forecasts are fractional units (`float`);
- money is `decimal.Decimal` in the shop's currency.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from app.insight import text

# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sale:
    """Units of one SKU sold at one moment (one order's line items for that SKU).

    `video_id` is set when TikTok says which video sold it (affiliate orders' `content_id` with
    `content_type == "VIDEO"`); that is explicit attribution. Cancelled orders should not be
    passed as sales.
    """

    time: float
    sku_id: str
    units: int
    revenue: Decimal = Decimal(0)
    video_id: str | None = None


@dataclass(frozen=True, slots=True)
class StockPoint:
    """The available stock of a SKU from `time` on, until the next point for that SKU.

    Only used to know when a SKU was out of stock (`available <= 0`): demand is not observed
    while the shelf is empty, so that time is left out of velocities and forecasts.
    """

    time: float
    sku_id: str
    available: int


@dataclass(frozen=True, slots=True)
class ViewPoint:
    """A sample of a video's cumulative view count at `time`."""

    time: float
    video_id: str
    views: int


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """A video and the products it links to (TikTok's `videos[].products[].id`).

    When a video lists products, correlation attribution only considers SKUs of those products;
    a video with no listed products may be correlated with any SKU.
    """

    video_id: str
    title: str = ""
    product_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SkuState:
    """What the store knows about a SKU right now."""

    sku_id: str
    product_id: str
    product_name: str = ""
    sku_name: str = ""
    available: int = 0
    # Units already ordered from the supplier and not yet received.
    incoming: int = 0
    # Used for revenue at risk when the SKU has no recent sales to take a price from.
    unit_price: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class SkuSettings:
    """Per-SKU (or shop default) replenishment settings the seller can change."""

    # Hours from placing a reorder until the goods are sellable.
    lead_time_hours: float = 168.0
    # Reorders come in multiples of this many units.
    pack_size: int = 1
    # How long a reorder should last once it arrives.
    days_of_cover: float = 14.0
    # Extra demand kept as safety stock, in days of the current rate; also widens the warning
    # band: warning when stock runs out within lead time + safety days.
    safety_days: float = 3.0
    # Critical whenever stock runs out within this many hours, even with a short lead time.
    critical_hours: float = 24.0


@dataclass(frozen=True, slots=True)
class OrderFact:
    """One order as order intelligence needs it.

    `video_revenue` is the part of `revenue` attributed to a video (explicitly, or via the
    SKU's attributed video); zero when none.
    """

    order_id: str
    create_time: float
    status: str
    revenue: Decimal
    video_revenue: Decimal = Decimal(0)
    # TikTok's `rts_sla_time`: ship by then. None when unknown.
    ship_by: float | None = None


# --- outputs -----------------------------------------------------------------------------------


class AlertLevel(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def severity(self) -> int:
        """0 for ok, 1 for warning, 2 for critical: compare levels with this."""
        return _SEVERITY[self]


_SEVERITY: dict[AlertLevel, int] = {
    AlertLevel.OK: 0,
    AlertLevel.WARNING: 1,
    AlertLevel.CRITICAL: 2,
}


@dataclass(frozen=True, slots=True)
class Velocity:
    """Units sold per hour of *in-stock* time over trailing windows ending at `now`.

    A window in which the SKU was never in stock falls back to the next longer window's rate
    (demand was not observable), and to 0 for 7 days.
    `ewma_per_hour` is an exponentially weighted rate (time constant 30 min by default), also
    over in-stock time only, that follows a spike within minutes.
    """

    per_hour_1h: float
    per_hour_6h: float
    per_hour_24h: float
    per_hour_7d: float
    ewma_per_hour: float
    # In-stock hours inside the 7-day window (168 when never out of stock).
    in_stock_hours_7d: float = 168.0


NARROW_BAND_RATIO = 3.0


@dataclass(frozen=True, slots=True)
class Forecast:
    """Hours until stock-out from a level-plus-trend model of recent sales.

    `hours_left` is None when there is nothing to forecast from (no sales), and 0 when the SKU
    is already out of stock. `hours_left_low` is the pessimistic end of the band (stock-out
    sooner), `hours_left_high` the optimistic one (None when, at the band's low demand, stock
    would not run out). `stockout_at` is `now + hours_left` in epoch seconds.
    `rate_per_hour` is the model's current demand level, `trend_per_hour2` its slope (units per
    hour, per hour; raised by a linked video's view growth).
    """

    hours_left: float | None
    hours_left_low: float | None
    hours_left_high: float | None
    stockout_at: float | None
    rate_per_hour: float
    trend_per_hour2: float

    @property
    def available(self) -> bool:
        """True when there is a forecast (the UI shows "N/A" otherwise)."""
        return self.hours_left is not None

    @property
    def band_is_narrow(self) -> bool:
        """True when the band tells the seller something: both ends known and the late end at
        most `NARROW_BAND_RATIO` times the early one ("4-7 h"). "0.9 h to 410 h" is not shown,
        on the chart or in words."""
        low, high = self.hours_left_low, self.hours_left_high
        return low is not None and high is not None and low > 0 and high <= NARROW_BAND_RATIO * low


@dataclass(frozen=True, slots=True)
class ReorderSuggestion:
    """How many units to reorder now, and the sum that led to it.

    quantity = ceil((demand_units + safety_units - available - incoming) / pack_size) * pack_size,
    or 0 when that is not positive. `demand_units` is the forecast demand over
    `lead_time_hours + days_of_cover * 24` hours.
    """

    quantity: int
    demand_units: float
    safety_units: float
    available: int
    incoming: int
    pack_size: int
    lead_time_hours: float
    days_of_cover: float
    # The demand rate the forecast started from, and whether there was a forecast at all.
    rate_per_hour: float = 0.0
    has_forecast: bool = True
    # A surge's demand is counted for a day at `rate_per_hour`, then at this usual rate (None:
    # the forecast's own curve throughout). See `app.insight.shop.SURGE_HOURS`.
    after_surge_per_hour: float | None = None

    @property
    def explanation(self) -> str:
        """The sum as a plain-language sentence (built on demand: most are never shown)."""
        return text.explain_reorder(
            quantity=self.quantity,
            demand_units=self.demand_units,
            safety_units=self.safety_units,
            available=self.available,
            incoming=self.incoming,
            pack_size=self.pack_size,
            lead_time_hours=self.lead_time_hours,
            days_of_cover=self.days_of_cover,
            rate_per_hour=self.rate_per_hour,
            has_forecast=self.has_forecast,
            after_surge_per_hour=self.after_surge_per_hour,
        )


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which video is driving a SKU's sales.

    method "explicit": TikTok named the video on the orders; `score` is the share of the SKU's
    recent units it sold (0..1). method "correlation": `score` is the Pearson correlation (0..1
    after thresholding) between the video's hourly view growth and the SKU's hourly sales.
    """

    video_id: str
    method: Literal["explicit", "correlation"]
    score: float
    title: str = ""


@dataclass(frozen=True, slots=True)
class SkuInsight:
    """Everything the dashboard shows about one SKU, computed at `computed_at`.

    `context` says why ("viral video 'Dance' driving orders"), `headline` is the one-line
    summary ("viral video 'Dance' driving orders · selling 47/hour, 6 h of stock · reorder 500").
    `revenue_at_risk` is the revenue of the forecast demand that available plus incoming stock
    cannot serve before a reorder placed now arrives (lead time), at the recent average price.
    """

    sku_id: str
    product_id: str
    product_name: str
    available: int
    velocity: Velocity
    forecast: Forecast
    level: AlertLevel
    reorder: ReorderSuggestion
    attribution: Attribution | None
    revenue_at_risk: Decimal
    computed_at: float
    sku_name: str = ""

    @property
    def context(self) -> str:
        """Why it sells like this: the driving video, out of stock, accelerating, steady."""
        forecast = self.forecast
        rising = forecast.trend_per_hour2 * 6.0 > 0.25 * max(forecast.rate_per_hour, 1e-9)
        return text.context(
            attribution=self.attribution,
            available=self.available,
            has_forecast=forecast.hours_left is not None,
            rising=rising,
        )

    @property
    def headline(self) -> str:
        """One line for the alert card and the tray notification."""
        return text.headline(
            context_text=self.context,
            rate=self.forecast.rate_per_hour,
            hours=self.forecast.hours_left,
            reorder=self.reorder.quantity,
            available=self.available,
            band=(
                (self.forecast.hours_left_low, self.forecast.hours_left_high)  # type: ignore[arg-type]
                if self.forecast.band_is_narrow
                else None
            ),
        )


@dataclass(frozen=True, slots=True)
class OrderIntelligence:
    """The order side of the dashboard over the trailing `hours` ending at `computed_at`.

    Series are hourly and aligned: `hour_starts[i]` is the epoch second the i-th hour starts.
    `funnel` counts orders (in the window) by TikTok status, in the order of the status flow.
    `viral_revenue_share` is video-attributed revenue / revenue (0 when no revenue), excluding
    cancelled orders. `near_ship_by` lists (order_id, ship_by) of orders still to ship whose
    ship-by time is within the threshold or already past, soonest first.
    """

    computed_at: float
    hour_starts: tuple[float, ...]
    orders_per_hour: tuple[int, ...]
    revenue_per_hour: tuple[Decimal, ...]
    viral_orders_per_hour: tuple[int, ...]
    funnel: Mapping[str, int]
    order_count: int
    revenue: Decimal
    viral_revenue: Decimal
    viral_revenue_share: float
    near_ship_by: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class StockProjection:
    """Stock levels at the requested hours ahead: expected, and the band's two ends."""

    expected: list[float]
    busy: list[float]
    quiet: list[float]


@dataclass(frozen=True, slots=True)
class ShopInsight:
    """Insight for every SKU of a shop (or the `top` first), sorted by revenue at risk, highest
    first."""

    computed_at: float
    skus: tuple[SkuInsight, ...]
    by_sku: Mapping[str, SkuInsight] = field(default_factory=dict)
    # Set by the computation: (sku_id, hours ahead) -> (expected, busy, quiet) stock lists.
    projector: Callable[[str, Sequence[float]], StockProjection] | None = field(
        default=None, repr=False, compare=False
    )

    def projected_stock(self, sku_id: str, hours: Sequence[float]) -> StockProjection:
        """Projected stock of a SKU at `computed_at + hours[i]` hours, for the stock-flow
        chart: the expected depletion and the band around it (busy: falls faster; quiet:
        slower), never below zero. Flat at the current stock without a forecast."""
        if self.projector is None:
            stock = float(self.by_sku[sku_id].available) if sku_id in self.by_sku else 0.0
            flat = [max(stock, 0.0)] * len(hours)
            return StockProjection(flat, list(flat), list(flat))
        return self.projector(sku_id, hours)

    # Every SKU's level and attributed video, also those left out by `top`.
    level_by_sku: Mapping[str, AlertLevel] = field(default_factory=dict)
    video_by_sku: Mapping[str, str] = field(default_factory=dict)

    def levels(self) -> dict[str, AlertLevel]:
        """The levels to pass back in as `previous_levels` next time (for hysteresis)."""
        if self.level_by_sku:
            return dict(self.level_by_sku)
        return {item.sku_id: item.level for item in self.skus}

    def videos(self) -> dict[str, str]:
        """The attributed videos to pass back in as `previous_videos` next time."""
        if self.video_by_sku or self.level_by_sku:
            return dict(self.video_by_sku)
        return {
            item.sku_id: item.attribution.video_id
            for item in self.skus
            if item.attribution is not None
        }


@dataclass(frozen=True, slots=True)
class InsightParams:
    """Tuning of the models; the defaults are what the benchmark measured. Hours throughout."""

    # Exponentially weighted velocity: time constant. 0.5 h sees a spike within ~10 minutes.
    ewma_tau_hours: float = 0.5
    # The level-plus-trend model runs on bins of this size over the trailing model window.
    bin_hours: float = 0.25
    model_hours: float = 48.0
    # Holt runs over the last part of the model window only (8 level time constants is plenty).
    holt_hours: float = 24.0
    # Holt smoothing as time constants (independent of the bin size).
    level_tau_hours: float = 1.5
    trend_tau_hours: float = 3.0
    # A trend is extrapolated this far, then the rate is held (viral surges do not grow forever).
    trend_horizon_hours: float = 12.0
    # Band: level +- band_z standard errors, and at least +-min_band_fraction of the level.
    band_z: float = 1.645
    min_band_fraction: float = 0.1
    # A level is left for a milder one only when hours left exceed the threshold by this fraction.
    hysteresis_fraction: float = 0.1
    # Attribution over the model window: correlation needs r >= this, the video to have gained
    # at least min_view_growth views and the SKU to have sold min_units in the window.
    min_correlation: float = 0.6
    # ... or r >= this for a video that lists the SKU's product (TikTok's video-product link).
    min_correlation_linked: float = 0.4
    # A SKU keeps last computation's video down to this fraction of those thresholds.
    sticky_fraction: float = 0.75
    min_view_growth: float = 100.0
    min_units_for_correlation: float = 5.0
    # Order intelligence: hourly series length and the "close to ship-by" threshold.
    order_hours: int = 48
    near_ship_by_hours: float = 24.0
