"""Order intelligence: orders and revenue per hour, the status funnel, how much revenue videos
bring, and which orders are close to missing their ship-by time.

Money stays `Decimal` end to end (sums of exact amounts), so the numbers match TikTok's.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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
    hours, start = _hour_window(now, hours)
    sums = _Sums.over(hours)
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
        sums.count += 1
        sums.funnel[status] = sums.funnel.get(status, 0) + 1
        sums.counts[slot] += 1
        if status == CANCELLED:
            continue
        sums.revenue[slot] += order.revenue
        sums.total += order.revenue
        if order.video_revenue > 0:
            sums.viral[slot] += 1
            sums.total_viral += order.video_revenue
    near.sort(key=lambda item: (item[1], item[0]))
    return _intelligence(now, start, sums, near)


def _hour_window(now: float, hours: int) -> tuple[int, float]:
    """(whole hours, first hour's start) of the window ending at the hour boundary after
    `now`: one rule for `order_intelligence` and `OrderTally`."""
    hours = max(int(hours), 1)
    end = math.floor(now / HOUR) * HOUR + HOUR
    return hours, end - hours * HOUR


@dataclass(slots=True)
class _Sums:
    """The window's running sums, hour by hour and in total: filled order by order
    (`order_intelligence`) or from the tally's hourly cells (`OrderTally`)."""

    counts: list[int]
    viral: list[int]
    revenue: list[Decimal]
    funnel: dict[str, int]
    count: int = 0
    total: Decimal = field(default_factory=Decimal)
    total_viral: Decimal = field(default_factory=Decimal)

    @classmethod
    def over(cls, hours: int) -> _Sums:
        """Nothing yet, over `hours` hours (every status of the flow at zero)."""
        return cls([0] * hours, [0] * hours, [Decimal(0)] * hours, dict.fromkeys(STATUS_FLOW, 0))


def _intelligence(
    now: float, start: float, sums: _Sums, near: Sequence[tuple[str, float]]
) -> OrderIntelligence:
    """The result from its sums, for `order_intelligence` and `OrderTally` alike (one rule for
    the hour starts and the viral share)."""
    return OrderIntelligence(
        computed_at=now,
        hour_starts=tuple(start + i * HOUR for i in range(len(sums.counts))),
        orders_per_hour=tuple(sums.counts),
        revenue_per_hour=tuple(sums.revenue),
        viral_orders_per_hour=tuple(sums.viral),
        funnel=sums.funnel,
        order_count=sums.count,
        revenue=sums.total,
        viral_revenue=sums.total_viral,
        viral_revenue_share=float(sums.total_viral / sums.total) if sums.total > 0 else 0.0,
        near_ship_by=tuple(near),
    )


class OrderTally:
    """`order_intelligence` kept up to date one order at a time (#15).

    A big shop has tens of thousands of orders in the window; adding them all up again on
    every webhook cost more than the SKUs' numbers. The tally keeps per-hour sums (by the
    UTC hour of creation, which is the function's slot) and the orders still to ship sorted by
    ship-by time; `add` / `remove` move one order in or out and `result(now)` reads 48 hours
    of sums. It equals `order_intelligence` over the same orders (a test holds them equal);
    while an order created after `now` is held, `result` falls back to the function, which
    leaves such orders out.
    """

    def __init__(self, facts: Iterable[OrderFact] = ()) -> None:
        self._facts: dict[str, OrderFact]
        # hour -> [orders, live orders, viral orders, revenue, viral revenue, {status: n}]
        self._hours: dict[int, list[Any]] = {}
        self._near: list[tuple[float, str]] = []  # (ship_by, order_id), orders to ship
        self._latest = -math.inf
        # In bulk (the last fact of an order counts): the orders to ship sorted once, at the end.
        self._facts = {fact.order_id: fact for fact in facts}
        for fact in self._facts.values():
            self._latest = max(self._latest, fact.create_time)
            self._count(fact, 1, bulk=True)
        self._near.sort()

    def __len__(self) -> int:
        return len(self._facts)

    def facts(self) -> list[OrderFact]:
        return list(self._facts.values())

    def add(self, fact: OrderFact) -> None:
        """Count `fact` (in place of the order's previous fact, if any)."""
        self.remove(fact.order_id)
        self._facts[fact.order_id] = fact
        self._latest = max(self._latest, fact.create_time)
        self._count(fact, 1)

    def remove(self, order_id: str) -> None:
        fact = self._facts.pop(order_id, None)
        if fact is not None:
            self._count(fact, -1)

    def _count(self, fact: OrderFact, sign: int, *, bulk: bool = False) -> None:
        status = fact.status.upper()
        if status in TO_SHIP and fact.ship_by is not None:
            key = (fact.ship_by, fact.order_id)
            if bulk:
                self._near.append(key)
            elif sign > 0:
                bisect.insort(self._near, key)
            else:
                del self._near[bisect.bisect_left(self._near, key)]
        hour = math.floor(fact.create_time / HOUR) * int(HOUR)
        cell = self._hours.get(hour)
        if cell is None:
            cell = self._hours[hour] = [0, 0, 0, Decimal(0), Decimal(0), {}]
        cell[0] += sign
        funnel: dict[str, int] = cell[5]
        funnel[status] = funnel.get(status, 0) + sign
        if not funnel[status]:
            del funnel[status]
        if status != CANCELLED:
            cell[1] += sign
            cell[3] = cell[3] + fact.revenue if sign > 0 else cell[3] - fact.revenue
            if fact.video_revenue > 0:
                cell[2] += sign
                v = fact.video_revenue
                cell[4] = cell[4] + v if sign > 0 else cell[4] - v
        if not cell[0]:
            del self._hours[hour]

    def result(
        self, now: float, *, hours: int = 48, near_ship_by_hours: float = 24.0
    ) -> OrderIntelligence:
        """What `order_intelligence(orders, now)` gives for the orders held."""
        if self._latest > now:
            return order_intelligence(
                self._facts.values(), now, hours=hours, near_ship_by_hours=near_ship_by_hours
            )
        hours, start = _hour_window(now, hours)
        sums = _Sums.over(hours)
        for slot in range(hours):
            cell = self._hours.get(int(start) + slot * int(HOUR))
            if cell is None:
                continue
            sums.counts[slot] = cell[0]
            sums.count += cell[0]
            for status, n in cell[5].items():
                sums.funnel[status] = sums.funnel.get(status, 0) + n
            if cell[1]:
                sums.revenue[slot] = cell[3]
                sums.total += cell[3]
                if cell[2]:
                    sums.viral[slot] = cell[2]
                    sums.total_viral += cell[4]
        # The near-ship-by list is a prefix of the orders to ship sorted by ship-by time.
        limit = near_ship_by_hours * HOUR
        lo, hi = 0, len(self._near)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._near[mid][0] - now <= limit:
                lo = mid + 1
            else:
                hi = mid
        near = [(order_id, ship_by) for ship_by, order_id in self._near[:lo]]
        return _intelligence(now, start, sums, near)
