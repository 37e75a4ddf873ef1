"""The seller's brain: pure functions over plain data (stdlib + numpy, no I/O, no clock).

Typical use by the sync layer::

    history = ShopHistory.from_records(skus, sales, stock, views, videos, since=t0)
    insight = compute_shop_insight(history, now, settings=..., previous_levels=last.levels())
    orders = order_intelligence(order_facts, now)

Times are event times in UTC epoch seconds, always passed in. See `app.insight.types` for the
units of every field.
"""

from app.insight.alerts import alert_level, thresholds
from app.insight.evaluation import StockoutCheck, first_critical_check
from app.insight.history import ShopHistory
from app.insight.orders import order_intelligence
from app.insight.shop import InsightColumns, compute_columns, compute_shop_insight, materialize
from app.insight.types import (
    AlertLevel,
    Attribution,
    Forecast,
    InsightParams,
    OrderFact,
    OrderIntelligence,
    ReorderSuggestion,
    Sale,
    ShopInsight,
    SkuInsight,
    SkuSettings,
    SkuState,
    StockPoint,
    StockProjection,
    Velocity,
    VideoInfo,
    ViewPoint,
)

__all__ = [
    "AlertLevel",
    "Attribution",
    "Forecast",
    "InsightColumns",
    "InsightParams",
    "OrderFact",
    "OrderIntelligence",
    "ReorderSuggestion",
    "Sale",
    "ShopHistory",
    "ShopInsight",
    "SkuInsight",
    "SkuSettings",
    "SkuState",
    "StockPoint",
    "StockProjection",
    "StockoutCheck",
    "Velocity",
    "VideoInfo",
    "ViewPoint",
    "alert_level",
    "compute_columns",
    "compute_shop_insight",
    "first_critical_check",
    "materialize",
    "order_intelligence",
    "thresholds",
]
