"""When to tell the seller (Qt-free): one notice per SKU per escalation, a digest for a burst.

- A SKU is noticed when its level rises above the level it had last time (ok -> warning,
  warning -> critical, ok -> critical). Staying at a level, or falling, is silent.
- Flapping is not a storm: a SKU noticed at a level is not noticed at that level again within
  `renotify_after_s`, even if it fell and rose again in between.
- Bursts become one digest: when more than `digest_threshold` notices would go out within
  `window_s`, the extra ones are folded into a single digest notice.
- While paused, levels are still tracked (so resuming does not replay the past) but nothing is
  emitted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from app.insight.alerts import attention_key
from app.insight.types import AlertLevel, SkuInsight


@dataclass(frozen=True, slots=True)
class Notice:
    """A notification to show: `sku_ids[0]` is what clicking it opens."""

    title: str
    message: str
    level: AlertLevel
    sku_ids: tuple[str, ...]
    digest: bool = False


def _name(item: SkuInsight) -> str:
    base = item.product_name or item.sku_id
    return f"{base} ({item.sku_name})" if item.sku_name else base


def sku_notice(item: SkuInsight) -> Notice:
    """The notice for one SKU, in plain words."""
    word = "Critical" if item.level is AlertLevel.CRITICAL else "Running low"
    message = item.headline or item.context or "Stock is running low."
    return Notice(f"{word}: {_name(item)}", message, item.level, (item.sku_id,))


def digest_notice(items: list[SkuInsight]) -> Notice:
    """One notice for many SKUs, in the alerts list's order (`attention_key`)."""
    items = sorted(items, key=attention_key)
    critical = sum(1 for s in items if s.level is AlertLevel.CRITICAL)
    warning = len(items) - critical
    names = ", ".join(_name(s) for s in items[:3])
    more = f" and {len(items) - 3} more" if len(items) > 3 else ""
    parts = []
    if critical:
        parts.append(f"{critical} critical")
    if warning:
        parts.append(f"{warning} running low")
    level = AlertLevel.CRITICAL if critical else AlertLevel.WARNING
    return Notice(
        f"{len(items)} products need attention",
        f"{' · '.join(parts)}: {names}{more}",
        level,
        tuple(s.sku_id for s in items),
        digest=True,
    )


class NotificationPolicy:
    """Feed it every insight recompute; it returns the notices to show now."""

    def __init__(
        self,
        digest_threshold: int = 3,
        window_s: float = 60.0,
        renotify_after_s: float = 6 * 3600.0,
    ) -> None:
        self.digest_threshold = digest_threshold
        self.window_s = window_s
        self.renotify_after_s = renotify_after_s
        self.paused = False
        self.enabled = True
        # When True, warnings are tracked but only critical escalations are told.
        self.critical_only = False
        self._levels: dict[str, AlertLevel] = {}
        self._noticed_at: dict[tuple[str, AlertLevel], float] = {}
        self._recent: deque[float] = deque()
        self._held: dict[str, SkuInsight] = {}

    def level_of(self, sku_id: str) -> AlertLevel | None:
        """The last level seen for a SKU."""
        return self._levels.get(sku_id)

    def update(self, insights: Iterable[SkuInsight], now: float) -> list[Notice]:
        """Track levels and return the notices due now (possibly a digest)."""
        escalated: list[SkuInsight] = []
        levels = self._levels
        for item in insights:
            level = item.level
            seen = levels.get(item.sku_id)
            if level is seen:  # most SKUs, every time: a big shop's 5,000 (#15)
                continue
            levels[item.sku_id] = level
            before = AlertLevel.OK if seen is None else seen
            if level.severity <= before.severity:
                if item.level.severity < before.severity:
                    self._held.pop(item.sku_id, None)
                continue
            if self.critical_only and item.level is not AlertLevel.CRITICAL:
                continue
            last = self._noticed_at.get((item.sku_id, item.level))
            if last is not None and now - last < self.renotify_after_s:
                continue
            escalated.append(item)
        if self.paused or not self.enabled:
            self._held.clear()
            return []
        for item in escalated:
            self._held[item.sku_id] = item
        return self._release(now)

    def flush(self, now: float) -> list[Notice]:
        """Release held notices once the burst window has passed (call on a timer)."""
        if self.paused or not self.enabled:
            self._held.clear()
            return []
        return self._release(now)

    def _release(self, now: float) -> list[Notice]:
        while self._recent and now - self._recent[0] >= self.window_s:
            self._recent.popleft()
        if not self._held:
            return []
        held = sorted(self._held.values(), key=attention_key)
        room = self.digest_threshold - len(self._recent)
        if len(held) <= room:
            notices = [sku_notice(s) for s in held]
        elif room > 0:
            notices = [digest_notice(held)]  # too many for singles: one digest for the lot
        else:
            return []  # the window is full: hold, and release one digest when it passes
        sent = held
        for s in sent:
            self._noticed_at[(s.sku_id, s.level)] = now
            self._held.pop(s.sku_id, None)
        for _ in notices:
            self._recent.append(now)
        return notices
