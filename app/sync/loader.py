"""Read a shop's recent history from the store into insight's plain inputs, and keep it.

Runs inside a read transaction on an executor thread (see `database.Database.read`), so one
consistent snapshot feeds one insight computation. Times are event times from TikTok (order
creation, stock-change time, view sample time), never processing times.

`ShopCache` holds what one full read gave (the sale, stock and view rows as numpy columns,
the SKUs, the open orders) between computations: a webhook's change is brought in by reading
only the orders and SKUs it touched (`ShopCache.update`), so on a shop of a million orders a
recompute no longer pays for reading the whole window again (#15). `ShopCache.data(now)` is
exactly what a fresh full read at `now` gives (a test holds them equal); what it cannot bring
up to date by parts (a new SKU or video, settings, views) raises `Reload`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from sqlalchemy.orm import Session

from app.insight.history import FloatArray, ShopHistory
from app.insight.orders import TO_SHIP, OrderTally
from app.insight.types import OrderFact, SkuSettings, SkuState, VideoInfo
from app.store.catalog import SkuStock, current_stock
from app.store.columns import (
    SALE_KEYS,
    STOCK_KEYS,
    history_from_rows,
    merge_in_order,
    order_lines,
    order_rowids,
    sale_rows,
    shop_sku_ids,
    shop_videos,
    stock_rows,
    stock_rows_after,
    view_rows,
)
from app.store.insight_inputs import (
    explicit_attributions,
    order_count,
    sold_line_items,
    video_product_links,
)
from app.store.settings import incoming_units, sku_settings_for_shop
from app.store.types import exact_money, to_money

__all__ = [
    "HISTORY_DAYS",
    "OrderTotals",
    "Reload",
    "ShopCache",
    "ShopData",
    "Touched",
    "load_order_totals",
    "load_shop_data",
]

HISTORY_DAYS = 8
ORDER_HOURS = 48
DAY = 86_400


@dataclass(frozen=True)
class ShopData:
    history: ShopHistory
    orders: list[OrderFact]
    now: float
    default: SkuSettings = field(default_factory=SkuSettings)
    settings: dict[str, SkuSettings] = field(default_factory=dict)
    #: `orders` (and possibly orders too old to count) summed as they came in: the order
    #: intelligence without adding every order up again (`OrderTally`).
    tally: OrderTally | None = None


@dataclass(frozen=True)
class OrderTotals:
    """All orders the store holds for a shop (the headless report's `orders`)."""

    count: int
    revenue: Decimal
    video_revenue: Decimal

    @property
    def viral_revenue_share(self) -> float:
        return float(self.video_revenue / self.revenue) if self.revenue > 0 else 0.0


@dataclass(frozen=True)
class Touched:
    """What one committed write changed in a shop: the SKUs whose stock, product or sales
    may have moved and the orders written. Insight brings in only these (#15)."""

    skus: frozenset[str] = frozenset()
    orders: frozenset[str] = frozenset()
    #: Video view samples were added: every SKU's correlation with the videos may move.
    views: bool = False
    #: The seller changed replenishment settings (the shop's defaults or a SKU's).
    settings: bool = False

    def __or__(self, other: Touched) -> Touched:
        return Touched(
            self.skus | other.skus,
            self.orders | other.orders,
            self.views or other.views,
            self.settings or other.settings,
        )

    @property
    def empty(self) -> bool:
        return not (self.skus or self.orders or self.views or self.settings)


class Reload(Exception):
    """The held rows cannot be brought up to date by parts: read the shop again."""


def _since(now: float) -> int:
    return int(now) - HISTORY_DAYS * DAY


def _orders_since(now: float) -> int:
    return int(now) - ORDER_HOURS * 3600 - 3600


class ShopCache:
    """One shop's insight inputs, held between computations (see the module's docstring).

    Rows are kept from the `since` of the full read on (older ones are dropped now and then
    by `advance`); `data(now)` cuts them to the window a full read at `now` would read."""

    def __init__(
        self,
        shop_id: str,
        since: int,
        skus: list[SkuState],
        default: SkuSettings,
        settings: dict[str, SkuSettings],
        incoming: dict[str, int],
        videos: tuple[VideoInfo, ...],
        links: dict[str, set[str]],
        sales: FloatArray,
        stock: FloatArray,
        views: FloatArray,
        facts: dict[str, OrderFact],
        orders_since: int,
    ) -> None:
        self.shop_id = shop_id
        self.since = since
        self.skus = skus
        self.index = {sku.sku_id: i for i, sku in enumerate(skus)}
        self.default = default
        self.settings = settings
        self.incoming = incoming
        self.videos = videos
        self.links = links
        self.sales = sales
        self.stock = stock
        # The largest stock row id held: `update` reads only the rows written after it. That
        # needs row ids never reused below it: stock rows are only ever deleted with their
        # whole shop (`forget_shop`, not called while a shop is open).
        self.stock_after = int(stock[:, 3].max()) if len(stock) else 0
        self.views = views
        self.tally = OrderTally(facts.values())
        self.orders_since = orders_since

    @classmethod
    def load(cls, session: Session, shop_id: str, now: float) -> ShopCache:
        """A full read of the shop at `now`."""
        since = _since(now)
        base, overrides = sku_settings_for_shop(session, shop_id)
        incoming = incoming_units(session, shop_id)
        skus = [_sku_state(row, incoming) for row in current_stock(session, shop_id)]
        if tuple(sku.sku_id for sku in skus) != shop_sku_ids(session, shop_id):  # pragma: no cover
            raise RuntimeError("SKU order differs between the catalogue and the sales columns")
        links = video_product_links(session, shop_id)
        orders_since = _orders_since(now)
        explicit = explicit_attributions(session, shop_id)
        return cls(
            shop_id,
            since,
            skus,
            base,
            overrides,
            incoming,
            shop_videos(session, shop_id, links),
            links,
            sale_rows(session, shop_id, since),
            stock_rows(session, shop_id, since),
            view_rows(session, shop_id, since),
            _order_facts(order_lines(session, shop_id, orders_since, sorted(TO_SHIP)), explicit),
            orders_since,
        )

    def covers(self, now: float) -> bool:
        """Whether the rows held reach back as far as a full read at `now` would."""
        return _since(now) >= self.since and _orders_since(now) >= self.orders_since

    def update(self, session: Session, touched: Touched) -> frozenset[str]:
        """Read what `touched` changed and put it in place of the rows held; returns the SKUs
        whose inputs may have changed (those named, and those of the orders' sales before
        and after). Raises `Reload` for a SKU or video not seen before."""
        if any(sku_id not in self.index for sku_id in touched.skus):
            raise Reload("a SKU not in the held catalogue")
        positions: set[int] = set()
        # The products each video links to come with the video poll: read with the list.
        self.links = video_product_links(session, self.shop_id)
        videos = shop_videos(session, self.shop_id, self.links)
        if videos != self.videos:
            self.renumber_videos(videos)
            self.views = view_rows(session, self.shop_id, self.since)
            positions.update(range(len(self.skus)))  # every SKU's correlation may move
        if touched.views:
            self.views = view_rows(session, self.shop_id, self.since)
            positions.update(range(len(self.skus)))
        if touched.settings:  # the defaults reach every SKU; incoming units are settings too
            self.default, self.settings = sku_settings_for_shop(session, self.shop_id)
            self.incoming = incoming_units(session, self.shop_id)
            positions.update(range(len(self.skus)))
        orders = sorted(touched.orders)
        if orders:
            gone = np.isin(self.sales[:, 5], order_rowids(session, orders))
            fresh = sale_rows(session, self.shop_id, self.since, order_ids=orders)
            positions.update(self.sales[gone, 1].astype(np.int64).tolist())
            positions.update(fresh[:, 1].astype(np.int64).tolist())
            self.sales = merge_in_order(self.sales[~gone], fresh, SALE_KEYS)
            self._update_facts(session, orders)
        skus = sorted(touched.skus)
        if skus:
            # Only the stock rows written since the last read, whichever SKU they are of (the
            # table only grows): a viral SKU's thousands of changes are not read again with
            # every one more (#15).
            ids, values = stock_rows_after(session, self.shop_id, self.since, self.stock_after)
            if ids:
                if any(sku_id not in self.index for sku_id in ids):
                    raise Reload("stock of a SKU not in the held catalogue")
                at = np.array([self.index[sku_id] for sku_id in ids], dtype=np.float64)
                fresh = np.column_stack((at, values))
                self.stock = merge_in_order(self.stock, fresh, STOCK_KEYS)
                self.stock_after = max(self.stock_after, int(values[:, 2].max()))
                positions.update(at.astype(np.int64).tolist())
            positions.update(self.index[sku_id] for sku_id in skus)
        ids = [self.skus[i].sku_id for i in sorted(positions)]
        for row in current_stock(session, self.shop_id, ids):
            self.skus[self.index[row.sku_id]] = _sku_state(row, self.incoming)
        return frozenset(ids)

    def renumber_videos(self, videos: tuple[VideoInfo, ...]) -> None:
        """A video appeared (the positions are in id order, so later ones move up): the sale
        rows' video positions follow; raises `Reload` when one went away or changed."""
        now = {video.video_id: i for i, video in enumerate(videos)}
        if any(now.get(video.video_id) is None for video in self.videos) or any(
            videos[now[video.video_id]] != video for video in self.videos
        ):
            raise Reload("a video went away or changed")
        moved = np.array([now[video.video_id] for video in self.videos], dtype=np.float64)
        column = self.sales[:, 4]
        linked = column >= 0
        self.sales = self.sales.copy()
        self.sales[linked, 4] = moved[column[linked].astype(np.int64)]
        self.videos = videos

    def _update_facts(self, session: Session, orders: list[str]) -> None:
        explicit = explicit_attributions(session, self.shop_id, orders)
        lines = order_lines(session, self.shop_id, self.orders_since, sorted(TO_SHIP), orders)
        for order_id in orders:
            self.tally.remove(order_id)
        for fact in _order_facts(lines, explicit).values():
            self.tally.add(fact)

    def advance(self, now: float) -> None:
        """Drop the rows older than any window at `now` reads (memory stays bounded on a
        shop left open for days); a no-op until an hour's worth has aged out."""
        since = _since(now)
        if since - self.since >= 3600:
            self.sales = self.sales[np.searchsorted(self.sales[:, 0], since, side="left") :]
            self.stock = self.stock[np.searchsorted(self.stock[:, 1], since, side="left") :]
            self.views = self.views[np.searchsorted(self.views[:, 1], since, side="left") :]
            self.since = since
        orders_since = _orders_since(now)
        if orders_since - self.orders_since >= 3600:
            for fact in self.tally.facts():
                if not (fact.create_time >= orders_since or fact.status in TO_SHIP):
                    self.tally.remove(fact.order_id)
            self.orders_since = orders_since

    def data(self, now: float) -> ShopData:
        """Insight's inputs at `now`: what `load_shop_data(session, shop_id, now)` reads."""
        since = _since(now)
        history = history_from_rows(
            self.skus, self.videos, since, int(now) + 1, self.sales, self.stock, self.views
        )
        orders_since = _orders_since(now)
        orders = [
            fact
            for fact in self.tally.facts()
            if fact.create_time >= orders_since or fact.status in TO_SHIP
        ]
        return ShopData(
            history=history,
            orders=orders,
            now=now,
            default=self.default,
            settings=self.settings,
            tally=self.tally,
        )


def _sku_state(row: SkuStock, incoming: dict[str, int]) -> SkuState:
    return SkuState(
        sku_id=row.sku_id,
        product_id=row.product_id,
        product_name=row.product_title,
        sku_name=row.seller_sku,
        available=row.quantity,
        unit_price=row.sale_price or Decimal(0),
        incoming=incoming.get(row.sku_id, 0),
    )


def load_shop_data(session: Session, shop_id: str, now: float) -> ShopData:
    """Everything insight needs for one shop at `now` (shop time): one full read."""
    return ShopCache.load(session, shop_id, now).data(now)


def _order_facts(
    lines: Iterable[tuple[str, int, str, int | None, str, str, int]],
    explicit: dict[tuple[str, str], str],
) -> dict[str, OrderFact]:
    """One `OrderFact` per order of `lines` (`order_lines` rows), by order id.

    Two viral days are ~35,000 orders, held between computations, so each fact shares what
    it can (#15): one `Decimal` per distinct price (an order of one unit keeps its price's),
    one zero for the video revenue of orders no video sold, one string per status.
    """
    facts: dict[str, list[object]] = {}
    prices: dict[str, Decimal] = {}
    statuses: dict[str, str] = {}
    zero = Decimal(0)
    with exact_money():
        for order_id, created, status, ship_by, sku_id, text, units in lines:
            price = prices.get(text)
            if price is None:
                price = prices[text] = to_money(text)
            amount = price if units == 1 else price * units
            video = (order_id, sku_id) in explicit
            fact = facts.get(order_id)
            if fact is None:
                facts[order_id] = [
                    float(created),
                    statuses.setdefault(status, status),
                    None if ship_by is None else float(ship_by),
                    amount,
                    amount if video else zero,
                ]
                continue
            fact[3] = fact[3] + amount  # type: ignore[operator]
            if video:
                fact[4] = fact[4] + amount  # type: ignore[operator]
    return {
        order_id: OrderFact(
            order_id=order_id,
            create_time=at,  # type: ignore[arg-type]
            status=state,  # type: ignore[arg-type]
            revenue=revenue,  # type: ignore[arg-type]
            video_revenue=by_video,  # type: ignore[arg-type]
            ship_by=due,  # type: ignore[arg-type]
        )
        for order_id, (at, state, due, revenue, by_video) in facts.items()
    }


def load_order_totals(session: Session, shop_id: str) -> OrderTotals:
    """Order count (every status) and product revenue (line items of orders not cancelled)."""
    count = order_count(session, shop_id)
    explicit = explicit_attributions(session, shop_id)
    revenue = Decimal(0)
    video = Decimal(0)
    for order_id, sku_id, price in sold_line_items(session, shop_id):
        revenue += price
        if (order_id, sku_id) in explicit:
            video += price
    return OrderTotals(count=int(count), revenue=revenue, video_revenue=video)
