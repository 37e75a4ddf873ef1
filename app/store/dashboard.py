"""The aggregate reads behind the dashboard's Analytics page (`app/sync/dashboard_data.py`
shapes them): units and revenue per SKU over Seller Center's windows, and every video with its
totals and the SKUs it sells. Plain tuples, one query each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.store.schema import LineItemRow, OrderRow, SkuRow, VideoProductRow, VideoRow
from app.tiktok.models import OrderStatus

__all__ = ["SkuSalesRow", "VideoTotalsRow", "sku_sales_windows", "video_skus", "video_totals"]

DAY = 86_400

#: (sku_id, product name, SKU name, units in 7 days, in 14 days, in 30 days, 30-day revenue)
SkuSalesRow = tuple[str, str | None, str | None, int | None, int | None, int, Any]
#: (video_id, title, views, orders with a linked SKU, GMV or None)
VideoTotalsRow = tuple[str, str, int, int, Decimal | None]


def sku_sales_windows(session: Session, shop_id: str, now: float) -> Sequence[SkuSalesRow]:
    """Units per SKU over 7/14/30 days before `now` (one aggregate query; cancelled orders
    excluded), with the SKU's names as its line items carry them."""
    start = int(now) - 30 * DAY

    def within(days: int) -> Any:
        return func.sum(case((OrderRow.create_time >= int(now) - days * DAY, 1), else_=0))

    rows = session.execute(
        select(
            LineItemRow.sku_id,
            func.max(LineItemRow.product_name),
            func.max(LineItemRow.sku_name),
            within(7),
            within(14),
            func.count(),
            func.sum(LineItemRow.sale_price),
        )
        .join(OrderRow, OrderRow.id == LineItemRow.order_id)
        .where(
            OrderRow.shop_id == shop_id,
            OrderRow.create_time >= start,
            OrderRow.status != OrderStatus.CANCELLED,
        )
        .group_by(LineItemRow.sku_id)
    )
    return rows.all()


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
