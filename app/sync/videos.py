"""Video performance and affiliate orders: the inputs of viral attribution.

Video analytics are cumulative totals; each poll stores them, and the store keeps a view-history
row whenever a video's views moved, which is the view growth insight correlates with sales.
Affiliate orders name the video that sold each unit (`content_type` VIDEO, `content_id`):
explicit attribution. Both are polled on a schedule through the normal lane.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.store.videos import record_affiliate_orders, upsert_videos
from app.sync.database import Database
from app.sync.shops import ShopContext
from app.tiktok.client import TikTokShopClient
from app.tiktok.models import AffiliateOrder, VideoPerformance
from app.tiktok.ratelimit import Priority

__all__ = ["VideoPollResult", "VideoPoller"]

# Affiliate orders of the last N seconds are re-read each poll (they arrive with some delay).
AFFILIATE_LOOKBACK = 6 * 3600


def _day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class VideoPollResult:
    videos: int
    views_moved: int
    attributions: int
    #: The affiliate orders credited to a video, for insight to read in (#15).
    orders: frozenset[str] = frozenset()


class VideoPoller:
    def __init__(
        self,
        db: Database,
        api: TikTokShopClient,
        now: Callable[[], float],
        *,
        priority: Priority = Priority.NORMAL,
    ) -> None:
        self._db = db
        self._api = api
        self._now = now
        self.priority = priority
        self._affiliate_since: dict[str, int] = {}

    async def run_once(self, ctx: ShopContext, *, full: bool = False) -> VideoPollResult:
        shop = ctx.shop
        now = self._now()
        videos: list[VideoPerformance] = [
            video
            async for video in self._api.iter_video_performance(
                shop,
                start_date_ge=_day(now - 7 * 86_400),
                end_date_lt=_day(now + 86_400),
                priority=self.priority,
            )
        ]
        since = self._affiliate_since.get(shop.id)
        start = int(now) - 31 * 86_400 if full or since is None else since - AFFILIATE_LOOKBACK
        affiliate: list[AffiliateOrder] = [
            order
            async for order in self._api.iter_affiliate_orders(
                shop,
                filters={"create_time_ge": max(0, start), "create_time_lt": int(now) + 1},
                priority=self.priority,
            )
        ]
        at = int(now)

        def commit(session: Session) -> tuple[int, int]:
            moved = upsert_videos(session, shop.id, videos, at)
            written = record_affiliate_orders(session, shop.id, affiliate, at)
            return len(moved), written

        moved, written = await self._db.write(commit)
        self._affiliate_since[shop.id] = int(now)
        credited = frozenset(order.id for order in affiliate if order.video_ids())
        return VideoPollResult(len(videos), moved, written, credited if written else frozenset())
