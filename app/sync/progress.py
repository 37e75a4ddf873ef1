"""Sync watermarks per shop and resource, in the store's `sync_state` table.

Written in the same transaction as the data they describe, so a crash never leaves a watermark
ahead of what was stored: a resumed backfill or poll starts exactly where committed data ends.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.store.schema import SyncStateRow

__all__ = ["get_watermark", "set_watermark"]


def get_watermark(session: Session, shop_id: str, resource: str) -> int | None:
    return session.execute(
        select(SyncStateRow.watermark).where(
            SyncStateRow.shop_id == shop_id, SyncStateRow.resource == resource
        )
    ).scalar()


def set_watermark(session: Session, shop_id: str, resource: str, value: int, at: float) -> None:
    stmt = sqlite_insert(SyncStateRow).values(
        shop_id=shop_id, resource=resource, watermark=value, last_success_at=at, last_attempt_at=at
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SyncStateRow.shop_id, SyncStateRow.resource],
            set_={
                "watermark": stmt.excluded.watermark,
                "last_success_at": stmt.excluded.last_success_at,
                "last_attempt_at": stmt.excluded.last_attempt_at,
            },
        )
    )
