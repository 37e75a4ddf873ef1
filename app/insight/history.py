"""A shop's recent history as columns of numpy arrays, the input of the batch computation.

Why columns: recomputing insight for 10,000 SKUs with 30 days of history must take well under
a frame budget, which only whole-array numpy operations give. Records (`Sale`, `StockPoint`,
`ViewPoint`) are turned into columns once with `ShopHistory.from_records`; the sync layer may
also build the arrays straight from SQL results with the constructor.

Rows refer to SKUs and videos by position (`sale_sku[i]` indexes `skus`), so every lookup is
integer indexing. Events after the `now` given to a computation are ignored, which lets one
history be replayed at any earlier moment (see `app.insight.evaluation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt

from app.insight.types import Sale, SkuState, StockPoint, VideoInfo, ViewPoint

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _floats(values: Iterable[float]) -> FloatArray:
    return np.fromiter(values, dtype=np.float64)


def _ints(values: Iterable[int]) -> IntArray:
    return np.fromiter(values, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class ShopHistory:
    """Columns of one shop's SKUs, sales, stock changes and video views.

    `since` is the epoch second the history starts: windows reaching further back only count
    time from `since` (a shop connected two days ago has a 7-day velocity over 48 hours).
    """

    skus: tuple[SkuState, ...]
    since: float
    # Sales: one row per (order, SKU); `sale_video` is an index into `videos`, or -1.
    sale_sku: IntArray
    sale_time: FloatArray
    sale_units: FloatArray
    sale_revenue: FloatArray
    sale_video: IntArray
    # Stock changes: the SKU had `stock_available` units from `stock_time` on.
    stock_sku: IntArray
    stock_time: FloatArray
    stock_available: FloatArray
    # Videos and samples of their cumulative views.
    videos: tuple[VideoInfo, ...] = ()
    view_video: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    view_time: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    view_count: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))

    def __post_init__(self) -> None:
        sales = {len(self.sale_time), len(self.sale_units), len(self.sale_revenue)}
        sales |= {len(self.sale_video), len(self.sale_sku)}
        if len(sales) != 1:
            raise ValueError("sale columns differ in length")
        if len({len(self.stock_sku), len(self.stock_time), len(self.stock_available)}) != 1:
            raise ValueError("stock columns differ in length")
        if len({len(self.view_video), len(self.view_time), len(self.view_count)}) != 1:
            raise ValueError("view columns differ in length")
        n, v = len(self.skus), len(self.videos)
        for name, index, size in (
            ("sale_sku", self.sale_sku, n),
            ("stock_sku", self.stock_sku, n),
            ("view_video", self.view_video, v),
        ):
            if len(index) and (index.min() < 0 or index.max() >= size):
                raise ValueError(f"{name} out of range")
        if len(self.sale_video) and (self.sale_video.min() < -1 or self.sale_video.max() >= v):
            raise ValueError("sale_video out of range")
        # Sales are kept in time order, so a time window is a slice (`sales_between`). Data
        # read with ORDER BY time is already sorted and costs one pass to check.
        if len(self.sale_time) > 1 and bool(np.any(np.diff(self.sale_time) < 0)):
            order = np.argsort(self.sale_time, kind="stable")
            for name in ("sale_sku", "sale_time", "sale_units", "sale_revenue", "sale_video"):
                object.__setattr__(self, name, getattr(self, name)[order])

    def sales_between(self, lo: float, hi: float) -> slice:
        """The sales with lo < time <= hi, as a slice of the sale columns."""
        start = int(np.searchsorted(self.sale_time, lo, side="right"))
        stop = int(np.searchsorted(self.sale_time, hi, side="right"))
        return slice(start, max(start, stop))

    @property
    def sku_ids(self) -> tuple[str, ...]:
        return tuple(sku.sku_id for sku in self.skus)

    @cached_property
    def available(self) -> IntArray:
        """Current available stock per SKU, from `skus` (do not modify the array)."""
        return _ints(sku.available for sku in self.skus)

    @cached_property
    def skus_by_product(self) -> dict[str, list[int]]:
        """product_id -> positions of its SKUs."""
        result: dict[str, list[int]] = {}
        for i, sku in enumerate(self.skus):
            result.setdefault(sku.product_id, []).append(i)
        return result

    @cached_property
    def incoming(self) -> IntArray:
        return _ints(sku.incoming for sku in self.skus)

    @cached_property
    def unit_price(self) -> FloatArray:
        return _floats(float(sku.unit_price) for sku in self.skus)

    def with_available(self, available: Sequence[int] | IntArray) -> ShopHistory:
        """The same history with other current stock levels (for replays and what-ifs)."""
        if len(available) != len(self.skus):
            raise ValueError("one available count per SKU")
        skus = tuple(
            replace(sku, available=int(units))
            for sku, units in zip(self.skus, available, strict=True)
        )
        return replace(self, skus=skus)

    def stock_at(self, when: float) -> IntArray:
        """Each SKU's available stock at `when` from the stock changes (current value if none)."""
        result = np.array(self.available, copy=True)
        mask = self.stock_time <= when
        if not mask.any():
            return result
        sku, time, units = self.stock_sku[mask], self.stock_time[mask], self.stock_available[mask]
        order = np.lexsort((time, sku))
        sku, units = sku[order], units[order]
        last = np.ones(len(sku), dtype=bool)
        last[:-1] = sku[1:] != sku[:-1]
        result[sku[last]] = units[last].astype(np.int64)
        return result

    def only(self, sku_ids: Iterable[str]) -> ShopHistory:
        """The history restricted to some SKUs (videos and views kept)."""
        wanted = set(sku_ids)
        keep = [i for i, sku in enumerate(self.skus) if sku.sku_id in wanted]
        remap = np.full(len(self.skus), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        sales = remap[self.sale_sku] >= 0
        stock = remap[self.stock_sku] >= 0
        return replace(
            self,
            skus=tuple(self.skus[i] for i in keep),
            sale_sku=remap[self.sale_sku[sales]],
            sale_time=self.sale_time[sales],
            sale_units=self.sale_units[sales],
            sale_revenue=self.sale_revenue[sales],
            sale_video=self.sale_video[sales],
            stock_sku=remap[self.stock_sku[stock]],
            stock_time=self.stock_time[stock],
            stock_available=self.stock_available[stock],
        )

    @classmethod
    def from_records(
        cls,
        skus: Sequence[SkuState],
        sales: Iterable[Sale] = (),
        stock: Iterable[StockPoint] = (),
        views: Iterable[ViewPoint] = (),
        videos: Sequence[VideoInfo] = (),
        *,
        since: float | None = None,
    ) -> ShopHistory:
        """Build the columns from records. Records of unknown SKUs are skipped.

        Videos that appear in sales or views but not in `videos` are added with no title and no
        product links. `since` defaults to the earliest event time (or 0 with no events).
        """
        sku_index = {sku.sku_id: i for i, sku in enumerate(skus)}
        video_list = list(videos)
        video_index = {video.video_id: i for i, video in enumerate(video_list)}

        def video_of(video_id: str | None) -> int:
            if video_id is None:
                return -1
            if video_id not in video_index:
                video_index[video_id] = len(video_list)
                video_list.append(VideoInfo(video_id=video_id))
            return video_index[video_id]

        sale_rows = [
            (sku_index[s.sku_id], s.time, s.units, float(s.revenue), video_of(s.video_id))
            for s in sales
            if s.sku_id in sku_index
        ]
        stock_rows = [
            (sku_index[p.sku_id], p.time, p.available) for p in stock if p.sku_id in sku_index
        ]
        view_rows = [(video_of(p.video_id), p.time, p.views) for p in views]
        times = [row[1] for row in sale_rows] + [row[1] for row in stock_rows]
        times += [row[1] for row in view_rows]
        start = since if since is not None else (min(times) if times else 0.0)
        return cls(
            skus=tuple(skus),
            since=float(start),
            sale_sku=_ints(row[0] for row in sale_rows),
            sale_time=_floats(row[1] for row in sale_rows),
            sale_units=_floats(row[2] for row in sale_rows),
            sale_revenue=_floats(row[3] for row in sale_rows),
            sale_video=_ints(row[4] for row in sale_rows),
            stock_sku=_ints(row[0] for row in stock_rows),
            stock_time=_floats(row[1] for row in stock_rows),
            stock_available=_floats(row[2] for row in stock_rows),
            videos=tuple(video_list),
            view_video=_ints(row[0] for row in view_rows),
            view_time=_floats(row[1] for row in view_rows),
            view_count=_floats(row[2] for row in view_rows),
        )
