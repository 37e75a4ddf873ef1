"""Reorder and alert settings: built-in defaults, overridden per shop, overridden per SKU.

A NULL in `shop_settings` means "the built-in default", a NULL in `sku_settings` means "the
shop's value". `incoming_units` (stock already ordered from the supplier) is per SKU only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.store.schema import ShopSettingsRow, SkuSettingsRow

__all__ = [
    "BUILT_IN",
    "SETTING_NAMES",
    "SkuSettings",
    "get_settings",
    "set_shop_settings",
    "set_sku_settings",
    "shop_settings",
    "sku_settings_for_shop",
]


@dataclass(frozen=True, slots=True)
class SkuSettings:
    """The effective settings of one SKU (or a shop's defaults)."""

    #: Days from reordering until the stock arrives.
    lead_time_days: float = 7.0
    #: Days of sales a reorder should cover beyond the lead time.
    cover_days: float = 14.0
    #: Warning when stock runs out within lead time plus this many days.
    safety_days: float = 3.0
    #: Critical when stock runs out within this many hours (or before a reorder can arrive).
    critical_hours: float = 24.0
    #: Units always kept in reserve.
    safety_stock: int = 0
    #: Supplier pack size: reorders are rounded up to a multiple of it.
    pack_size: int = 1
    #: Units already ordered and on their way (per SKU only).
    incoming_units: int = 0


BUILT_IN = SkuSettings()
SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(SkuSettings))
_SHOP_NAMES = tuple(name for name in SETTING_NAMES if name != "incoming_units")
_INTEGERS = {"safety_stock", "pack_size", "incoming_units"}


def _validate(values: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in allowed:
            raise ValueError(f"unknown setting {name!r}")
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"setting {name} must be a number")
            if name in _INTEGERS and not isinstance(value, int):
                raise TypeError(f"setting {name} must be a whole number")
            if value < 0 or (name == "pack_size" and value < 1):
                raise ValueError(f"setting {name} is out of range")
        clean[name] = value
    return clean


def _overlay(base: SkuSettings, row: object | None, names: tuple[str, ...]) -> SkuSettings:
    if row is None:
        return base
    changes = {name: getattr(row, name) for name in names if getattr(row, name) is not None}
    return replace(base, **changes)


def set_shop_settings(session: Session, shop_id: str, at: int, **values: float | None) -> None:
    """Set shop defaults, e.g. `set_shop_settings(s, shop, now, lead_time_days=10)`; None
    restores the built-in default. Settings not named keep their value."""
    clean = _validate(values, _SHOP_NAMES)
    stmt = sqlite_insert(ShopSettingsRow).values(shop_id=shop_id, updated_at=at, **clean)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ShopSettingsRow.shop_id],
            set_={name: stmt.excluded[name] for name in (*clean, "updated_at")},
        )
    )


def set_sku_settings(
    session: Session, shop_id: str, sku_id: str, at: int, **values: float | None
) -> None:
    """Override settings for one SKU; None falls back to the shop's value."""
    clean = _validate(values, SETTING_NAMES)
    stmt = sqlite_insert(SkuSettingsRow).values(
        sku_id=sku_id, shop_id=shop_id, updated_at=at, **clean
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SkuSettingsRow.sku_id],
            set_={name: stmt.excluded[name] for name in (*clean, "updated_at")},
        )
    )


def shop_settings(session: Session, shop_id: str) -> SkuSettings:
    """The shop's defaults (built-in values where the shop set none)."""
    row = session.get(ShopSettingsRow, shop_id)
    return _overlay(BUILT_IN, row, _SHOP_NAMES)


def get_settings(session: Session, shop_id: str, sku_id: str) -> SkuSettings:
    """The effective settings of one SKU: its overrides over the shop's defaults."""
    base = shop_settings(session, shop_id)
    return _overlay(base, session.get(SkuSettingsRow, sku_id), SETTING_NAMES)


def sku_settings_for_shop(
    session: Session, shop_id: str
) -> tuple[SkuSettings, dict[str, SkuSettings]]:
    """The shop's defaults and the effective settings of every SKU that overrides any, in two
    queries, for recomputing insight over the whole catalogue."""
    base = shop_settings(session, shop_id)
    rows = session.execute(
        select(SkuSettingsRow).where(SkuSettingsRow.shop_id == shop_id)
    ).scalars()
    return base, {row.sku_id: _overlay(base, row, SETTING_NAMES) for row in rows}
