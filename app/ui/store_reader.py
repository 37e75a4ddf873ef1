"""Old home of the dashboard's store reads, kept only so `tests/benchmarks/bench_desktop.py`
(not this change's to edit) still runs: the reads live in `app.sync.dashboard_data`, the
mapping onto the view model in `app.ui.mapping.ExtrasMapper`. Delete this module once the
benchmark imports `load`/`read_dashboard_data` from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.sync.dashboard_data import HistoryCache, read_dashboard_data
from app.ui.mapping import Extras, ExtrasMapper

__all__ = ["HistoryCache", "read_extras"]


def read_extras(
    session: Any, shop_id: str, now: float, levels: Mapping[str, int], cache: HistoryCache
) -> Extras:
    """`read_dashboard_data` mapped onto the view model's types (one-off: no identity cache)."""
    return ExtrasMapper()(read_dashboard_data(session, shop_id, now, levels, cache))
