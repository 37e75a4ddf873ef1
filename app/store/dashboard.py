"""The video reads behind the dashboard's Analytics page (`app/sync/dashboard_data.py` shapes
them): every video with its totals and the SKUs it sells. Plain tuples, one query each. The
per-SKU sales windows come from the hourly totals (`app/store/hourly.py`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.schema import SkuRow, VideoProductRow, VideoRow

__all__ = ["VideoTotalsRow", "video_skus", "video_totals"]

DAY = 86_400

#: (video_id, title, views, orders with a linked SKU, GMV or None)
VideoTotalsRow = tuple[str, str, int, int, Decimal | None]


def video_skus(session: Session, shop_id: str) -> dict[str, list[str]]:
    """The SKUs of the products each of the shop's videos links to."""
    links: defaultdict[str, list[str]] = defaultdict(list)
    for video_id, sku_id in session.execute(
        select(VideoProductRow.video_id, SkuRow.id)
        .join(VideoRow, VideoRow.id == VideoProductRow.video_id)
        .join(SkuRow, SkuRow.product_id == VideoProductRow.product_id)
        .where(VideoRow.shop_id == shop_id)
    ):
        links[video_id].append(sku_id)
    return links


def video_totals(session: Session, shop_id: str) -> Sequence[VideoTotalsRow]:
    """Every video of the shop with its totals as TikTok last reported them."""
    return session.execute(
        select(
            VideoRow.id, VideoRow.title, VideoRow.views, VideoRow.sku_orders, VideoRow.gmv
        ).where(VideoRow.shop_id == shop_id)
    ).all()
