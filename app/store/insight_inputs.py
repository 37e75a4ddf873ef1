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

from app.store.schema import (
    AttributionRow,
    LineItemRow,
    OrderRow,
    SkuRow,
    StockHistoryRow,
    VideoProductRow,
    VideoRow,
    VideoViewRow,
)
from app.tiktok.models import OrderStatus

__all__ = [
    "OrderLine",
    "explicit_attributions",
    "order_count",
    "order_lines",
    "sold_line_items",
    "stock_points_since",
    "video_product_links",
    "video_titles",
    "view_points_since",
]

#: (order_id, create_time, status, rts_sla_time, sku_id, sale_price): one line item.
OrderLine = tuple[str, int, str, int | None, str, Decimal]


def explicit_attributions(session: Session, shop_id: str) -> dict[tuple[str, str], str]:
    """The video TikTok says sold each (order_id, sku_id) (affiliate orders' `content_id`)."""
    rows = session.execute(
        select(AttributionRow.order_id, AttributionRow.sku_id, AttributionRow.video_id)
        .where(AttributionRow.shop_id == shop_id, AttributionRow.method == "explicit")
        .order_by(AttributionRow.video_id)
    )
    return {(order_id, sku_id): video_id for order_id, sku_id, video_id in rows}


def stock_points_since(
    session: Session, shop_id: str, since: int
) -> Sequence[tuple[str, int, int]]:
    """(sku_id, at, quantity) of every stock change from `since`, oldest first."""
    return session.execute(
        select(StockHistoryRow.sku_id, StockHistoryRow.at, StockHistoryRow.quantity)
        .join(SkuRow, SkuRow.id == StockHistoryRow.sku_id)
        .where(SkuRow.shop_id == shop_id, StockHistoryRow.at >= since)
        .order_by(StockHistoryRow.at, StockHistoryRow.id)
    ).all()


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


def video_titles(session: Session, shop_id: str) -> Sequence[tuple[str, str]]:
    """(video_id, title) of every video of the shop."""
    return session.execute(
        select(VideoRow.id, VideoRow.title).where(VideoRow.shop_id == shop_id)
    ).all()


def view_points_since(session: Session, shop_id: str, since: int) -> Sequence[tuple[str, int, int]]:
    """(video_id, at, views) of every view sample from `since`, oldest first."""
    return session.execute(
        select(VideoViewRow.video_id, VideoViewRow.at, VideoViewRow.views)
        .join(VideoRow, VideoRow.id == VideoViewRow.video_id)
        .where(VideoRow.shop_id == shop_id, VideoViewRow.at >= since)
        .order_by(VideoViewRow.at)
    ).all()


def order_lines(
    session: Session, shop_id: str, since: int, open_statuses: Collection[str]
) -> Sequence[OrderLine]:
    """The line items of orders created from `since`, or still in one of `open_statuses`
    however old (an order waiting to ship matters until it ships)."""
    return session.execute(
        select(
            OrderRow.id,
            OrderRow.create_time,
            OrderRow.status,
            OrderRow.rts_sla_time,
            LineItemRow.sku_id,
            LineItemRow.sale_price,
        )
        .join(LineItemRow, LineItemRow.order_id == OrderRow.id)
        .where(
            OrderRow.shop_id == shop_id,
            (OrderRow.create_time >= since) | OrderRow.status.in_(sorted(open_statuses)),
        )
    ).all()


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
