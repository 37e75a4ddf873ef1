"""Reorder and alert settings: built-in defaults, overridden per shop, overridden per SKU.

The value type is insight's `SkuSettings` (hours, as insight computes): the store keeps its
fields under the same names and units, so nothing converts between the two. A NULL in
`shop_settings` means "the built-in default", a NULL in `sku_settings` means "the shop's value".
`incoming_units` (stock already ordered from the supplier) is per SKU only and is not a setting
but a fact about the SKU: insight reads it as `SkuState.incoming` (see `incoming_units`).
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.insight.types import SkuSettings
from app.store.schema import ShopSettingsRow, SkuSettingsRow

__all__ = [
    "BUILT_IN",
    "SETTING_NAMES",
    "get_settings",
    "incoming_units",
    "save_settings",
    "set_shop_settings",
    "set_sku_settings",
    "shop_settings",
    "sku_settings_for_shop",
]

BUILT_IN = SkuSettings()
SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(SkuSettings))
_SKU_NAMES = (*SETTING_NAMES, "incoming_units")
_INTEGERS = {"pack_size", "incoming_units"}


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


def _overlay(base: SkuSettings, row: object | None) -> SkuSettings:
    if row is None:
        return base
    changes = {name: getattr(row, name) for name in SETTING_NAMES if getattr(row, name) is not None}
    return replace(base, **changes)


def set_shop_settings(session: Session, shop_id: str, at: int, **values: float | None) -> None:
    """Set shop defaults, e.g. `set_shop_settings(s, shop, now, lead_time_hours=240)`; None
    restores the built-in default. Settings not named keep their value."""
    clean = _validate(values, SETTING_NAMES)
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
    """Override settings (or `incoming_units`) for one SKU; None falls back to the shop's."""
    clean = _validate(values, _SKU_NAMES)
    stmt = sqlite_insert(SkuSettingsRow).values(
        sku_id=sku_id, shop_id=shop_id, updated_at=at, **clean
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SkuSettingsRow.sku_id],
            set_={name: stmt.excluded[name] for name in (*clean, "updated_at")},
        )
    )


def save_settings(
    session: Session, shop_id: str, at: int, settings: SkuSettings, sku_id: str | None = None
) -> None:
    """Store every field of `settings` as the shop's defaults (`sku_id` None) or as one SKU's
    overrides: what the seller's Apply / Save buttons mean."""
    values = asdict(settings)
    if sku_id is None:
        set_shop_settings(session, shop_id, at, **values)
    else:
        set_sku_settings(session, shop_id, sku_id, at, **values)


def shop_settings(session: Session, shop_id: str) -> SkuSettings:
    """The shop's defaults (built-in values where the shop set none)."""
    return _overlay(BUILT_IN, session.get(ShopSettingsRow, shop_id))


def get_settings(session: Session, shop_id: str, sku_id: str) -> SkuSettings:
    """The effective settings of one SKU: its overrides over the shop's defaults."""
    return _overlay(shop_settings(session, shop_id), session.get(SkuSettingsRow, sku_id))


def sku_settings_for_shop(
    session: Session, shop_id: str
) -> tuple[SkuSettings, dict[str, SkuSettings]]:
    """The shop's defaults and the effective settings of every SKU that overrides any, in two
    queries, for recomputing insight over the whole catalogue."""
    base = shop_settings(session, shop_id)
    rows = session.execute(
        select(SkuSettingsRow).where(SkuSettingsRow.shop_id == shop_id)
    ).scalars()
    return base, {row.sku_id: _overlay(base, row) for row in rows}


def incoming_units(session: Session, shop_id: str) -> dict[str, int]:
    """Units already ordered from the supplier, per SKU that has any recorded."""
    rows = session.execute(
        select(SkuSettingsRow.sku_id, SkuSettingsRow.incoming_units).where(
            SkuSettingsRow.shop_id == shop_id
        )
    )
    return {sku_id: units for sku_id, units in rows if units is not None}
