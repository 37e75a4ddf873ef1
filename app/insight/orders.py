"""Order intelligence: orders and revenue per hour, the status funnel, how much revenue videos
bring, and which orders are close to missing their ship-by time.

Money stays `Decimal` end to end (sums of exact amounts), so the numbers match TikTok's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from app.insight.types import OrderFact, OrderIntelligence

HOUR = 3600.0

# TikTok's status flow, in order; unknown statuses are appended after these.
STATUS_FLOW = (
    "UNPAID",
    "ON_HOLD",
    "AWAITING_SHIPMENT",
    "PARTIALLY_SHIPPING",
    "AWAITING_COLLECTION",
    "IN_TRANSIT",
    "DELIVERED",
    "COMPLETED",
    "CANCELLED",
)
# Orders the seller still has to hand over to the carrier.
TO_SHIP = frozenset({"UNPAID", "ON_HOLD", "AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"})
CANCELLED = "CANCELLED"


def order_intelligence(
    orders: Iterable[OrderFact],
    now: float,
    *,
    hours: int = 48,
    near_ship_by_hours: float = 24.0,
) -> OrderIntelligence:
    """Over the `hours` whole hours ending at the hour boundary after `now`.

    Orders created after `now` are ignored. The near-ship-by list looks at every order given,
    not only those in the window: an old order that still has not shipped matters most.
    """
    hours = max(int(hours), 1)
    end = math.floor(now / HOUR) * HOUR + HOUR
    start = end - hours * HOUR
    counts = [0] * hours
    viral = [0] * hours
    revenue = [Decimal(0)] * hours
    funnel = dict.fromkeys(STATUS_FLOW, 0)
    total = Decimal(0)
    total_viral = Decimal(0)
    count = 0
    near: list[tuple[str, float]] = []
    for order in orders:
        if order.create_time > now:
            continue
        status = order.status.upper()
        if (
            status in TO_SHIP
            and order.ship_by is not None
            and order.ship_by - now <= near_ship_by_hours * HOUR
        ):
            near.append((order.order_id, order.ship_by))
        if order.create_time < start:
            continue
        slot = int((order.create_time - start) // HOUR)
        count += 1
        funnel[status] = funnel.get(status, 0) + 1
        counts[slot] += 1
        if status == CANCELLED:
            continue
        revenue[slot] += order.revenue
        total += order.revenue
        if order.video_revenue > 0:
            viral[slot] += 1
            total_viral += order.video_revenue
    near.sort(key=lambda item: (item[1], item[0]))
    return OrderIntelligence(
        computed_at=now,
        hour_starts=tuple(start + i * HOUR for i in range(hours)),
        orders_per_hour=tuple(counts),
        revenue_per_hour=tuple(revenue),
        viral_orders_per_hour=tuple(viral),
        funnel=funnel,
        order_count=count,
        revenue=total,
        viral_revenue=total_viral,
        viral_revenue_share=float(total_viral / total) if total > 0 else 0.0,
        near_ship_by=tuple(near),
    )
