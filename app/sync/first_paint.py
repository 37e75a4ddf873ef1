"""The last dashboard on disk, so the next start paints the shop at once (#15).

A year of a viral shop takes seconds to open: the store, the engine and a full insight
recompute stand between the window and its first figures. So the dashboard the seller last saw
is kept beside the database (`first-paint.json`), and the next start paints it the moment the
window is up, before the engine is even imported; the window says when those figures were
computed until the live recompute replaces them (`app.ui.mapping.saved_viewmodel`).

What is kept is what the dashboard page draws: every SKU's insight, the order intelligence,
the order and revenue totals, the stock histories of the SKUs that claim attention first (the
stock chart shows the top one), the hourly orders of the year, and the settings in effect.
The Analytics page's videos and sales windows are not: they come with the live read.

The file is plain JSON (never pickle: reading it must not be able to run anything), written
whole to a temporary file and renamed over the old one, so a crash leaves the old file or the
new one, never half of one. It carries a format name, a version and a fingerprint of the
insight types' fields: after an update that changed them, or when the file is damaged, too
big, too old or from another shop, it is ignored with a log line and the start takes the
normal path. Dataclasses are encoded as lists of their fields in declaration order, driven by
the types themselves (`_codec`), so a field added to `SkuInsight` needs no change here (its
fingerprint changes, and old files are ignored).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import enum
import hashlib
import json
import logging
import os
import time
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.insight.alerts import needing_attention
from app.insight.types import OrderIntelligence, SkuInsight, SkuSettings
from app.sync.dashboard_types import OrderHours, StockSeries

if TYPE_CHECKING:
    from app.sync.dashboard_data import DashboardData
    from app.sync.state import ShopSnapshot

__all__ = [
    "FILENAME",
    "MAX_AGE",
    "VERSION",
    "DashboardSaver",
    "SavedDashboard",
    "decode",
    "encode",
    "load_saved_dashboard",
    "saved_dashboard_path",
    "write_saved_dashboard",
]

log = logging.getLogger(__name__)

FILENAME = "first-paint.json"
FORMAT = "viralstock-first-paint"
VERSION = 1
# Figures older than this are not shown at all: after a day away the seller waits for the
# live ones rather than read yesterday's alerts.
MAX_AGE = 24 * 3600.0
# The stock histories kept: the SKUs that claim attention first (alerts card, stock chart).
HISTORIES = 16
# A file bigger than this is not read (a year of 5,000 SKUs is a few MB).
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SavedDashboard:
    """One shop's dashboard as last computed, with when (`computed_at`, the shop's clock)."""

    shop_id: str
    shop_name: str
    computed_at: float
    skus: tuple[SkuInsight, ...]
    orders: OrderIntelligence | None
    order_count: int = 0
    revenue: Decimal = Decimal(0)
    last_sync: float | None = None
    histories: Mapping[str, StockSeries] = field(default_factory=dict)
    order_hours: OrderHours | None = None
    default_settings: SkuSettings = field(default_factory=SkuSettings)
    sku_settings: Mapping[str, SkuSettings] = field(default_factory=dict)

    @staticmethod
    def of(snap: ShopSnapshot, data: DashboardData) -> SavedDashboard | None:
        """What to keep of a live dashboard: the published snapshot and the store read it was
        drawn with. None before the first recompute (nothing live to keep yet)."""
        if snap.insight_at is None or not snap.skus:
            return None
        first = needing_attention(snap.skus)[:HISTORIES]
        histories = {
            s.sku_id: data.histories[s.sku_id] for s in first if s.sku_id in data.histories
        }
        return SavedDashboard(
            shop_id=snap.shop.id,
            shop_name=snap.shop.name,
            computed_at=snap.insight_at,
            skus=snap.skus,
            orders=snap.orders,
            order_count=snap.order_count,
            revenue=snap.revenue,
            last_sync=snap.metrics.last_sync_at or snap.insight_at,
            histories=histories,
            order_hours=data.order_hours,
            default_settings=data.default_settings,
            sku_settings=dict(data.sku_settings),
        )


def saved_dashboard_path(data_dir: Path) -> Path:
    return data_dir / FILENAME


# --- the codec ---------------------------------------------------------------------------------

Decoder = Callable[[Any], Any]
Encoder = Callable[[Any], Any]


def _array_out(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _array_in(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text, validate=True), dtype="<f8").astype(np.float64)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def _codec(tp: Any) -> tuple[Encoder | None, Decoder | None]:
    """(encode, decode) for a value of type `tp`; None where the JSON value is the value."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp in (int, float, str, bool) or tp is type(None):
        return None, None  # JSON keeps them (a float is written with its point: 5.0)
    if tp is Decimal:
        return str, Decimal
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return (lambda v: v.value), tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_codec(tp)
    if origin is typing.Literal:
        return None, None
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"no codec for {tp!r}")
        enc, dec = _codec(inner[0])
        return _optional(enc), _optional(dec)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            enc, dec = _codec(args[0])
            return _each(enc, list), _each(dec, tuple)
        codecs = [_codec(a) for a in args]
        return _pairwise([e for e, _ in codecs], list), _pairwise([d for _, d in codecs], tuple)
    if origin in (Mapping, dict):
        if args[0] is not str:
            raise TypeError(f"no codec for {tp!r}")
        enc, dec = _codec(args[1])
        return _values(enc), _values(dec)
    raise TypeError(f"no codec for {tp!r}")


def _optional(f: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    if f is None:
        return None
    return lambda v: None if v is None else f(v)


def _each(f: Callable[[Any], Any] | None, into: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if f is None:
        return into
    return lambda v: into([f(x) for x in v])


def _pairwise(
    fs: list[Callable[[Any], Any] | None], into: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    return lambda v: into([f(x) if f else x for f, x in zip(fs, v, strict=True)])


def _values(f: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    if f is None:
        return lambda v: {str(k): x for k, x in v.items()}
    return lambda v: {str(k): f(x) for k, x in v.items()}


_CODECS: dict[type, tuple[Encoder, Decoder]] = {}


def _dataclass_codec(cls: type) -> tuple[Encoder, Decoder]:
    """A dataclass as the list of its fields (declaration order), built from its own types."""
    known = _CODECS.get(cls)
    if known is not None:
        return known
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    parts = [_codec(hints[name]) for name in names]
    encoders = list(zip(names, [e for e, _ in parts], strict=True))
    decoders = [d for _, d in parts]
    if not any(decoders):

        def decode(row: Any) -> Any:
            return cls(*row)
    else:

        def decode(row: Any) -> Any:
            if len(row) != len(decoders):
                raise ValueError(f"{cls.__name__}: {len(row)} fields, expected {len(decoders)}")
            return cls(*[d(x) if d else x for d, x in zip(decoders, row, strict=True)])

    def encode(value: Any) -> Any:
        return [e(getattr(value, n)) if e else getattr(value, n) for n, e in encoders]

    _CODECS[cls] = (encode, decode)
    return encode, decode


def _fingerprint() -> str:
    """Changes whenever a field of the saved types changes (name, type or order)."""
    seen: dict[str, str] = {}

    def walk(cls: type) -> None:
        if cls.__name__ in seen:
            return
        hints = _hints(cls)
        seen[cls.__name__] = ",".join(
            f"{f.name}:{hints[f.name]!r}" for f in dataclasses.fields(cls)
        )
        for f in dataclasses.fields(cls):
            for tp in (hints[f.name], *typing.get_args(hints[f.name])):
                if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                    walk(tp)

    for cls in (SkuInsight, OrderIntelligence, SkuSettings):
        walk(cls)
    text = ";".join(f"{k}={v}" for k, v in sorted(seen.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(saved: SavedDashboard) -> bytes:
    """The file's bytes."""
    sku_enc, _ = _dataclass_codec(SkuInsight)
    orders_enc, _ = _dataclass_codec(OrderIntelligence)
    settings_enc, _ = _dataclass_codec(SkuSettings)
    hours = saved.order_hours
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "layout": _fingerprint(),
        "shop_id": saved.shop_id,
        "shop_name": saved.shop_name,
        "computed_at": saved.computed_at,
        "order_count": saved.order_count,
        "revenue": str(saved.revenue),
        "last_sync": saved.last_sync,
        "orders": None if saved.orders is None else orders_enc(saved.orders),
        "histories": {
            k: [_array_out(s.times), _array_out(s.stock)] for k, s in saved.histories.items()
        },
        "order_hours": (
            None
            if hours is None
            else [
                _array_out(hours.hour_starts),
                _array_out(hours.orders),
                _array_out(hours.revenue),
            ]
        ),
        "default_settings": settings_enc(saved.default_settings),
        "sku_settings": {k: settings_enc(v) for k, v in saved.sku_settings.items()},
    }
    head = _dumps(doc)
    # The SKUs (most of the file) are dumped a block at a time: one `json.dumps` call holds
    # the GIL throughout, and the UI thread must not wait ~50 ms for a whole shop's worth.
    rows = [sku_enc(s) for s in saved.skus]
    blocks = [_dumps(rows[i : i + _ROWS])[1:-1] for i in range(0, len(rows), _ROWS)]
    return (head[:-1] + ',"skus":[' + ",".join(b for b in blocks if b) + "]}").encode()


_ROWS = 500


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))  # inf and NaN too: Python reads them


class NotUsable(ValueError):
    """The file cannot be shown (the reason is the message)."""


def decode(raw: bytes) -> SavedDashboard:
    """The file's bytes back; `NotUsable` (or ValueError, TypeError, KeyError for a damaged
    document) when they are not a dashboard this version can show."""
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NotUsable("not a saved dashboard")
    if doc.get("version") != VERSION or doc.get("layout") != _fingerprint():
        raise NotUsable(f"written by another version (format {doc.get('version')!r})")
    _, sku_dec = _dataclass_codec(SkuInsight)
    _, orders_dec = _dataclass_codec(OrderIntelligence)
    _, settings_dec = _dataclass_codec(SkuSettings)
    hours = doc["order_hours"]
    return SavedDashboard(
        shop_id=str(doc["shop_id"]),
        shop_name=str(doc["shop_name"]),
        computed_at=float(doc["computed_at"]),
        skus=tuple(sku_dec(row) for row in doc["skus"]),
        orders=None if doc["orders"] is None else orders_dec(doc["orders"]),
        order_count=int(doc["order_count"]),
        revenue=Decimal(doc["revenue"]),
        last_sync=None if doc["last_sync"] is None else float(doc["last_sync"]),
        histories={
            str(k): StockSeries(str(k), _array_in(t), _array_in(s))
            for k, (t, s) in doc["histories"].items()
        },
        order_hours=(None if hours is None else OrderHours(*(_array_in(part) for part in hours))),
        default_settings=settings_dec(doc["default_settings"]),
        sku_settings={str(k): settings_dec(v) for k, v in doc["sku_settings"].items()},
    )


# --- the file ----------------------------------------------------------------------------------


def write_saved_dashboard(data_dir: Path, saved: SavedDashboard) -> None:
    """Replace the file atomically (a blocking call: run it off the UI thread)."""
    path = saved_dashboard_path(data_dir)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(encode(saved))
    os.replace(partial, path)


def load_saved_dashboard(
    data_dir: Path, *, now: Callable[[], float] = time.time, database: str = ""
) -> SavedDashboard | None:
    """The dashboard saved in `data_dir`, or None (logged, except a plain absence) when there is
    none to show: missing, damaged, another version's, older than `MAX_AGE`, or the database
    `database` (a file name in `data_dir`) it was computed from is gone."""
    path = saved_dashboard_path(data_dir)
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if database and not (data_dir / database).exists():
        log.info("saved dashboard ignored: its database is gone")
        return None
    try:
        if size > MAX_BYTES:
            raise NotUsable(f"{size:,} bytes, more than a dashboard holds")
        saved = decode(path.read_bytes())
    except (
        OSError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        ArithmeticError,  # decimal's InvalidOperation: a damaged amount
        RecursionError,  # absurdly nested JSON
    ) as exc:
        # The start goes on without it: the live figures come as they always did.
        # The text, not the exception: a kept record must not hold its traceback's frames.
        log.warning("saved dashboard %s ignored (%s: %s)", path.name, type(exc).__name__, str(exc))
        return None
    age = now() - saved.computed_at
    if age > MAX_AGE:
        log.info("saved dashboard ignored: computed %.1f h ago", age / 3600)
        return None
    return saved


class DashboardSaver:
    """Keeps `data_dir`'s saved dashboard close to the live one: the latest live dashboard is
    written at most every `every` seconds (encoding 5,000 SKUs costs ~0.1 s of a thread, so
    not at every recompute) and once more at `close`, so the next start shows what the seller
    saw last. Writes run on `executor` (None: the loop's default), never on the loop."""

    def __init__(
        self,
        data_dir: Path,
        *,
        every: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        executor: Any = None,
    ) -> None:
        self.data_dir = data_dir
        self.every = every
        self._clock = clock
        self._executor = executor
        self._written_at: float | None = None
        self._pending: Callable[[], SavedDashboard | None] | None = None
        self._writing: asyncio.Future[None] | None = None
        self._failed = False
        self.writes = 0

    def offer(self, build: Callable[[], SavedDashboard | None]) -> None:
        """A new live dashboard (`build` makes its `SavedDashboard`, only when it is written)."""
        self._pending = build
        now = self._clock()
        if self._writing is None and (
            self._written_at is None or now - self._written_at >= self.every
        ):
            self._start()

    async def close(self) -> None:
        """Write the latest live dashboard, if not written yet (the session is ending)."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing
        if self._pending is not None:
            self._start()
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing

    def _start(self) -> None:
        build, self._pending = self._pending, None
        if build is None:
            return
        saved = build()
        if saved is None:
            return
        self._written_at = self._clock()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._write, saved)
        self._writing = future
        future.add_done_callback(self._done)

    def _write(self, saved: SavedDashboard) -> None:
        try:
            write_saved_dashboard(self.data_dir, saved)
        except OSError as exc:
            if not self._failed:  # a full disk says so once, not every two minutes
                log.warning("could not save the dashboard for the next start: %s", exc)
            self._failed = True
            return
        self._failed = False
        self.writes += 1

    def _done(self, future: asyncio.Future[None]) -> None:
        if self._writing is future:
            self._writing = None
        if not future.cancelled() and future.exception() is not None:
            log.error("saving the dashboard failed", exc_info=future.exception())
