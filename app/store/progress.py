"""Incremental-sync progress per shop and resource, stored with the data it describes.

The sync layer polls by `update_time` (the source of truth, since webhooks can be lost) and
moves the watermark in the same transaction as the page it stored, so a crash never skips a
window. Resources are free-form names: "orders", "products", "videos", "affiliate_orders".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.store.schema import SyncStateRow

__all__ = [
    "SyncProgress",
    "get_sync_progress",
    "get_watermark",
    "record_sync_attempt",
    "set_watermark",
]


@dataclass(frozen=True, slots=True)
class SyncProgress:
    shop_id: str
    resource: str
    watermark: int | None
    last_success_at: float | None
    last_attempt_at: float | None
    last_error_kind: str | None


def set_watermark(session: Session, shop_id: str, resource: str, watermark: int, at: float) -> None:
    """Everything of `resource` updated before `watermark` is stored; never moves backwards.
    Also records a successful sync at `at`."""
    stmt = sqlite_insert(SyncStateRow).values(
        shop_id=shop_id,
        resource=resource,
        watermark=watermark,
        last_success_at=at,
        last_attempt_at=at,
        last_error_kind=None,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SyncStateRow.shop_id, SyncStateRow.resource],
            set_={
                # SQLite's two-argument max() is scalar; NULL (never synced) loses.
                "watermark": func.max(
                    stmt.excluded.watermark,
                    func.coalesce(SyncStateRow.watermark, stmt.excluded.watermark),
                ),
                "last_success_at": stmt.excluded.last_success_at,
                "last_attempt_at": stmt.excluded.last_attempt_at,
                "last_error_kind": None,
            },
        )
    )


def get_watermark(session: Session, shop_id: str, resource: str) -> int | None:
    """Where the next incremental poll of `resource` starts (None: never synced)."""
    return session.execute(
        select(SyncStateRow.watermark).where(
            SyncStateRow.shop_id == shop_id, SyncStateRow.resource == resource
        )
    ).scalar()


def record_sync_attempt(
    session: Session, shop_id: str, resource: str, at: float, error_kind: str | None
) -> None:
    """A sync attempt ended (error_kind None: it succeeded) without moving the watermark."""
    values: dict[str, object] = {"last_attempt_at": at, "last_error_kind": error_kind}
    if error_kind is None:
        values["last_success_at"] = at
    stmt = sqlite_insert(SyncStateRow).values(shop_id=shop_id, resource=resource, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SyncStateRow.shop_id, SyncStateRow.resource],
            set_={name: stmt.excluded[name] for name in values},
        )
    )


def get_sync_progress(session: Session, shop_id: str) -> dict[str, SyncProgress]:
    """Progress of every resource of a shop, by resource name."""
    rows = session.execute(
        select(
            SyncStateRow.shop_id,
            SyncStateRow.resource,
            SyncStateRow.watermark,
            SyncStateRow.last_success_at,
            SyncStateRow.last_attempt_at,
            SyncStateRow.last_error_kind,
        ).where(SyncStateRow.shop_id == shop_id)
    )
    return {row[1]: SyncProgress(*row) for row in rows}
