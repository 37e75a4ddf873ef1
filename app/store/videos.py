"""Videos, their view history, and which video sold which units (attribution).

TikTok's video analytics are cumulative totals per video; each poll's totals are kept as a
`video_views` row when they moved, so insight can compute view *growth*. Attribution is
"explicit" when an affiliate order names the video (`content_type` VIDEO, `content_id`),
"correlated" when insight inferred it from view growth matching a SKU's sales.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.store.catalog import chunked
from app.store.schema import (
    AttributionRow,
    LineItemRow,
    VideoProductRow,
    VideoRow,
    VideoViewRow,
)
from app.tiktok.models import AffiliateOrder, VideoPerformance

__all__ = [
    "CORRELATED",
    "EXPLICIT",
    "Attribution",
    "VideoInfo",
    "ViewPoint",
    "attributions",
    "record_affiliate_orders",
    "record_attribution",
    "upsert_videos",
    "video_views",
    "videos_for_products",
    "view_histories",
]

EXPLICIT = "explicit"
_ATTRIBUTION_KEY = [AttributionRow.order_id, AttributionRow.sku_id, AttributionRow.video_id]
CORRELATED = "correlated"


class ViewPoint(NamedTuple):
    at: int
    views: int
    units_sold: int


@dataclass(frozen=True, slots=True)
class VideoInfo:
    id: str
    title: str
    username: str
    posted_at: int | None
    views: int
    units_sold: int
    gmv: Decimal | None
    gmv_currency: str


@dataclass(frozen=True, slots=True)
class Attribution:
    order_id: str
    sku_id: str
    video_id: str
    units: int
    method: str
    creator_username: str | None


def upsert_videos(
    session: Session, shop_id: str, videos: Iterable[VideoPerformance], at: int
) -> list[str]:
    """Store video totals and linked products; add a view-history row for each video whose
    views or units moved. Returns the ids of the videos whose views changed."""
    incoming = {video.id: video for video in videos}
    if not incoming:
        return []
    ids = list(incoming)
    previous: dict[str, tuple[int, int]] = {}
    for part in chunked(ids):
        for vid, views, units in session.execute(
            select(VideoRow.id, VideoRow.views, VideoRow.units_sold).where(VideoRow.id.in_(part))
        ):
            previous[vid] = (views, units)
    stmt = sqlite_insert(VideoRow)
    updatable = (
        "title",
        "username",
        "posted_at",
        "views",
        "units_sold",
        "sku_orders",
        "gmv",
        "gmv_currency",
        "click_through_rate",
        "updated_at",
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[VideoRow.id], set_={name: stmt.excluded[name] for name in updatable}
        ),
        [
            {
                "id": video.id,
                "shop_id": shop_id,
                "title": video.title,
                "username": video.username,
                "posted_at": video.posted_at(),
                "views": video.views,
                "units_sold": video.units_sold,
                "sku_orders": video.sku_orders,
                "gmv": video.gmv.amount if video.gmv else None,
                "gmv_currency": video.gmv.currency if video.gmv else "",
                "click_through_rate": video.click_through_rate,
                "first_seen_at": at,
                "updated_at": at,
            }
            for video in incoming.values()
        ],
    )
    links = [
        {"video_id": video.id, "product_id": product.id}
        for video in incoming.values()
        for product in video.products
    ]
    if links:
        session.execute(sqlite_insert(VideoProductRow).on_conflict_do_nothing(), links)
    moved = [
        video
        for video in incoming.values()
        if previous.get(video.id) != (video.views, video.units_sold)
    ]
    if moved:
        session.execute(
            sqlite_insert(VideoViewRow),
            [
                {"video_id": v.id, "at": at, "views": v.views, "units_sold": v.units_sold}
                for v in moved
            ],
        )
    return [video.id for video in moved if previous.get(video.id, (None,))[0] != video.views]


def video_views(
    session: Session, video_id: str, since: int | None = None, until: int | None = None
) -> list[ViewPoint]:
    """A video's cumulative views and units over time, `since <= at < until`."""
    query = select(VideoViewRow.at, VideoViewRow.views, VideoViewRow.units_sold).where(
        VideoViewRow.video_id == video_id
    )
    if since is not None:
        query = query.where(VideoViewRow.at >= since)
    if until is not None:
        query = query.where(VideoViewRow.at < until)
    return [ViewPoint(*row) for row in session.execute(query.order_by(VideoViewRow.at))]


def view_histories(
    session: Session, shop_id: str, since: int, until: int | None = None
) -> dict[str, list[ViewPoint]]:
    """Every video's view history in `since <= at < until` for the whole shop, one query."""
    query = (
        select(VideoViewRow.video_id, VideoViewRow.at, VideoViewRow.views, VideoViewRow.units_sold)
        .join(VideoRow, VideoRow.id == VideoViewRow.video_id)
        .where(VideoRow.shop_id == shop_id, VideoViewRow.at >= since)
    )
    if until is not None:
        query = query.where(VideoViewRow.at < until)
    series: dict[str, list[ViewPoint]] = {}
    rows = session.connection().execute(query.order_by(VideoViewRow.video_id, VideoViewRow.at))
    for video_id, at, views, units in rows.all():
        series.setdefault(video_id, []).append(ViewPoint(at, views, units))
    return series


def videos_for_products(
    session: Session, shop_id: str, product_ids: Iterable[str]
) -> dict[str, list[VideoInfo]]:
    """The shop's videos that feature each product (from the analytics' product links)."""
    wanted = list(dict.fromkeys(product_ids))
    found: dict[str, list[VideoInfo]] = {pid: [] for pid in wanted}
    for part in chunked(wanted):
        rows = session.execute(
            select(
                VideoProductRow.product_id,
                VideoRow.id,
                VideoRow.title,
                VideoRow.username,
                VideoRow.posted_at,
                VideoRow.views,
                VideoRow.units_sold,
                VideoRow.gmv,
                VideoRow.gmv_currency,
            )
            .join(VideoRow, VideoRow.id == VideoProductRow.video_id)
            .where(VideoRow.shop_id == shop_id, VideoProductRow.product_id.in_(part))
            .order_by(VideoRow.views.desc(), VideoRow.id)
        )
        for row in rows:
            found[row[0]].append(VideoInfo(*row[1:]))
    return found


def _order_skus(session: Session, order_ids: list[str]) -> dict[tuple[str, str], Counter[str]]:
    """(order id, product id) -> units per sku_id, from the stored Order API line items."""
    found: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for part in chunked(order_ids):
        query = select(LineItemRow.order_id, LineItemRow.product_id, LineItemRow.sku_id).where(
            LineItemRow.order_id.in_(part)
        )
        for order_id, product_id, sku_id in session.execute(query):
            found[(order_id, product_id)][sku_id] += 1
    return found


def record_affiliate_orders(
    session: Session, shop_id: str, orders: Iterable[AffiliateOrder], at: int
) -> int:
    """Store explicit order-to-video attribution from affiliate orders; idempotent. Returns
    how many attribution rows were written (new or refreshed).

    Affiliate SKUs name a product, not a SKU (tiktok-shop-api.md 7), so the SKU comes from
    the order's stored line items of that product: each SKU is credited with its line items'
    units, at most the affiliate quantity in all. A product whose order is not stored yet is
    skipped: the next affiliate sync (its window overlaps) credits it once the order is in."""
    orders = list(orders)
    skus_of = _order_skus(session, [order.id for order in orders])
    rows: dict[tuple[str, str, str], dict[str, object]] = {}
    for order in orders:
        for sku in order.skus:
            if sku.content_type != "VIDEO" or not sku.content_id:
                continue
            left = sku.quantity
            for sku_id, units in sorted(skus_of.get((order.id, sku.product_id), {}).items()):
                credited = min(units, left)
                left -= credited
                if credited <= 0:
                    continue
                key = (order.id, sku_id, sku.content_id)
                if key in rows:
                    rows[key]["units"] = int(rows[key]["units"]) + credited  # type: ignore[call-overload]
                    continue
                rows[key] = {
                    "order_id": order.id,
                    "sku_id": sku_id,
                    "video_id": sku.content_id,
                    "shop_id": shop_id,
                    "units": credited,
                    "method": EXPLICIT,
                    "creator_username": sku.creator_username,
                    "recorded_at": at,
                }
    if not rows:
        return 0
    stmt = sqlite_insert(AttributionRow)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=_ATTRIBUTION_KEY,
            set_={
                "units": stmt.excluded.units,
                "method": stmt.excluded.method,
                "creator_username": stmt.excluded.creator_username,
                "recorded_at": stmt.excluded.recorded_at,
            },
        ),
        list(rows.values()),
    )
    return len(rows)


def record_attribution(
    session: Session,
    shop_id: str,
    order_id: str,
    sku_id: str,
    video_id: str,
    units: int,
    at: int,
) -> bool:
    """Store a *correlated* attribution from insight; never overrides an explicit one.
    Returns whether a row was written."""
    stmt = sqlite_insert(AttributionRow).values(
        order_id=order_id,
        sku_id=sku_id,
        video_id=video_id,
        shop_id=shop_id,
        units=units,
        method=CORRELATED,
        creator_username=None,
        recorded_at=at,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=_ATTRIBUTION_KEY,
        set_={"units": stmt.excluded.units, "recorded_at": stmt.excluded.recorded_at},
        where=AttributionRow.method == CORRELATED,
    ).returning(AttributionRow.order_id)
    return session.execute(upsert).scalar() is not None


def attributions(
    session: Session,
    shop_id: str,
    *,
    video_id: str | None = None,
    order_ids: Iterable[str] | None = None,
) -> list[Attribution]:
    """Attribution rows of a shop, optionally for one video or some orders."""
    query = select(
        AttributionRow.order_id,
        AttributionRow.sku_id,
        AttributionRow.video_id,
        AttributionRow.units,
        AttributionRow.method,
        AttributionRow.creator_username,
    ).where(AttributionRow.shop_id == shop_id)
    if video_id is not None:
        query = query.where(AttributionRow.video_id == video_id)
    order = (AttributionRow.order_id, AttributionRow.sku_id, AttributionRow.video_id)
    if order_ids is None:
        return [Attribution(*row) for row in session.execute(query.order_by(*order))]
    found: list[Attribution] = []
    for part in chunked(list(dict.fromkeys(order_ids))):
        rows = session.execute(query.where(AttributionRow.order_id.in_(part)).order_by(*order))
        found.extend(Attribution(*row) for row in rows)
    return found
