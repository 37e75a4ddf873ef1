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
from app.insight.types import OrderFact, SkuSettings, SkuState
from app.store.catalog import current_stock
from app.store.columns import order_lines, shop_history
from app.store.insight_inputs import (
    explicit_attributions,
    order_count,
    sold_line_items,
    video_product_links,
)
from app.store.settings import incoming_units, sku_settings_for_shop
from app.store.types import exact_money, to_money

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
    links = video_product_links(session, shop_id)
    history = shop_history(session, shop_id, since, until, skus, links)
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
    """The orders of the last `ORDER_HOURS` (and those still to ship), one `OrderFact` each.

    Two viral days are ~35,000 orders, held until the recompute ends, so each fact shares
    what it can (#15): one `Decimal` per distinct price (an order of one unit keeps its
    price's), one zero for the video revenue of orders no video sold, one string per status.
    """
    since = int(now) - ORDER_HOURS * 3600 - 3600
    facts: dict[str, list[object]] = {}
    prices: dict[str, Decimal] = {}
    statuses: dict[str, str] = {}
    zero = Decimal(0)
    with exact_money():
        for order_id, created, status, ship_by, sku_id, text, units in order_lines(
            session, shop_id, since, sorted(TO_SHIP)
        ):
            price = prices.get(text)
            if price is None:
                price = prices[text] = to_money(text)
            amount = price if units == 1 else price * units
            video = (order_id, sku_id) in explicit
            fact = facts.get(order_id)
            if fact is None:
                facts[order_id] = [
                    float(created),
                    statuses.setdefault(status, status),
                    None if ship_by is None else float(ship_by),
                    amount,
                    amount if video else zero,
                ]
                continue
            fact[3] = fact[3] + amount  # type: ignore[operator]
            if video:
                fact[4] = fact[4] + amount  # type: ignore[operator]
    out: list[OrderFact] = []
    while facts:  # each order's list is freed as its fact is made
        order_id, (at, state, due, revenue, by_video) = facts.popitem()
        out.append(
            OrderFact(
                order_id=order_id,
                create_time=at,  # type: ignore[arg-type]
                status=state,  # type: ignore[arg-type]
                revenue=revenue,  # type: ignore[arg-type]
                video_revenue=by_video,  # type: ignore[arg-type]
                ship_by=due,  # type: ignore[arg-type]
            )
        )
    out.reverse()  # popitem takes the last first: the reads' order, as before
    return out


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
