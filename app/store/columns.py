"""A shop's recent sales, stock changes and video views as numpy columns, straight from SQL.

Insight works on columns (`app.insight.history.ShopHistory`); building them from records
meant one Python object per sale (`SaleEvent`, then `Sale`, a `Decimal` each), about 200,000
of them for a week of a viral shop, which cost most of a recompute's time and its memory peak
(#15). Here SQLite does the joins, the grouping and the mapping of ids to positions (window
functions number the shop's SKUs and videos in id order), so every row that comes back is
numbers only, streamed into float arrays without keeping a row object.

The sales are the same as `orders.sales_events` gives (orders not cancelled, line items not
cancelled, one row per order and SKU, in time order); revenue is the float sum insight uses.
CROSS JOIN fixes the join order (SQLite keeps it as written): the orders of the time window
first, through the covering index, then their line items; left to itself the planner may walk
every line item of every SKU instead. A sale's video is its explicit attribution (the highest
video id when several claim it, as the record path did); SKUs the shop does not list (an order
naming a SKU not synced yet) are left out, as `ShopHistory.from_records` did.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from app.insight.history import ShopHistory
from app.insight.types import SkuState, VideoInfo
from app.store.catalog import chunked

__all__ = [
    "SALE_COLUMNS",
    "SALE_KEYS",
    "STOCK_COLUMNS",
    "STOCK_KEYS",
    "history_from_rows",
    "merge_in_order",
    "order_lines",
    "order_rowids",
    "sale_order",
    "sale_rows",
    "shop_history",
    "shop_sku_ids",
    "shop_videos",
    "stock_order",
    "stock_rows",
    "stock_rows_after",
    "stock_series",
    "view_rows",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_POSITIONS = """
WITH sku_pos AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM skus WHERE shop_id = :shop
),
vid_pos AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM (
        SELECT id FROM videos WHERE shop_id = :shop
        UNION
        SELECT video_id FROM attributions WHERE shop_id = :shop AND method = 'explicit'
    )
)
"""

_SALES = (
    _POSITIONS  # noqa: S608 - constant SQL joined from constants; every value is bound
    + """,
claims AS (
    SELECT order_id, sku_id, max(video_id) AS video_id FROM attributions
    WHERE shop_id = :shop AND method = 'explicit' GROUP BY order_id, sku_id
),
explicit AS (
    SELECT c.order_id, c.sku_id, vp.i FROM claims c JOIN vid_pos vp ON vp.id = c.video_id
)
SELECT o.create_time, o.rowid, sp.i, CAST(li.sale_price AS REAL), coalesce(e.i, -1)
FROM orders o
CROSS JOIN line_items li ON li.order_id = o.id
CROSS JOIN sku_pos sp ON sp.id = li.sku_id
LEFT JOIN explicit e ON e.order_id = o.id AND e.sku_id = li.sku_id
WHERE o.shop_id = :shop AND o.create_time >= :since AND {orders}
  AND o.status != 'CANCELLED' AND coalesce(li.display_status, '') != 'CANCELLED'
"""
)
# The orders of a time window (a full read), or some orders by id (an incremental one: the
# orders a webhook re-read, through the primary key).
_WINDOW = "o.create_time < :until"

_STOCK = (
    _POSITIONS
    + """
SELECT sp.i, h.at, h.quantity, h.id
FROM stock_history h JOIN sku_pos sp ON sp.id = h.sku_id
WHERE h.at >= :since
ORDER BY h.at, h.id
"""
)

# CROSS JOIN keeps stock_history the outer loop, so the new rows come by the rowid range;
# the planner otherwise walks every SKU's window through the (sku_id, at) index (300 ms on the
# 1M shop, against a few ms for the range).
_STOCK_AFTER = """
SELECT h.sku_id, h.at, h.quantity, h.id
FROM stock_history h CROSS JOIN skus s ON s.id = h.sku_id
WHERE h.id > :after AND h.at >= :since AND s.shop_id = :shop
ORDER BY h.at, h.id
"""

_VIEWS = (
    _POSITIONS
    + """
SELECT vp.i, v.at, v.views
FROM video_views v JOIN videos ON videos.id = v.video_id JOIN vid_pos vp ON vp.id = v.video_id
WHERE videos.shop_id = :shop AND v.at >= :since
ORDER BY v.at
"""
)

_VIDEO_IDS = (
    _POSITIONS
    + """
SELECT vid_pos.id, coalesce(videos.title, '') FROM vid_pos
LEFT JOIN videos ON videos.id = vid_pos.id AND videos.shop_id = :shop
ORDER BY vid_pos.i
"""
)


def _per_order_and_sku(lines: FloatArray) -> FloatArray:
    """Line items (time, order rowid, SKU, price, video) into one row per order and SKU
    (`SALE_COLUMNS`), in time order (ties by order rowid, then SKU: `sale_order`). Grouped
    here rather than by SQLite's GROUP BY, whose sort over text keys cost more than the whole
    read (#15)."""
    if not len(lines):
        return np.zeros((0, len(SALE_COLUMNS)), dtype=np.float64)
    order = np.lexsort((lines[:, 2], lines[:, 1]))  # by order, then SKU
    lines = lines[order]
    starts = np.flatnonzero(
        np.concatenate(([True], (np.diff(lines[:, 1]) != 0) | (np.diff(lines[:, 2]) != 0)))
    )
    out = np.empty((len(starts), len(SALE_COLUMNS)), dtype=np.float64)
    out[:, 0] = lines[starts, 0]
    out[:, 1] = lines[starts, 2]
    out[:, 2] = np.diff(np.append(starts, len(lines)))
    out[:, 3] = np.add.reduceat(lines[:, 3], starts)
    out[:, 4] = lines[starts, 4]
    out[:, 5] = lines[starts, 1]
    return out[np.argsort(out[:, 0], kind="stable")]


#: The columns of `sale_rows`: one row per order and SKU.
SALE_COLUMNS = ("time", "sku", "units", "revenue", "video", "order_rowid")
#: The columns of `stock_rows`: one row per stock change.
STOCK_COLUMNS = ("sku", "at", "quantity", "id")


#: The sort keys of `sale_rows`, first key first: time, then order rowid, then SKU (what one
#: full read gives, so rows merged from several reads sit exactly where a full read puts them).
SALE_KEYS = (0, 5, 1)
#: The sort keys of `stock_rows`: time, then row id (the full read's ORDER BY).
STOCK_KEYS = (1, 3)


def sale_order(rows: FloatArray) -> IntArray:
    """The order of `sale_rows` (`SALE_KEYS`)."""
    return _order(rows, SALE_KEYS)


def stock_order(rows: FloatArray) -> IntArray:
    """The order of `stock_rows` (`STOCK_KEYS`)."""
    return _order(rows, STOCK_KEYS)


def _order(rows: FloatArray, keys: Sequence[int]) -> IntArray:
    order: IntArray = np.lexsort(tuple(rows[:, key] for key in reversed(keys)))
    return order


def merge_in_order(held: FloatArray, fresh: FloatArray, keys: Sequence[int]) -> FloatArray:
    """`held` (already in `keys` order) with the rows of `fresh` put in place: what sorting
    the two together gives, for the cost of one copy. A webhook brings a handful of rows into
    a shop cache of a few hundred thousand; sorting them all again on every update cost ~30
    to 100 ms of the update (#15)."""
    if len(fresh) == 0:
        return held
    fresh = fresh[_order(fresh, keys)]
    first = held[:, keys[0]]
    at = np.searchsorted(first, fresh[:, keys[0]], side="left")
    ends = np.searchsorted(first, fresh[:, keys[0]], side="right")
    # Rows tied on the first key (rare: the same second) are placed by the other keys.
    for i in np.flatnonzero(ends > at).tolist():
        lo, hi = int(at[i]), int(ends[i])
        for key in keys[1:]:
            column = held[lo:hi, key]
            value = fresh[i, key]
            lo, hi = (
                lo + int(np.searchsorted(column, value, side="left")),
                lo + int(np.searchsorted(column, value, side="right")),
            )
            if hi == lo:
                break
        at[i] = hi  # after rows equal on every key, as a stable sort of held + fresh puts it
    merged: FloatArray = np.insert(held, at, fresh, axis=0)
    return merged


def _matrix(cursor: sqlite3.Cursor, width: int) -> FloatArray:
    """Numeric rows into a (n, width) float array, a block of rows at a time (numpy converts
    each block in C; only one block of row tuples is alive at once)."""
    blocks: list[FloatArray] = []
    while rows := cursor.fetchmany(_BLOCK):
        blocks.append(np.array(rows, dtype=np.float64).reshape(-1, width))
    if not blocks:
        return np.zeros((0, width), dtype=np.float64)
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


_BLOCK = 20_000


def _raw(session: Session) -> sqlite3.Connection:
    """The sqlite3 connection of the session's transaction: plain tuples, no row objects."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    return raw  # type: ignore[no-any-return]


def _marks(name: str, values: Sequence[str]) -> tuple[str, dict[str, object]]:
    marks = ", ".join(f":{name}{i}" for i in range(len(values)))
    return marks or "NULL", {f"{name}{i}": value for i, value in enumerate(values)}


def _by_parts(
    raw: sqlite3.Connection,
    ids: Sequence[str],
    name: str,
    query: Callable[[str], str],
    params: Mapping[str, object],
) -> Iterator[sqlite3.Cursor]:
    """`query(marks)` once per chunk of `ids` (SQLite caps the bound parameters of one
    statement), the chunk bound as `:name0, :name1, …` beside `params`."""
    for part in chunked(list(ids)):
        marks, values = _marks(name, part)
        yield raw.execute(query(marks), {**params, **values})


def shop_sku_ids(session: Session, shop_id: str) -> tuple[str, ...]:
    """The shop's SKU ids in id order: what the positions in the columns refer to."""
    rows = _raw(session).execute("SELECT id FROM skus WHERE shop_id = ? ORDER BY id", (shop_id,))
    return tuple(str(row[0]) for row in rows)


def shop_videos(
    session: Session, shop_id: str, links: Mapping[str, set[str]]
) -> tuple[VideoInfo, ...]:
    """The videos the view and sale rows' positions refer to (the shop's, and any video an
    explicit attribution names), in id order, with their linked products."""
    rows = _raw(session).execute(_VIDEO_IDS, {"shop": shop_id}).fetchall()
    return tuple(
        VideoInfo(video_id=str(vid), title=str(title), product_ids=frozenset(links.get(vid, ())))
        for vid, title in rows
    )


def sale_rows(
    session: Session,
    shop_id: str,
    since: int,
    until: int | None = None,
    order_ids: Sequence[str] | None = None,
) -> FloatArray:
    """Sales (`SALE_COLUMNS`, in `sale_order`) of the orders created in `since <= t < until`,
    or of the orders `order_ids` created from `since` on (the orders a webhook changed: their
    rows replace the ones held in memory, #15)."""
    params: dict[str, object] = {"shop": shop_id, "since": int(since)}
    if order_ids is None:
        params["until"] = int(until if until is not None else 2**62)
    else:
        if not order_ids:
            return np.zeros((0, len(SALE_COLUMNS)), dtype=np.float64)
        parts = [
            _per_order_and_sku(_matrix(cursor, 5))
            for cursor in _by_parts(
                _raw(session),
                order_ids,
                "o",
                lambda marks: _SALES.format(orders=f"o.id IN ({marks})"),
                params,
            )
        ]
        rows = np.concatenate(parts)
        return rows[sale_order(rows)]
    return _per_order_and_sku(
        _matrix(_raw(session).execute(_SALES.format(orders=_WINDOW), params), 5)
    )


def stock_rows(session: Session, shop_id: str, since: int) -> FloatArray:
    """The shop's stock changes from `since` on (`STOCK_COLUMNS`, in `stock_order`); what came
    since is `stock_rows_after`'s."""
    params = {"shop": shop_id, "since": int(since)}
    return _matrix(_raw(session).execute(_STOCK, params), len(STOCK_COLUMNS))


def stock_rows_after(
    session: Session, shop_id: str, since: int, after: int
) -> tuple[list[str], FloatArray]:
    """The shop's stock changes from `since` on written after row id `after`, in
    `stock_order`: each row's SKU id, and (time, quantity, row id) per row. The table only
    grows and its ids follow the commits, so that is everything new since a read that saw
    `after`. SKU ids rather than positions: a SKU committed since the caller's catalogue was
    read would shift every position after it."""
    params = {"shop": shop_id, "since": int(since), "after": int(after)}
    rows = _raw(session).execute(_STOCK_AFTER, params).fetchall()
    if not rows:
        return [], np.zeros((0, 3), dtype=np.float64)
    skus = [str(row[0]) for row in rows]
    values = np.array([row[1:] for row in rows], dtype=np.float64).reshape(-1, 3)
    return skus, values


def view_rows(session: Session, shop_id: str, since: int) -> FloatArray:
    """View samples from `since` on: (video position, time, cumulative views), in time order."""
    return _matrix(_raw(session).execute(_VIEWS, {"shop": shop_id, "since": int(since)}), 3)


def history_from_rows(
    skus: Sequence[SkuState],
    videos: tuple[VideoInfo, ...],
    since: int,
    until: int,
    sales: FloatArray,
    stock: FloatArray,
    views: FloatArray,
) -> ShopHistory:
    """Insight's columns from rows read (or held) for a wider span: the sales created in
    `since <= t < until`, stock changes and view samples from `since` on (the rows are in
    their read order, so each cut is a slice)."""
    lo, hi = np.searchsorted(sales[:, 0], [since, until], side="left")
    sales = sales[lo:hi]
    stock = stock[np.searchsorted(stock[:, 1], since, side="left") :]
    views = views[np.searchsorted(views[:, 1], since, side="left") :]
    return ShopHistory(
        skus=tuple(skus),
        since=float(since),
        sale_sku=sales[:, 1].astype(np.int64),
        sale_time=sales[:, 0].copy(),
        sale_units=sales[:, 2].copy(),
        sale_revenue=sales[:, 3].copy(),
        sale_video=sales[:, 4].astype(np.int64),
        stock_sku=stock[:, 0].astype(np.int64),
        stock_time=stock[:, 1].copy(),
        stock_available=stock[:, 2].copy(),
        videos=videos,
        view_video=views[:, 0].astype(np.int64),
        view_time=views[:, 1].copy(),
        view_count=views[:, 2].copy(),
    )


def shop_history(
    session: Session,
    shop_id: str,
    since: int,
    until: int,
    skus: Sequence[SkuState],
    links: Mapping[str, set[str]],
) -> ShopHistory:
    """Insight's input for one shop: every sale created in `since <= t < until`, every stock
    change and view sample from `since` on, as columns (one consistent snapshot: the caller's
    session). `skus` are the shop's SKUs in id order (`catalog.current_stock`), `links` each
    video's linked products."""
    if tuple(sku.sku_id for sku in skus) != shop_sku_ids(session, shop_id):  # pragma: no cover
        raise RuntimeError("SKU order differs between the catalogue and the sales columns")
    return history_from_rows(
        skus,
        shop_videos(session, shop_id, links),
        since,
        until,
        sale_rows(session, shop_id, since, until),
        stock_rows(session, shop_id, since),
        view_rows(session, shop_id, since),
    )


# The shop's SKUs (or those `{picked}` narrows to) numbered in id order, for `stock_series`.
_PICKED_POSITIONS = """
WITH sku_pos AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM skus
    WHERE shop_id = :shop{picked}
)
"""

_PRIOR_LEVELS = """
SELECT sp.id, (
    SELECT h.quantity FROM stock_history h
    WHERE h.sku_id = sp.id AND h.at < :since ORDER BY h.at DESC, h.id DESC LIMIT 1
)
FROM sku_pos sp ORDER BY sp.i
"""

_WINDOW_LEVELS = """
SELECT sp.i, h.at, h.quantity
FROM stock_history h JOIN sku_pos sp ON sp.id = h.sku_id
WHERE h.at >= :since
ORDER BY sp.i, h.at, h.id
"""


def stock_series(
    session: Session, shop_id: str, since: int, sku_ids: Sequence[str] | None = None
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Each SKU's stock as a step function from `since` on, in two queries and no object per
    change: (times, levels), starting with the level at `since` (the last change before it)
    when there is one, then every change from `since` on. SKUs without any history are absent.

    The whole shop, or only `sku_ids` (the dashboard re-reads the SKUs whose stock moved:
    under a storm some SKU moves before nearly every refresh, and reading all 5,000 each time
    kept a reader thread busy)."""
    raw = _raw(session)
    params = {"shop": shop_id, "since": int(since)}
    pieces: list[tuple[str, dict[str, object]]] = [("", {})]
    if sku_ids is not None:
        pieces = [
            (f" AND id IN ({marks})", values)
            for marks, values in (_marks("sku", part) for part in chunked(sorted(set(sku_ids))))
        ]
    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    for picked, values in pieces:
        positions = _PICKED_POSITIONS.format(picked=picked)
        bound = {**params, **values}
        prior = raw.execute(positions + _PRIOR_LEVELS, bound).fetchall()
        window = _matrix(raw.execute(positions + _WINDOW_LEVELS, bound), 3)
        _steps(prior, window, float(since), out)
    return out


def _steps(
    prior: Sequence[tuple[str, float | None]],
    window: FloatArray,
    since: float,
    out: dict[str, tuple[FloatArray, FloatArray]],
) -> None:
    """Per SKU (position i in `prior`), its level before `since` then its rows of `window`
    (position, time, level; in position order) into `out`."""
    sku = window[:, 0].astype(np.int64)
    cuts = np.searchsorted(sku, np.arange(len(prior) + 1))
    for i, (sku_id, level) in enumerate(prior):
        lo, hi = int(cuts[i]), int(cuts[i + 1])
        if level is None and lo == hi:
            continue
        times = window[lo:hi, 1]
        levels = window[lo:hi, 2]
        if level is not None:
            times = np.concatenate(([since], times))
            levels = np.concatenate(([float(level)], levels))
        out[str(sku_id)] = (times.copy(), levels.copy())


_ORDER_LINES = """
WITH picked AS ({picked})
SELECT o.id, o.create_time, o.status, o.rts_sla_time, li.sku_id, li.sale_price, 1
FROM picked CROSS JOIN orders o ON o.id = picked.id
CROSS JOIN line_items li ON li.order_id = o.id
"""
_PICKED_WINDOW = """
    SELECT id FROM orders WHERE shop_id = :shop AND create_time >= :since
    UNION
    SELECT id FROM orders WHERE shop_id = :shop AND status IN ({statuses})
"""
_PICKED_IDS = """
    SELECT id FROM orders WHERE id IN ({ids}) AND shop_id = :shop
    AND (create_time >= :since OR status IN ({statuses}))
"""


def order_lines(
    session: Session,
    shop_id: str,
    since: int,
    statuses: Sequence[str],
    order_ids: Sequence[str] | None = None,
) -> Iterator[tuple[str, int, str, int | None, str, str, int]]:
    """The line items of the orders created since `since` or in one of `statuses`: (order id,
    created, status, ship-by, SKU, price text, units = 1); only among `order_ids` when given
    (the orders a webhook changed). The two conditions are two index reads (an OR of them
    scanned every order); no GROUP BY, whose sort over text keys cost a second for the orders
    of a viral day (#15): the caller adds up, parsing each distinct price text once. Rows are
    streamed (consume them inside the session's transaction): the ~50,000 lines of two viral
    days held as one list were ~20 MB of a full read's peak."""
    raw = _raw(session)
    marks, values = _marks("s", statuses)
    params: dict[str, object] = {"shop": shop_id, "since": int(since), **values}
    if order_ids is None:
        picked = _PICKED_WINDOW.format(statuses=marks)
        yield from raw.execute(_ORDER_LINES.format(picked=picked), params)
        return
    for cursor in _by_parts(
        raw,
        order_ids,
        "o",
        lambda ids: _ORDER_LINES.format(picked=_PICKED_IDS.format(ids=ids, statuses=marks)),
        params,
    ):
        yield from cursor


def order_rowids(session: Session, order_ids: Sequence[str]) -> list[int]:
    """The rowids of the stored orders among `order_ids` (what `sale_rows` rows carry): an
    order keeps its rowid when it is rewritten, so the rows held for it can be found."""
    cursors = _by_parts(
        _raw(session),
        order_ids,
        "o",
        lambda marks: f"SELECT rowid FROM orders WHERE id IN ({marks})",  # noqa: S608 - marks only
        {},
    )
    return [int(row[0]) for cursor in cursors for row in cursor]
