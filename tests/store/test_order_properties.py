"""Property: however versions of an order arrive (duplicated, reordered, split across
transactions), the store ends with the newest version and counts its units once."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.store import Store, order_status_counts, sales_events, upsert_orders
from app.tiktok.models import OrderStatus
from tests.store.factories import NOW, SHOP_ID, order

STATUSES = ["UNPAID", "AWAITING_SHIPMENT", "IN_TRANSIT", "DELIVERED", "CANCELLED"]
_ids = itertools.count()

# A version: (update_time offset, status, units of sku "a"); offsets are unique per order.
versions = st.lists(
    st.tuples(st.sampled_from(STATUSES), st.integers(1, 4)), min_size=1, max_size=5
).map(lambda items: [(n * 10, status, units) for n, (status, units) in enumerate(items)])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    history=versions,
    deliveries=st.lists(st.integers(0, 4), min_size=1, max_size=12),
    batch=st.integers(1, 4),
)
def test_any_delivery_order_converges(
    shop_store: Store, history: list[tuple[int, str, int]], deliveries: list[int], batch: int
) -> None:
    order_id = f"prop-{next(_ids)}"
    create = NOW + 100_000 * int(order_id.split("-")[1])
    made = [
        order(order_id, status=s, create_time=create, update_time=create + dt, skus={"a": u})
        for dt, s, u in history
    ]
    # Every version is delivered at least once, plus duplicates in an arbitrary order.
    arrivals = [made[i % len(made)] for i in deliveries] + made[::-1]
    for start in range(0, len(arrivals), batch):
        with shop_store.write() as session:
            upsert_orders(session, SHOP_ID, arrivals[start : start + batch], NOW)
    _dt, status, units = history[-1]
    with shop_store.read() as session:
        sold = sales_events(session, SHOP_ID, create, create + 1)
        counts = order_status_counts(session, SHOP_ID, since=create, until=create + 1)
    assert counts[OrderStatus(status)] == 1 and sum(counts.values()) == 1
    expected = [] if status == "CANCELLED" else [(order_id, units)]
    assert [(e.order_id, e.units) for e in sold] == expected
