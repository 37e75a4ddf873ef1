"""Alert level from hours left, with hysteresis so a level does not flap.

Thresholds: critical when stock runs out before a reorder placed now could arrive (lead time)
or within `critical_hours`; warning within lead time plus safety days; otherwise ok.

Hysteresis: a SKU enters a more severe level as soon as hours left cross that level's threshold,
but leaves it for a milder one only when hours left exceed the threshold by
`hysteresis_fraction`. A forecast hovering around 24 hours therefore raises one notification,
not one per recomputation. The previous level is an input, so this stays a pure function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from app.insight.history import FloatArray, IntArray
from app.insight.types import AlertLevel, SkuInsight, SkuSettings

LEVELS = (AlertLevel.OK, AlertLevel.WARNING, AlertLevel.CRITICAL)


def thresholds(settings: SkuSettings) -> tuple[float, float]:
    """(critical, warning) hours-left thresholds; warning is never below critical."""
    critical = max(settings.lead_time_hours, settings.critical_hours)
    warning = max(critical, settings.lead_time_hours + 24.0 * settings.safety_days)
    return critical, warning


def alert_levels(
    hours_left: FloatArray,
    previous: IntArray,
    critical: FloatArray,
    warning: FloatArray,
    hysteresis_fraction: float,
) -> IntArray:
    """Severity per SKU (0 ok, 1 warning, 2 critical); nan hours left (no forecast) is ok.

    `previous` holds last severities (0 when unknown).
    """
    hours = np.where(np.isnan(hours_left), np.inf, hours_left)
    entering = np.where(hours <= critical, 2, np.where(hours <= warning, 1, 0))
    margin = 1.0 + hysteresis_fraction
    leaving = np.where(hours <= critical * margin, 2, np.where(hours <= warning * margin, 1, 0))
    # Milder than before: only as far as the widened thresholds allow, never below `entering`.
    milder = np.minimum(previous, np.maximum(leaving, entering))
    return np.where(entering >= previous, entering, milder).astype(np.int64)


def alert_level(
    hours_left: float | None,
    settings: SkuSettings,
    previous: AlertLevel = AlertLevel.OK,
    hysteresis_fraction: float = 0.1,
) -> AlertLevel:
    """One SKU's level: the scalar form of `alert_levels`."""
    critical, warning = thresholds(settings)
    hours = math.nan if hours_left is None else hours_left
    result = alert_levels(
        np.array([hours]),
        np.array([previous.severity], dtype=np.int64),
        np.array([critical]),
        np.array([warning]),
        hysteresis_fraction,
    )
    return LEVELS[int(result[0])]


def attention_key(item: SkuInsight) -> tuple[int, int, float, str]:
    """The one order in which SKUs claim the seller's attention: revenue at risk (to the cent)
    high to low, then severity, then hours left, then sku_id.

    The alerts list, the banner and the tray's digest, the stock chart's default SKU and the
    exported reorder list all sort by this key, so the SKU a notification names is the SKU on
    top of the list. `shop.sort_order` is the same rule over columns (a test holds them equal).
    """
    hours = item.forecast.hours_left
    return (
        -round(item.revenue_at_risk * 100),
        -item.level.severity,
        math.inf if hours is None else hours,
        item.sku_id,
    )


def needing_attention(items: Iterable[SkuInsight]) -> list[SkuInsight]:
    """SKUs that are not OK, in `attention_key` order."""
    return sorted((s for s in items if s.level is not AlertLevel.OK), key=attention_key)
