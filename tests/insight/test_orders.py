"""Order intelligence: hourly series, funnel, viral share, ship-by risk."""

from __future__ import annotations

import random
from decimal import Decimal

from app.insight import OrderFact, order_intelligence
from app.insight.orders import STATUS_FLOW, OrderTally
from tests.insight.synthetic import EPOCH, HOUR

NOW = EPOCH + 10 * HOUR + 1800  # half past ten


def test_order_intelligence() -> None:
    orders = [
        OrderFact(
            "a",
            NOW - 600,
            "AWAITING_SHIPMENT",
            Decimal("10.00"),
            Decimal("10.00"),
            ship_by=NOW + 2 * HOUR,
        ),
        OrderFact("b", NOW - HOUR, "COMPLETED", Decimal("5.50")),
        OrderFact("c", NOW - HOUR - 60, "CANCELLED", Decimal("99.00"), Decimal("99.00")),
        OrderFact("d", NOW - 40 * HOUR, "AWAITING_SHIPMENT", Decimal("1.00"), ship_by=NOW - HOUR),
        OrderFact(
            "e", NOW - 2 * HOUR, "IN_TRANSIT", Decimal("4.50"), Decimal("2.25"), ship_by=NOW - HOUR
        ),
        OrderFact("future", NOW + 60, "UNPAID", Decimal("1000")),
    ]
    result = order_intelligence(orders, NOW, hours=24, near_ship_by_hours=24)
    assert len(result.hour_starts) == len(result.orders_per_hour) == 24
    assert result.hour_starts[-1] == EPOCH + 10 * HOUR
    assert result.orders_per_hour[-1] == 1  # "a"
    assert result.orders_per_hour[-2] == 2  # "b" and "c" (cancelled orders still count)
    assert result.revenue_per_hour[-2] == Decimal("5.50")  # cancelled revenue does not
    assert result.order_count == 4  # "d" is older than 24 h, "future" is ignored
    assert result.revenue == Decimal("20.00")
    assert result.viral_revenue == Decimal("12.25")
    assert abs(result.viral_revenue_share - 12.25 / 20.0) < 1e-12
    assert result.funnel["CANCELLED"] == 1 and result.funnel["UNPAID"] == 0
    assert list(result.funnel)[:3] == ["UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"]
    # Still to ship and due within 24 h (or overdue), soonest first; shipped "e" is not at risk.
    assert result.near_ship_by == (("d", NOW - HOUR), ("a", NOW + 2 * HOUR))
    assert sum(result.viral_orders_per_hour) == 2


def test_no_orders() -> None:
    result = order_intelligence([], NOW)
    assert result.order_count == 0 and result.viral_revenue_share == 0.0
    assert sum(result.orders_per_hour) == 0


def test_the_status_flow_is_the_order_apis_status_list() -> None:
    """Insight is pure and keeps TikTok's statuses as plain strings; they must be exactly the
    protocol's `OrderStatus`, in its order, or the funnel and ship-by risk drift from it."""
    from app.insight.orders import STATUS_FLOW, TO_SHIP
    from app.tiktok.models import OrderStatus

    assert tuple(status.value for status in OrderStatus) == STATUS_FLOW
    assert STATUS_FLOW.index("CANCELLED") == len(STATUS_FLOW) - 1
    assert set(TO_SHIP) <= set(STATUS_FLOW)


def test_the_tally_equals_adding_every_order_up_again() -> None:
    """OrderTally (#15) after a stream of orders arriving, changing status and being rewritten
    gives what order_intelligence gives over the orders it holds, at several moments."""
    rng = random.Random(15)
    statuses = [*STATUS_FLOW, "unpaid"]  # one lower-case spelling, as the function accepts
    tally = OrderTally()
    held: dict[str, OrderFact] = {}
    for step in range(3000):
        order_id = f"o{rng.randrange(600)}"
        if order_id in held and rng.random() < 0.1:
            tally.remove(order_id)
            del held[order_id]
        else:
            fact = OrderFact(
                order_id,
                NOW - rng.uniform(0, 60 * HOUR),
                rng.choice(statuses),
                Decimal(rng.randrange(1, 10_000)) / 100,
                Decimal(rng.randrange(0, 500)) / 100 if rng.random() < 0.3 else Decimal(0),
                ship_by=NOW + rng.uniform(-5, 40) * HOUR if rng.random() < 0.8 else None,
            )
            tally.add(fact)
            held[order_id] = fact
        if step % 250 == 0:
            for now in (NOW, NOW + 0.5 * HOUR, NOW + 7 * HOUR):
                assert tally.result(now) == order_intelligence(held.values(), now)
    assert len(tally) == len(held)
    assert tally.result(NOW).near_ship_by  # the comparison covered the list, not only sums
    # Built in one go from the same orders: the same.
    assert OrderTally(held.values()).result(NOW) == order_intelligence(held.values(), NOW)
    # An order created after `now` is left out, as the function leaves it out.
    tally.add(OrderFact("later", NOW + 60, "UNPAID", Decimal("1000")))
    held["later"] = OrderFact("later", NOW + 60, "UNPAID", Decimal("1000"))
    assert tally.result(NOW) == order_intelligence(held.values(), NOW)
