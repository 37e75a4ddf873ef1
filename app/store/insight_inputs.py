"""The rows insight reads for one shop, as plain tuples (`app/sync/loader.py` turns them into
insight's inputs). One query each; times are TikTok's event times, as stored.

Kept apart from the tables' write paths because these are the wide reads of a recompute: a
newcomer looking for "what does the forecast see" finds them here, and a faster (columnar)
loader can replace any one of them without touching the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.catalog import chunked
from app.store.schema import (
    AttributionRow,
    LineItemRow,
    OrderRow,
    VideoProductRow,
    VideoRow,
)
from app.tiktok.models import OrderStatus

__all__ = [
    "explicit_attributions",
    "order_count",
    "sold_line_items",
    "video_product_links",
]


def explicit_attributions(
    session: Session, shop_id: str, order_ids: Collection[str] | None = None
) -> dict[tuple[str, str], str]:
    """The video TikTok says sold each (order_id, sku_id) (affiliate orders' `content_id`);
    only those of `order_ids` when given."""
    query = (
        select(AttributionRow.order_id, AttributionRow.sku_id, AttributionRow.video_id)
        .where(AttributionRow.shop_id == shop_id, AttributionRow.method == "explicit")
        .order_by(AttributionRow.video_id)
    )
    if order_ids is None:
        rows = list(session.execute(query))
    else:
        ids = sorted(order_ids)
        rows = [
            row
            for part in chunked(ids)
            for row in session.execute(query.where(AttributionRow.order_id.in_(part)))
        ]
        rows.sort(key=lambda row: row[2])
    return {(order_id, sku_id): video_id for order_id, sku_id, video_id in rows}


def video_product_links(session: Session, shop_id: str) -> dict[str, set[str]]:
    """The products each of the shop's videos links to."""
    links: defaultdict[str, set[str]] = defaultdict(set)
    for video_id, product_id in session.execute(
        select(VideoProductRow.video_id, VideoProductRow.product_id)
        .join(VideoRow, VideoRow.id == VideoProductRow.video_id)
        .where(VideoRow.shop_id == shop_id)
    ):
        links[video_id].add(product_id)
    return links


def order_count(session: Session, shop_id: str) -> int:
    """Orders of every status the store holds for the shop."""
    return int(
        session.execute(
            select(func.count()).select_from(OrderRow).where(OrderRow.shop_id == shop_id)
        ).scalar_one()
    )


def sold_line_items(session: Session, shop_id: str) -> Sequence[tuple[str, str, Decimal]]:
    """(order_id, sku_id, sale_price) of every line item of the shop's orders not cancelled."""
    return session.execute(
        select(LineItemRow.order_id, LineItemRow.sku_id, LineItemRow.sale_price)
        .join(OrderRow, OrderRow.id == LineItemRow.order_id)
        .where(OrderRow.shop_id == shop_id, OrderRow.status != OrderStatus.CANCELLED)
    ).all()
