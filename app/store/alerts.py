"""Alert levels per SKU, kept so the tray shows one notification per escalation, never a storm.

Insight recomputes every SKU's level often; the store remembers the current level and logs
only *changes*. A rise (ok → warning, warning → critical, ok → critical) is an escalation
the UI should announce once: it stays in `unnotified_alerts` until `mark_alerts_notified`.
A fall is logged silently, so a later rise is a new escalation again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import insert, select, true, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.insight.types import AlertLevel
from app.store.schema import AlertRow, AlertStateRow, Base

__all__ = [
    "AlertEvent",
    "alert_history",
    "alert_levels",
    "mark_alerts_notified",
    "record_alert_level",
    "record_alert_levels",
    "unnotified_alerts",
]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    id: int
    shop_id: str
    sku_id: str
    at: int
    level: AlertLevel
    previous_level: AlertLevel
    escalation: bool
    reason: str
    notified_at: int | None


_STATES = Base.metadata.tables[AlertStateRow.__tablename__]
_ALERTS = Base.metadata.tables[AlertRow.__tablename__]
_upsert_state = sqlite_insert(_STATES)
_UPSERT_STATE = _upsert_state.on_conflict_do_update(
    index_elements=[_STATES.c.sku_id],
    set_={"level": _upsert_state.excluded.level, "since": _upsert_state.excluded.since},
)
_INSERT_ALERTS = insert(_ALERTS).returning(_ALERTS.c.id, sort_by_parameter_order=True)


def record_alert_levels(
    session: Session,
    shop_id: str,
    levels: Mapping[str, tuple[AlertLevel | str, str]],
    at: int,
) -> list[AlertEvent]:
    """Note freshly computed levels, `{sku_id: (level, reason)}`, for any number of SKUs in a
    few statements; return the logged changes (escalations and falls), in `levels` order.

    A SKU never seen before counts as "ok", so its first warning is an escalation.
    """
    checked = {sku_id: (AlertLevel(level), reason) for sku_id, (level, reason) in levels.items()}
    current = alert_levels(session, shop_id)
    states: list[dict[str, object]] = []
    changes: list[dict[str, object]] = []
    for sku_id, (level, reason) in checked.items():
        previous = current.get(sku_id)
        if previous == level:
            continue
        states.append({"sku_id": sku_id, "shop_id": shop_id, "level": level.value, "since": at})
        if previous is None and level == AlertLevel.OK:
            continue  # first look at an ok SKU: remember it, nothing to log
        before = previous or AlertLevel.OK
        changes.append(
            {
                "shop_id": shop_id,
                "sku_id": sku_id,
                "at": at,
                "level": level.value,
                "previous_level": before.value,
                "escalation": level.severity > before.severity,
                "reason": reason,
            }
        )
    if states:
        session.execute(_UPSERT_STATE, states)
    if not changes:
        return []
    ids = session.execute(_INSERT_ALERTS, changes).scalars().all()
    return [
        AlertEvent(
            alert_id,
            shop_id,
            str(row["sku_id"]),
            at,
            AlertLevel(str(row["level"])),
            AlertLevel(str(row["previous_level"])),
            bool(row["escalation"]),
            str(row["reason"]),
            None,
        )
        for alert_id, row in zip(ids, changes, strict=True)
    ]


def record_alert_level(
    session: Session,
    shop_id: str,
    sku_id: str,
    level: AlertLevel | str,
    at: int,
    reason: str = "",
) -> AlertEvent | None:
    """`record_alert_levels` for one SKU: the logged change, or None if the level is unchanged."""
    events = record_alert_levels(session, shop_id, {sku_id: (level, reason)}, at)
    return events[0] if events else None


def alert_levels(session: Session, shop_id: str) -> dict[str, AlertLevel]:
    """The current level of every SKU that has one."""
    rows = session.execute(
        select(AlertStateRow.sku_id, AlertStateRow.level).where(AlertStateRow.shop_id == shop_id)
    )
    return {sku_id: AlertLevel(level) for sku_id, level in rows}


_EVENT_COLUMNS = (
    AlertRow.id,
    AlertRow.shop_id,
    AlertRow.sku_id,
    AlertRow.at,
    AlertRow.level,
    AlertRow.previous_level,
    AlertRow.escalation,
    AlertRow.reason,
    AlertRow.notified_at,
)


def _event(row: tuple[object, ...]) -> AlertEvent:
    aid, shop_id, sku_id, at, level, previous, escalation, reason, notified = row
    return AlertEvent(
        int(aid),  # type: ignore[call-overload]
        str(shop_id),
        str(sku_id),
        int(at),  # type: ignore[call-overload]
        AlertLevel(str(level)),
        AlertLevel(str(previous)),
        bool(escalation),
        str(reason),
        None if notified is None else int(notified),  # type: ignore[call-overload]
    )


def unnotified_alerts(session: Session, shop_id: str) -> list[AlertEvent]:
    """Escalations not yet shown, oldest first, only the latest per SKU (a SKU that went
    warning then critical before the UI looked gets one notification, for critical)."""
    rows = session.execute(
        select(*_EVENT_COLUMNS)
        .where(
            AlertRow.shop_id == shop_id,
            AlertRow.escalation == true(),
            AlertRow.notified_at.is_(None),
        )
        .order_by(AlertRow.id)
    )
    latest: dict[str, AlertEvent] = {}
    for row in rows:
        event = _event(tuple(row))
        latest.pop(event.sku_id, None)
        latest[event.sku_id] = event
    current = alert_levels(session, shop_id)
    return [event for event in latest.values() if current.get(event.sku_id) == event.level]


def mark_alerts_notified(session: Session, shop_id: str, sku_ids: Iterable[str], at: int) -> None:
    """The UI showed these SKUs' escalations: mark every pending one of them as notified."""
    wanted = list(sku_ids)
    if not wanted:
        return
    session.execute(
        update(AlertRow)
        .where(
            AlertRow.shop_id == shop_id,
            AlertRow.sku_id.in_(wanted),
            AlertRow.escalation == true(),
            AlertRow.notified_at.is_(None),
        )
        .values(notified_at=at)
    )


def alert_history(
    session: Session, shop_id: str, sku_id: str | None = None, since: int | None = None
) -> list[AlertEvent]:
    """Every level change, oldest first, optionally for one SKU or since a time."""
    query = select(*_EVENT_COLUMNS).where(AlertRow.shop_id == shop_id)
    if sku_id is not None:
        query = query.where(AlertRow.sku_id == sku_id)
    if since is not None:
        query = query.where(AlertRow.at >= since)
    return [_event(tuple(row)) for row in session.execute(query.order_by(AlertRow.id))]
