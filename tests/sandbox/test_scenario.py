"""The scenario engine: determinism, stock bookkeeping, seasonality and the viral surge."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from app.sandbox import SandboxConfig
from app.sandbox.world import World
from tests.sandbox.helpers import Api, get_token

HOUR = 3_600.0


def _orders(world: World) -> list[tuple[Any, ...]]:
    return [
        (o.id, o.status, o.create_time, o.update_time, tuple(i.sku_id for i in o.line_items))
        for o in world.orders.values()
    ]


def test_one_seed_one_history_however_the_clock_is_stepped() -> None:
    config = SandboxConfig(seed=7, scenario="viral")
    one_jump, many_ticks = World(config), World(config)
    end = config.epoch + 30 * HOUR
    one_jump.advance_to(end)
    t = config.epoch
    while t < end:
        t = min(end, t + 137.0)
        many_ticks.advance_to(t)
    assert len(one_jump.orders) > 200
    assert _orders(one_jump) == _orders(many_ticks)
    assert one_jump.truth({}) == many_ticks.truth({})
    other = World(SandboxConfig(seed=8, scenario="viral"))
    other.advance_to(end)
    assert _orders(other) != _orders(one_jump)


def test_two_sandbox_runs_with_one_seed_serve_the_same_orders(
    make_sandbox: Any, client: httpx.Client
) -> None:
    pages = []
    for _ in range(2):
        with make_sandbox(seed=3) as sandbox:
            api = Api(sandbox, client, get_token(sandbox, client)["access_token"])
            sandbox.clock.advance(10 * HOUR)
            data = api.ok("POST", "/order/202309/orders/search", {"page_size": "100"})
            pages.append([{k: v for k, v in o.items()} for o in data["orders"]])
    assert pages[0] and pages[0] == pages[1]


def test_stock_is_consistent_with_orders() -> None:
    config = SandboxConfig(seed=11, scenario="viral")
    world = World(config)
    initial = {sku.id: sku.total_available for sku in world.skus.values()}
    world.advance_to(config.epoch + 10 * 86_400)
    live_units: Counter[str] = Counter()
    unshipped: Counter[str] = Counter()
    statuses = Counter(o.status for o in world.orders.values())
    for order in world.orders.values():
        if order.status == "CANCELLED":
            continue
        for item in order.line_items:
            live_units[item.sku_id] += 1
            if not order.shipped:
                unshipped[item.sku_id] += 1
    restocked = 0
    for sku in world.skus.values():
        assert sku.units_sold == live_units[sku.id]
        assert sku.total_committed == unshipped[sku.id]
        assert all(q >= 0 for q in sku.available.values())
        gained = sku.total_available + sku.units_sold - initial[sku.id]
        assert gained >= 0  # only restocks add stock
        restocked += gained > 0
    assert restocked >= 1
    for status in ("CANCELLED", "COMPLETED", "DELIVERED", "IN_TRANSIT", "AWAITING_SHIPMENT"):
        assert statuses[status] > 0, statuses
    returns = [o for o in world.orders.values() if o.return_id]
    assert returns


def test_daily_seasonality_shapes_steady_sales() -> None:
    config = SandboxConfig(seed=5, orders_per_hour=20.0)
    world = World(config)
    world.advance_to(config.epoch + 7 * 86_400)
    by_hour = Counter(int(o.create_time % 86_400 // 3_600) for o in world.orders.values())
    evening = sum(by_hour[h] for h in (18, 19, 20, 21, 22))
    morning = sum(by_hour[h] for h in (6, 7, 8, 9, 10))
    assert evening > 2 * morning


def test_viral_video_surges_and_sells_out_a_sku() -> None:
    config = SandboxConfig(seed=1, scenario="viral")
    world = World(config)
    plan = world.viral
    assert plan is not None
    world.advance_to(config.epoch + 10 * HOUR)
    video = world.videos[plan.video_id]
    assert world.views(video, plan.onset) < 100_000
    assert world.views(video, world.now) > 1_000_000
    per_hour = Counter(
        int((o.create_time - config.epoch) // HOUR)
        for o in world.orders.values()
        if o.content_id == plan.video_id
    )
    assert max(per_hour.values()) >= 20, per_hour  # tens of orders per hour at the peak
    assert per_hour[0] == 0  # nothing before the onset
    hot = world.skus[plan.sku_ids[0]]
    assert hot.stockout_at is not None
    # Sold out within about 10 real minutes at the default demo speed.
    assert (hot.stockout_at - config.epoch) / config.speed < 600
    assert hot.total_available == 0


def test_family_scenarios_shape_the_surge_like_their_curve() -> None:
    """`--scenario lognormal` etc.: the viral video's views and the orders naming it follow the
    family's shape (app.sandbox.curves), not the logistic S-curve."""
    seen: dict[str, list[int]] = {}
    for scenario in ("viral", "lognormal", "plateau"):
        config = SandboxConfig(seed=5, scenario=scenario)
        world = World(config)
        plan = world.viral
        assert plan is not None
        world.advance_to(plan.onset + 12 * HOUR)
        video = world.videos[plan.video_id]
        gained = [
            world.views(video, plan.onset + h * HOUR)
            - world.views(video, plan.onset + (h - 1) * HOUR)
            for h in range(1, 13)
        ]
        assert max(gained) > 50_000
        seen[scenario] = gained
        named = [o for o in world.orders.values() if o.content_id == plan.video_id]
        assert len(named) > 20
    # The live-stream plateau holds its view rate for hours; the logistic rises and falls.
    plateau = seen["plateau"]
    assert max(plateau[:3]) < 1.3 * min(plateau[:3])
    assert seen["viral"] != seen["lognormal"]
    # The log-normal peaks within the first hours and keeps a long tail.
    lognormal = seen["lognormal"]
    assert lognormal.index(max(lognormal)) <= 3 and lognormal[-1] > 0.02 * max(lognormal)


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="lognormal"):
        SandboxConfig(scenario="sawtooth")  # type: ignore[arg-type]
