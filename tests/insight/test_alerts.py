"""Alert levels: thresholds, and hysteresis that does not flap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.insight import AlertLevel, SkuSettings, alert_level, thresholds

SETTINGS = SkuSettings(lead_time_hours=48, safety_days=2, critical_hours=12)
CRITICAL, WARNING = thresholds(SETTINGS)


def test_thresholds() -> None:
    assert (CRITICAL, WARNING) == (48.0, 96.0)
    # A short lead time is covered by critical_hours; warning is never below critical.
    assert thresholds(SkuSettings(lead_time_hours=6, safety_days=0, critical_hours=24)) == (24, 24)


def test_levels_without_history() -> None:
    assert alert_level(10, SETTINGS) is AlertLevel.CRITICAL
    assert alert_level(48, SETTINGS) is AlertLevel.CRITICAL
    assert alert_level(60, SETTINGS) is AlertLevel.WARNING
    assert alert_level(200, SETTINGS) is AlertLevel.OK
    assert alert_level(None, SETTINGS) is AlertLevel.OK


def test_leaving_a_level_needs_a_margin() -> None:
    # Just above the critical threshold: stays critical, until 10% above it.
    assert alert_level(50, SETTINGS, AlertLevel.CRITICAL) is AlertLevel.CRITICAL
    assert alert_level(53, SETTINGS, AlertLevel.CRITICAL) is AlertLevel.WARNING
    assert alert_level(100, SETTINGS, AlertLevel.WARNING) is AlertLevel.WARNING
    assert alert_level(110, SETTINGS, AlertLevel.WARNING) is AlertLevel.OK
    # From critical straight to ok once past the widened warning threshold.
    assert alert_level(500, SETTINGS, AlertLevel.CRITICAL) is AlertLevel.OK
    # Escalation is immediate.
    assert alert_level(40, SETTINGS, AlertLevel.OK) is AlertLevel.CRITICAL
    assert alert_level(None, SETTINGS, AlertLevel.CRITICAL) is AlertLevel.OK


@settings(max_examples=200, deadline=None)
@given(
    threshold=st.sampled_from([CRITICAL, WARNING]),
    start=st.sampled_from(list(AlertLevel)),
    values=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=60),
)
def test_hysteresis_never_flaps_inside_the_band(
    threshold: float, start: AlertLevel, values: list[float]
) -> None:
    """A value oscillating around one threshold, within the hysteresis band, changes the
    level at most once (one escalation or one de-escalation, never back and forth)."""
    low, high = threshold * 0.95, threshold * 1.1
    level = alert_level((low + high) / 2, SETTINGS, start)
    changes = 0
    for fraction in values:
        new = alert_level(low + fraction * (high - low), SETTINGS, level)
        changes += new is not level
        level = new
    assert changes <= 1
