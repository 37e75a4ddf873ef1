"""Alert levels: one notification per SKU per escalation, never a storm."""

from __future__ import annotations

import pytest

from app.insight.types import AlertLevel
from app.store import (
    Store,
    alert_history,
    alert_levels,
    mark_alerts_notified,
    record_alert_level,
    record_alert_levels,
    unnotified_alerts,
    upsert_products,
)
from tests.store.factories import NOW, SHOP_ID, product


@pytest.fixture
def skus(shop_store: Store) -> Store:
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"a": {"w": 1}, "b": {"w": 1}})], NOW)
    return shop_store


def test_repeats_are_silent_and_escalations_pending_once(skus: Store) -> None:
    with skus.write() as session:
        assert record_alert_level(session, SHOP_ID, "a", "ok", NOW) is None
        first = record_alert_level(session, SHOP_ID, "a", "warning", NOW + 1, "6 h of stock")
        assert first is not None and first.escalation and first.previous_level == "ok"
        for n in range(50):  # recomputed every few seconds: no new rows
            assert (
                record_alert_level(session, SHOP_ID, "a", AlertLevel.WARNING, NOW + 2 + n) is None
            )
    with skus.read() as session:
        [pending] = unnotified_alerts(session, SHOP_ID)
    assert (pending.sku_id, pending.level, pending.reason) == ("a", "warning", "6 h of stock")
    with skus.write() as session:
        mark_alerts_notified(session, SHOP_ID, ["a"], NOW + 100)
    with skus.read() as session:
        assert unnotified_alerts(session, SHOP_ID) == []
        assert alert_history(session, SHOP_ID, "a")[0].notified_at == NOW + 100


def test_a_fast_double_escalation_notifies_once_for_the_top_level(skus: Store) -> None:
    with skus.write() as session:
        record_alert_level(session, SHOP_ID, "a", "warning", NOW)
        record_alert_level(session, SHOP_ID, "a", "critical", NOW + 1)
        record_alert_level(session, SHOP_ID, "b", "critical", NOW + 2)
    with skus.read() as session:
        pending = unnotified_alerts(session, SHOP_ID)
    assert [(p.sku_id, p.level, p.previous_level) for p in pending] == [
        ("a", "critical", "warning"),
        ("b", "critical", "ok"),
    ]
    with skus.write() as session:
        mark_alerts_notified(session, SHOP_ID, ["a", "b"], NOW + 3)
    with skus.read() as session:
        assert unnotified_alerts(session, SHOP_ID) == []


def test_falling_is_silent_and_rising_again_is_new(skus: Store) -> None:
    with skus.write() as session:
        record_alert_level(session, SHOP_ID, "a", "critical", NOW)
        mark_alerts_notified(session, SHOP_ID, ["a"], NOW + 1)
        fall = record_alert_level(session, SHOP_ID, "a", "ok", NOW + 2, "restocked")
        assert fall is not None and not fall.escalation
    with skus.read() as session:
        assert unnotified_alerts(session, SHOP_ID) == []
        assert alert_levels(session, SHOP_ID) == {"a": AlertLevel.OK}
    with skus.write() as session:
        rise = record_alert_level(session, SHOP_ID, "a", "critical", NOW + 3)
        assert rise is not None and rise.escalation
    with skus.read() as session:
        assert [p.id for p in unnotified_alerts(session, SHOP_ID)] == [rise.id]
        history = alert_history(session, SHOP_ID, since=NOW + 1)
    assert [(h.level, h.escalation) for h in history] == [("ok", False), ("critical", True)]


def test_unknown_level_is_refused(skus: Store) -> None:
    with pytest.raises(ValueError), skus.write() as session:
        record_alert_level(session, SHOP_ID, "a", "panic", NOW)


def test_batch_of_levels(skus: Store) -> None:
    with skus.write() as session:
        first = record_alert_levels(
            session, SHOP_ID, {"a": ("ok", ""), "b": ("critical", "2 h of stock")}, NOW
        )
        assert [(e.sku_id, e.level, e.escalation) for e in first] == [("b", "critical", True)]
        assert (
            record_alert_levels(session, SHOP_ID, {"a": ("ok", ""), "b": ("critical", "")}, NOW)
            == []
        )
        second = record_alert_levels(
            session,
            SHOP_ID,
            {"a": ("warning", "9 h"), "b": ("warning", "restock on the way")},
            NOW + 60,
        )
    assert [(e.sku_id, e.previous_level, e.level, e.escalation) for e in second] == [
        ("a", "ok", "warning", True),
        ("b", "critical", "warning", False),
    ]
    assert len({e.id for e in (*first, *second)}) == 3
    with skus.read() as session:
        history = alert_history(session, SHOP_ID)
        assert [(h.id, h.sku_id, h.reason) for h in history] == [
            (first[0].id, "b", "2 h of stock"),
            (second[0].id, "a", "9 h"),
            (second[1].id, "b", "restock on the way"),
        ]
        assert alert_levels(session, SHOP_ID) == {"a": "warning", "b": "warning"}
