"""SKU settings between the store's units (days) and insight's (hours).

The store keeps lead time in days because that is how sellers think about suppliers; insight
and the screens work in hours. Both directions live here so a round trip is exact.
"""

from __future__ import annotations

from app.insight.types import SkuSettings
from app.store.settings import SkuSettings as StoredSettings

__all__ = ["to_insight", "to_stored"]


def to_insight(stored: StoredSettings) -> SkuSettings:
    """The store's settings (days) as the UI and insight see them (hours)."""
    return SkuSettings(
        lead_time_hours=stored.lead_time_days * 24.0,
        pack_size=max(1, stored.pack_size),
        days_of_cover=stored.cover_days,
        safety_days=stored.safety_days,
        critical_hours=stored.critical_hours,
    )


def to_stored(settings: SkuSettings) -> dict[str, float | int]:
    """Keyword arguments for `set_sku_settings` / `set_shop_settings` from insight's settings."""
    return {
        "lead_time_days": round(settings.lead_time_hours / 24.0, 4),
        "pack_size": int(settings.pack_size),
        "cover_days": float(settings.days_of_cover),
        "safety_days": float(settings.safety_days),
        "critical_hours": float(settings.critical_hours),
    }
