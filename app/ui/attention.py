"""The alerts order of a view model's insights, worked out once per SKU object (#15).

The alerts card, the stock chart's default SKU and the status bar all rank every SKU by
`attention_key`. On a big shop that is 5,000 keys per frame, each frame, while an incremental
recompute replaces only the few SKUs a webhook touched and keeps the other insight objects:
so a key is computed again only when its SKU's insight is a new object. The rule itself stays
in `app.insight.alerts`; this module only remembers its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from app.insight.alerts import attention_key
from app.insight.types import AlertLevel, SkuInsight

type Key = tuple[int, int, float, str]

_KEY = itemgetter(1)


class AttentionOrder:
    """`needing_attention`, the top SKU by `attention_key` and the level counts of the last
    insights sequence given to `update`; the same sequence again costs nothing."""

    def __init__(self) -> None:
        self._of: Sequence[SkuInsight] | None = None
        self._keys: dict[str, tuple[SkuInsight, Key]] = {}
        self.ordered: list[SkuInsight] = []
        self.top: SkuInsight | None = None
        self.critical = 0
        self.warning = 0

    def update(self, insights: Sequence[SkuInsight]) -> None:
        if insights is self._of:
            return
        self._of = insights
        keys = self._keys
        hits: list[tuple[SkuInsight, Key]] = []
        append = hits.append
        get = keys.get
        for s in insights:
            hit = get(s.sku_id)
            if hit is None or hit[0] is not s:
                hit = (s, attention_key(s))
                keys[s.sku_id] = hit
            append(hit)
        if len(keys) > 2 * len(hits) + 64:  # SKUs gone from the shop
            self._keys = {h[0].sku_id: h for h in hits}
        ok = AlertLevel.OK
        needing = [h for h in hits if h[0].level is not ok]
        needing.sort(key=_KEY)
        self.ordered = [h[0] for h in needing]
        self.top = min(hits, key=_KEY)[0] if hits else None
        self.critical = sum(1 for s in self.ordered if s.level is AlertLevel.CRITICAL)
        self.warning = len(self.ordered) - self.critical
