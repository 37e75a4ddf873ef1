"""Live updates on a big shop touch only what changed (#15), and what changed is shown.

An incremental recompute hands the window a new insights tuple in which only the SKUs a webhook
touched are new objects. The landscape and the alerts order remember their work per SKU object:
these tests hold that a changed SKU is shown changed (its dot moves, it climbs the alerts list)
and that the scatter of a level whose dots did not move is not handed to pyqtgraph again.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal

import pytest

from app.insight.alerts import attention_key, needing_attention
from app.insight.types import AlertLevel, SkuInsight
from app.ui.attention import AttentionOrder
from app.ui.main_window import MainWindow
from app.ui.viewmodel import DashboardViewModel
from tests.ui import synthetic


def _replace(vm: DashboardViewModel, sku_id: str, **changes: object) -> DashboardViewModel:
    """The view model after an incremental recompute that touched one SKU: a new tuple, one
    new insight object, every other object kept."""
    insights = tuple(
        dataclasses.replace(s, **changes) if s.sku_id == sku_id else s  # type: ignore[arg-type]
        for s in vm.insights
    )
    return dataclasses.replace(vm, insights=insights)


def _dot(window: MainWindow, sku_id: str) -> tuple[str, float]:
    """(level, x) of a SKU's dot as pyqtgraph holds it."""
    for level, dots in window.dashboard.inventory.landscape.dots.items():
        data = dots.data
        for i, name in enumerate(data["data"]):
            if name == sku_id:
                return level, float(data["x"][i])
    raise AssertionError(f"no dot for {sku_id}")


def test_a_touched_sku_moves_and_the_other_levels_are_not_set_again(loaded: MainWindow) -> None:
    vm = loaded.vm
    ok = next(s for s in vm.insights if s.level is AlertLevel.OK)
    before = {level: dots.data for level, dots in loaded.dashboard.inventory.landscape.dots.items()}
    forecast = dataclasses.replace(ok.forecast, hours_left=5.0)
    loaded.apply(_replace(vm, ok.sku_id, forecast=forecast))
    loaded.flush_charts()
    level, x = _dot(loaded, ok.sku_id)
    assert level == "ok"
    assert x == pytest.approx(math.log10(5.0), abs=0.005)
    after = {level: dots.data for level, dots in loaded.dashboard.inventory.landscape.dots.items()}
    assert after["ok"] is not before["ok"]  # the moved dot's level was handed over again
    for other in ("warning", "critical", ""):
        assert after[other] is before[other], other  # nothing of theirs moved: not re-set

    # The same SKU turning critical leaves the ok scatter for the critical one.
    loaded.apply(_replace(loaded.vm, ok.sku_id, level=AlertLevel.CRITICAL, forecast=forecast))
    loaded.flush_charts()
    assert _dot(loaded, ok.sku_id)[0] == "critical"
    counts = {level: len(d.data) for level, d in loaded.dashboard.inventory.landscape.dots.items()}
    assert sum(counts.values()) == len(vm.insights)


def test_an_unchanged_recompute_hands_pyqtgraph_nothing(loaded: MainWindow) -> None:
    landscape = loaded.dashboard.inventory.landscape
    before = {level: dots.data for level, dots in landscape.dots.items()}
    same = dataclasses.replace(loaded.vm, insights=tuple(loaded.vm.insights))  # new tuple
    loaded.apply(same)
    loaded.flush_charts()
    for level, dots in landscape.dots.items():
        assert dots.data is before[level]


def test_a_sku_that_leaves_or_arrives_is_laid_out_again(loaded: MainWindow) -> None:
    vm = loaded.vm
    gone = vm.insights[0]
    loaded.apply(dataclasses.replace(vm, insights=vm.insights[1:]))
    loaded.flush_charts()
    with pytest.raises(AssertionError):
        _dot(loaded, gone.sku_id)
    back = dataclasses.replace(gone, sku_id="zz-new")
    # (no projector: the synthetic one knows only the shop's own SKUs)
    loaded.apply(dataclasses.replace(vm, insights=(*vm.insights[1:], back), projector=None))
    loaded.flush_charts()
    assert _dot(loaded, "zz-new")[0] == str(gone.level)


def test_a_touched_sku_climbs_the_alerts_list(loaded: MainWindow) -> None:
    vm = loaded.vm
    last = needing_attention(vm.insights)[-1]
    richer = Decimal(10**6)
    loaded.apply(_replace(vm, last.sku_id, revenue_at_risk=richer))
    assert loaded.dashboard.alerts.shown_ids[0] == last.sku_id
    assert loaded.dashboard.inventory.selected == last.sku_id  # the stock chart follows it
    # and back: the remembered key is not served for the new object
    loaded.apply(vm)
    assert loaded.dashboard.alerts.shown_ids[0] != last.sku_id


def test_attention_order_is_the_rule_after_partial_replacements() -> None:
    insights = list(synthetic.viewmodel().insights)
    memo = AttentionOrder()

    def check(items: list[SkuInsight]) -> None:
        memo.update(tuple(items))
        assert memo.ordered == needing_attention(items)
        assert memo.top == min(items, key=attention_key, default=None)
        assert memo.critical == sum(1 for s in items if s.level is AlertLevel.CRITICAL)
        assert memo.warning == sum(1 for s in items if s.level is AlertLevel.WARNING)

    check(insights)
    levels = (AlertLevel.OK, AlertLevel.WARNING, AlertLevel.CRITICAL)
    for step in range(12):
        i = (step * 7) % len(insights)
        insights[i] = dataclasses.replace(
            insights[i],
            level=levels[step % 3],
            revenue_at_risk=Decimal(step * 37 % 11),
        )
        check(insights)
    check(insights[3:])
    check([])
    assert memo.top is None and memo.ordered == []
