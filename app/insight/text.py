"""The words on the alert card: context ("viral video driving orders") and the one-line headline
("viral video 'Dance' driving orders · selling 47/hour, 6 h of stock · reorder 500")."""

from __future__ import annotations

from app.insight.types import Attribution


def video_label(attribution: Attribution) -> str:
    return f"'{attribution.title}'" if attribution.title else attribution.video_id


def context(
    *,
    attribution: Attribution | None,
    available: int,
    has_forecast: bool,
    rising: bool,
) -> str:
    if attribution is not None:
        return f"viral video {video_label(attribution)} driving orders"
    if available <= 0:
        return "out of stock"
    if not has_forecast:
        return "no recent sales"
    return "sales accelerating" if rising else "steady sales"


def rate_text(per_hour: float) -> str:
    if per_hour >= 10:
        return f"{per_hour:,.0f}/hour"
    if per_hour >= 1:
        return f"{per_hour:.1f}/hour"
    return f"{per_hour * 24:.1f}/day"


def hours_text(hours: float | None) -> str:
    if hours is None:
        return "N/A"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 72:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


def headline(*, context_text: str, rate: float, hours: float | None, reorder: int) -> str:
    if hours is None:
        stock = "no sales to forecast from"
    else:
        stock = f"selling {rate_text(rate)}, {hours_text(hours)} of stock"
    action = f"reorder {reorder:,}" if reorder > 0 else "no reorder needed"
    return f"{context_text} · {stock} · {action}"
