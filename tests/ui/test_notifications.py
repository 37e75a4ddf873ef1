"""Notification policy: one per SKU per escalation, no storms, digests, pause."""

from __future__ import annotations

import dataclasses

from app.insight.types import AlertLevel, SkuInsight
from app.ui.notifications import NotificationPolicy
from tests.ui import synthetic


def _items() -> list[SkuInsight]:
    return list(synthetic.viewmodel().insights)


def _at(item: SkuInsight, level: AlertLevel) -> SkuInsight:
    return dataclasses.replace(item, level=level)


def test_one_notice_per_escalation_and_silence_when_steady() -> None:
    base = _items()[0]
    policy = NotificationPolicy(digest_threshold=3, window_s=60)
    assert policy.update([_at(base, AlertLevel.OK)], 0) == []
    first = policy.update([_at(base, AlertLevel.WARNING)], 10)
    assert [n.sku_ids for n in first] == [(base.sku_id,)]
    assert first[0].level is AlertLevel.WARNING and not first[0].digest
    assert policy.update([_at(base, AlertLevel.WARNING)], 20) == []  # steady: silent
    second = policy.update([_at(base, AlertLevel.CRITICAL)], 30)
    assert len(second) == 1 and second[0].title.startswith("Critical")
    assert policy.update([_at(base, AlertLevel.CRITICAL)] * 3, 40) == []


def test_flapping_does_not_renotify_within_cooldown() -> None:
    base = _items()[0]
    policy = NotificationPolicy(renotify_after_s=3600, window_s=1)
    assert len(policy.update([_at(base, AlertLevel.CRITICAL)], 0)) == 1
    for t in range(10, 200, 10):
        level = AlertLevel.WARNING if t % 20 else AlertLevel.CRITICAL
        assert policy.update([_at(base, level)], t) == []
    # after the cooldown a fresh escalation is told again
    policy.update([_at(base, AlertLevel.OK)], 4000)
    assert len(policy.update([_at(base, AlertLevel.CRITICAL)], 4010)) == 1


def test_burst_becomes_one_digest_sorted_by_severity_and_risk() -> None:
    items = _items()[:8]
    policy = NotificationPolicy(digest_threshold=3, window_s=60)
    policy.update([_at(s, AlertLevel.OK) for s in items], 0)
    escalated = [
        _at(s, AlertLevel.CRITICAL if i < 3 else AlertLevel.WARNING) for i, s in enumerate(items)
    ]
    notices = policy.update(escalated, 5)
    assert len(notices) == 1 and notices[0].digest
    digest = notices[0]
    assert digest.title == "8 products need attention"
    assert digest.message.startswith("3 critical · 5 running low")
    assert set(digest.sku_ids) == {s.sku_id for s in items}
    assert digest.sku_ids[:3] == tuple(s.sku_id for s in escalated[:3]) or all(
        s.level is AlertLevel.CRITICAL for s in escalated if s.sku_id in digest.sku_ids[:3]
    )
    assert digest.level is AlertLevel.CRITICAL


def test_full_window_holds_then_releases_one_digest() -> None:
    items = _items()[:6]
    policy = NotificationPolicy(digest_threshold=2, window_s=60)
    policy.update([_at(s, AlertLevel.OK) for s in items], 0)
    a = policy.update([_at(items[0], AlertLevel.CRITICAL)], 1)
    b = policy.update([_at(items[1], AlertLevel.CRITICAL)], 2)
    assert len(a) == len(b) == 1
    held = policy.update([_at(s, AlertLevel.CRITICAL) for s in items[2:5]], 3)
    assert held == []  # window full: no storm
    assert policy.flush(30) == []
    released = policy.flush(63)
    assert len(released) == 1 and released[0].digest
    assert set(released[0].sku_ids) == {s.sku_id for s in items[2:5]}


def test_pause_tracks_levels_without_replaying() -> None:
    base = _items()[0]
    policy = NotificationPolicy()
    policy.paused = True
    assert policy.update([_at(base, AlertLevel.CRITICAL)], 0) == []
    policy.paused = False
    assert policy.update([_at(base, AlertLevel.CRITICAL)], 10) == []
    assert policy.level_of(base.sku_id) is AlertLevel.CRITICAL


def test_critical_only_skips_warnings() -> None:
    base = _items()[0]
    policy = NotificationPolicy()
    policy.critical_only = True
    assert policy.update([_at(base, AlertLevel.WARNING)], 0) == []
    assert len(policy.update([_at(base, AlertLevel.CRITICAL)], 1)) == 1


def test_tray_menu_and_notifier_without_tray(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QWidget

    from app.ui.banner import Banner
    from app.ui.tray import AlertNotifier, TrayState

    host = QWidget()  # the banner lives inside the window, never as a top-level
    qtbot.addWidget(host)
    banner = Banner(host)
    notifier = AlertNotifier(banner=banner)
    assert not notifier.uses_tray
    items = _items()
    notifier.update([_at(s, AlertLevel.OK) for s in items])
    assert notifier.state is TrayState.OK
    with qtbot.waitSignal(notifier.notified, timeout=1000) as blocker:
        notifier.update([_at(items[0], AlertLevel.CRITICAL)])
    assert blocker.args[0].sku_ids == (items[0].sku_id,)
    assert banner.notice is blocker.args[0]
    assert notifier.state is TrayState.CRITICAL
    notifier.set_paused(True)
    assert notifier.state is TrayState.PAUSED
    assert notifier.update([_at(items[1], AlertLevel.CRITICAL)]) == []


def test_clicking_a_notice_opens_its_sku(qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.ui.tray import AlertNotifier

    notifier = AlertNotifier(use_tray=False)
    item = _items()[0]
    notifier.update([_at(item, AlertLevel.CRITICAL)])
    with qtbot.waitSignal(notifier.open_sku, timeout=1000) as blocker:
        notifier._notice_clicked()  # what QSystemTrayIcon.messageClicked triggers
    assert blocker.args == [item.sku_id]
