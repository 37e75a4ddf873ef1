"""What the seller asks of a running engine: new replenishment settings.

Functions over the engine rather than engine methods, so the UI carries out a request with one
call and never touches the store itself: a settings change is one write transaction, then the
shop's insight is marked dirty so the dashboard shows its effect on the next recompute.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.insight.types import SkuSettings
from app.store.settings import save_settings as store_settings
from app.sync.engine import SyncEngine
from app.sync.loader import Touched

__all__ = ["save_settings"]


async def save_settings(
    engine: SyncEngine, shop_id: str, settings: SkuSettings, sku_id: str | None = None
) -> None:
    """Store one SKU's settings (or the shop's defaults when `sku_id` is None) and recompute."""
    at = int(engine.clock.now())

    def write(session: Session) -> None:
        store_settings(session, shop_id, at, settings, sku_id)

    await engine.db.write(write)
    runner = engine.insights.get(shop_id)
    if runner is not None:  # read in by itself: the shop is recomputed from memory
        runner.mark_dirty(Touched(settings=True))
