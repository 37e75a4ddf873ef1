"""Read a shop's recent history from the store into insight's plain inputs.

Runs inside a read transaction on an executor thread (see `database.Database.read`), so one
consistent snapshot feeds one insight computation. Times are event times from TikTok (order
creation, stock-change time, view sample time), never processing times.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy.orm import Session

from app.insight.history import ShopHistory
from app.insight.orders import TO_SHIP
from app.insight.types import (
    OrderFact,
    Sale,
    SkuSettings,
    SkuState,
    StockPoint,
    VideoInfo,
    ViewPoint,
)
from app.store.catalog import current_stock
from app.store.insight_inputs import (
    explicit_attributions,
    order_count,
    order_lines,
    sold_line_items,
    stock_points_since,
    video_product_links,
    video_titles,
    view_points_since,
)
from app.store.orders import sales_events
from app.store.settings import incoming_units, sku_settings_for_shop

__all__ = ["HISTORY_DAYS", "OrderTotals", "ShopData", "load_order_totals", "load_shop_data"]

HISTORY_DAYS = 8
ORDER_HOURS = 48


@dataclass(frozen=True)
class ShopData:
    history: ShopHistory
    orders: list[OrderFact]
    now: float
    default: SkuSettings = field(default_factory=SkuSettings)
    settings: dict[str, SkuSettings] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderTotals:
    """All orders the store holds for a shop (the headless report's `orders`)."""

    count: int
    revenue: Decimal
    video_revenue: Decimal

    @property
    def viral_revenue_share(self) -> float:
        return float(self.video_revenue / self.revenue) if self.revenue > 0 else 0.0


def load_shop_data(session: Session, shop_id: str, now: float) -> ShopData:
    """Everything insight needs for one shop at `now` (shop time)."""
    since = int(now) - HISTORY_DAYS * 86_400
    until = int(now) + 1
    skus = [
        SkuState(
            sku_id=row.sku_id,
            product_id=row.product_id,
            product_name=row.product_title,
            sku_name=row.seller_sku,
            available=row.quantity,
            unit_price=row.sale_price or Decimal(0),
        )
        for row in current_stock(session, shop_id)
    ]
    base, overrides = sku_settings_for_shop(session, shop_id)
    incoming = incoming_units(session, shop_id)
    if incoming:
        skus = [replace(sku, incoming=incoming.get(sku.sku_id, 0)) for sku in skus]
    explicit = explicit_attributions(session, shop_id)
    sales = [
        Sale(
            time=float(event.time),
            sku_id=event.sku_id,
            units=event.units,
            revenue=event.revenue,
            video_id=explicit.get((event.order_id, event.sku_id)),
        )
        for event in sales_events(session, shop_id, since, until)
    ]
    stock = [
        StockPoint(time=float(at), sku_id=sku_id, available=quantity)
        for sku_id, at, quantity in stock_points_since(session, shop_id, since)
    ]
    links = video_product_links(session, shop_id)
    videos = [
        VideoInfo(video_id=vid, title=title, product_ids=frozenset(links.get(vid, ())))
        for vid, title in video_titles(session, shop_id)
    ]
    views = [
        ViewPoint(time=float(at), video_id=vid, views=count)
        for vid, at, count in view_points_since(session, shop_id, since)
    ]
    history = ShopHistory.from_records(skus, sales, stock, views, videos, since=float(since))
    orders = _order_facts(session, shop_id, now, explicit)
    return ShopData(
        history=history,
        orders=orders,
        now=now,
        default=base,
        settings=overrides,
    )


def _order_facts(
    session: Session, shop_id: str, now: float, explicit: dict[tuple[str, str], str]
) -> list[OrderFact]:
    since = int(now) - ORDER_HOURS * 3600 - 3600
    rows = order_lines(session, shop_id, since, TO_SHIP)
    facts: dict[str, list[object]] = {}
    for order_id, created, status, ship_by, sku_id, price in rows:
        fact = facts.setdefault(order_id, [created, status, ship_by, Decimal(0), Decimal(0)])
        fact[3] = fact[3] + price  # type: ignore[operator]
        if (order_id, sku_id) in explicit:
            fact[4] = fact[4] + price  # type: ignore[operator]
    return [
        OrderFact(
            order_id=order_id,
            create_time=float(created),  # type: ignore[arg-type]
            status=str(status),
            revenue=revenue,  # type: ignore[arg-type]
            video_revenue=video,  # type: ignore[arg-type]
            ship_by=None if ship_by is None else float(ship_by),  # type: ignore[arg-type]
        )
        for order_id, (created, status, ship_by, revenue, video) in facts.items()
    ]


def load_order_totals(session: Session, shop_id: str) -> OrderTotals:
    """Order count (every status) and product revenue (line items of orders not cancelled)."""
    count = order_count(session, shop_id)
    explicit = explicit_attributions(session, shop_id)
    revenue = Decimal(0)
    video = Decimal(0)
    for order_id, sku_id, price in sold_line_items(session, shop_id):
        revenue += price
        if (order_id, sku_id) in explicit:
            video += price
    return OrderTotals(count=int(count), revenue=revenue, video_revenue=video)
