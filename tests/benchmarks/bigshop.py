"""A big shop in a real store file, for the benchmarks of issue #15.

    python -m tests.benchmarks.bigshop [ORDERS]      # build (or reuse) and print the path

The default shop is the issue's: 1,000,000 orders over 365 days (peaks of about 20,000 a day
while a video is viral; the biggest wave peaks 36 hours before the shop's "now", so the app
opens in the middle of a viral storm), 5,000 SKUs, 200 videos with view samples. The side-by-side figures
use the same generator at 100,000 orders (same days, SKUs and videos).

Everything is written through the store's own write functions, as sync would write it:
`upsert_shop`, `upsert_products` (catalogue and first stock), `upsert_orders` with parsed
`Order` models (one line item per unit), `upsert_inventory` with parsed Inventory Search
answers (the stock after each hour's sales and restocks: one `stock_history` row per SKU and
hour in which it moved) and `upsert_videos` (a view sample every 3 hours of a video's life).
No SQL of its own, so the file holds exactly what the app would.

Built once under the cache folder (`VIRALSTOCK_BENCH_CACHE`, default `~/.cache/viralstock-
bench`) and reused; the file name carries the parameters and the generator version. Times are
relative to `built_at` (stored beside the file); `working_copy` copies the file for a run
and moves every stored time forward so the shop's last hour is the wall clock's (the app
reads "now" from the wall clock on a real shop).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 2
SHOP_ID = "7495540735365777507"
SHOP_NAME = "Big Benchmark Shop"
HOUR = 3600
DAY = 86_400


@dataclass(frozen=True)
class ShopSpec:
    orders: int = 1_000_000
    days: int = 365
    skus: int = 5_000
    videos: int = 200
    peak_per_day: int = 20_000
    seed: int = 15

    @property
    def name(self) -> str:
        return (
            f"shop-v{GENERATOR_VERSION}-o{self.orders}-d{self.days}-s{self.skus}"
            f"-v{self.videos}-p{self.peak_per_day}-r{self.seed}"
        )

    def scaled(self, orders: int) -> ShopSpec:
        """The same shop with fewer orders (peaks scale with it)."""
        return ShopSpec(
            orders=orders,
            days=self.days,
            skus=self.skus,
            videos=self.videos,
            peak_per_day=max(1, self.peak_per_day * orders // self.orders),
            seed=self.seed,
        )


BIG = ShopSpec()
SMALL = BIG.scaled(100_000)


def cache_dir() -> Path:
    folder = os.environ.get("VIRALSTOCK_BENCH_CACHE")
    return Path(folder) if folder else Path.home() / ".cache" / "viralstock-bench"


# --- the shape of the year -------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Every order's creation time, SKU indexes per unit, and the videos' viral waves."""

    start: int
    order_time: np.ndarray  # int64, sorted
    order_units: np.ndarray  # int64, 1..3 units (line items) per order
    unit_sku: np.ndarray  # int64, one SKU index per unit, grouped by order
    video_peak: np.ndarray  # float64, when each video's views grow fastest (epoch s)
    video_scale: np.ndarray  # float64, each video's final views
    video_products: list[list[int]]  # product indexes each video links to


def _plan(spec: ShopSpec, end: int) -> Plan:
    rng = np.random.default_rng(spec.seed)
    hours = spec.days * 24
    start = end - hours * HOUR
    t = np.arange(hours, dtype=np.float64)
    # Steady demand: a day/night cycle, a weekly cycle and a slow seasonal drift.
    daily = 1.0 + 0.8 * np.sin(2 * np.pi * ((t % 24) - 9) / 24)
    weekly = 1.0 + 0.15 * np.sin(2 * np.pi * t / (24 * 7))
    season = 1.0 + 0.3 * np.sin(2 * np.pi * t / hours)
    steady = daily * weekly * season
    products = max(1, spec.skus // 4)
    # Viral waves: a few videos take off (one of them the year's peak); each wave sells its
    # linked products only.
    video_peak = start + rng.uniform(0.05, 0.98, spec.videos) * hours * HOUR
    video_scale = rng.lognormal(12.0, 1.2, spec.videos)
    video_products = [
        sorted({int(p) for p in rng.integers(0, products, int(rng.integers(1, 4)))})
        for _ in range(spec.videos)
    ]
    viral = np.argsort(-video_scale)[: max(1, spec.videos // 20)]
    # The year's biggest wave is the one the seller opens the app in: it peaks 36 hours before
    # "now", so the recent history that insight reads holds the peak (the worst case).
    video_peak[viral[0]] = end - 36 * HOUR
    waves = np.zeros((len(viral), hours))
    for row, v in enumerate(viral):
        centre = (video_peak[v] - start) / HOUR
        width = rng.uniform(18, 60)
        waves[row] = np.exp(-0.5 * ((t - centre) / width) ** 2) * (1.0 if row == 0 else 0.35)
    # Scale: total orders = spec.orders, and the peak day reaches about peak_per_day.
    mean_per_hour = spec.orders / hours
    base = steady / steady.mean()
    viral_share = 0.25
    wave_sum = waves.sum(axis=0)
    rate = (1 - viral_share) * mean_per_hour * base
    if wave_sum.sum() > 0:
        rate_viral = viral_share * spec.orders * waves / wave_sum.sum()
    else:
        rate_viral = np.zeros_like(waves)
    per_day = (rate + rate_viral.sum(axis=0)).reshape(spec.days, 24).sum(axis=1)
    peak_boost = spec.peak_per_day / max(per_day.max(), 1.0)
    if peak_boost > 1:  # lift the biggest wave until its day is the peak asked for
        top = rate_viral[0].reshape(spec.days, 24).sum(axis=1).argmax()
        need = spec.peak_per_day - per_day[top]
        rate_viral[0] *= 1 + need / max(rate_viral[0].reshape(spec.days, 24)[top].sum(), 1.0)
        rate *= (spec.orders - rate_viral.sum()) / rate.sum()
    counts = rng.poisson(np.maximum(rate, 0))
    viral_counts = rng.poisson(np.maximum(rate_viral, 0))
    # Adjust to the exact total, on the steady part.
    total = int(counts.sum() + viral_counts.sum())
    diff = spec.orders - total
    if diff:
        picks = rng.choice(hours, abs(diff), p=base / base.sum())
        np.add.at(counts, picks, 1 if diff > 0 else -1)
        counts = np.maximum(counts, 0)
        short = spec.orders - int(counts.sum() + viral_counts.sum())
        counts[int(np.argmax(counts))] += short
    popularity = 1.0 / np.arange(1, spec.skus + 1) ** 0.9
    popularity = rng.permutation(popularity / popularity.sum())
    times: list[np.ndarray] = []
    first_sku: list[np.ndarray] = []
    for hour in range(hours):
        n = int(counts[hour])
        if n:
            times.append(start + hour * HOUR + np.sort(rng.integers(0, HOUR, n)))
            first_sku.append(rng.choice(spec.skus, n, p=popularity))
        for row, v in enumerate(viral):
            m = int(viral_counts[row, hour])
            if not m:
                continue
            prods = np.array(video_products[v])
            sku = prods[rng.integers(0, len(prods), m)] * 4 + rng.integers(0, 4, m)
            times.append(start + hour * HOUR + np.sort(rng.integers(0, HOUR, m)))
            first_sku.append(np.minimum(sku, spec.skus - 1))
    order_time = np.concatenate(times).astype(np.int64)
    skus = np.concatenate(first_sku).astype(np.int64)
    order = np.argsort(order_time, kind="stable")
    order_time, skus = order_time[order], skus[order]
    units = rng.choice([1, 2, 3], len(order_time), p=[0.72, 0.23, 0.05]).astype(np.int64)
    unit_sku = np.repeat(skus, units)
    # Extra units of an order are mostly the same SKU, sometimes a neighbour.
    offsets = np.concatenate([[0], np.cumsum(units)[:-1]])
    extra = np.ones(len(unit_sku), dtype=bool)
    extra[offsets] = False
    other = rng.random(len(unit_sku)) < 0.3
    unit_sku = np.where(extra & other, (unit_sku + 1) % spec.skus, unit_sku)
    return Plan(start, order_time, units, unit_sku, video_peak, video_scale, video_products)


# --- writing it through the store ------------------------------------------------------------


def _price(sku: int) -> str:
    return f"{4.99 + (sku * 37 % 900) / 20:.2f}"


def _status(created: int, end: int, n: int) -> tuple[str, int | None]:
    age = end - created
    if n % 33 == 0:
        return "CANCELLED", None
    if age < 6 * HOUR:
        return ("UNPAID", None) if n % 9 == 0 else ("AWAITING_SHIPMENT", created + 60)
    if age < 2 * DAY:
        return "AWAITING_SHIPMENT" if n % 3 else "IN_TRANSIT", created + 60
    if age < 7 * DAY:
        return "IN_TRANSIT" if n % 2 else "DELIVERED", created + 60
    return "COMPLETED", created + 60


def build(spec: ShopSpec, path: Path, *, end: int | None = None, progress: bool = True) -> int:
    """Write `spec`'s shop into a new store at `path`; returns the shop's "now" (epoch s)."""
    from app.store import open_store, upsert_orders, upsert_products, upsert_shop
    from app.store.catalog import upsert_inventory
    from app.store.videos import upsert_videos
    from app.tiktok.models import (
        InventorySearchResult,
        Order,
        Product,
        Shop,
        VideoPerformance,
        parse,
    )

    end = int(end if end is not None else time.time()) // HOUR * HOUR
    plan = _plan(spec, end)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = open_store(path=path)
    started = time.perf_counter()
    products = max(1, spec.skus // 4)
    rng = np.random.default_rng(spec.seed + 1)
    stock = rng.integers(200, 3000, spec.skus).astype(np.int64)
    restock_to = stock.copy()
    with store.write() as session:
        upsert_shop(session, Shop(id=SHOP_ID, name=SHOP_NAME, region="US", cipher="c"), plan.start)
        catalogue = [
            parse(
                Product,
                {
                    "id": f"{1729_000_000_000 + p}",
                    "title": f"Product {p:04d}",
                    "status": "ACTIVATE",
                    "create_time": plan.start,
                    "update_time": plan.start,
                    "skus": [
                        {
                            "id": f"{1730_000_000_000 + s}",
                            "seller_sku": f"VS-{s:05d}",
                            "price": {"currency": "USD", "sale_price": _price(s)},
                            "inventory": [{"warehouse_id": "7000", "quantity": int(stock[s])}],
                        }
                        for s in range(p * 4, min(spec.skus, p * 4 + 4))
                    ],
                },
            )
            for p in range(products)
        ]
        upsert_products(session, SHOP_ID, catalogue, plan.start)
    sku_ids = [f"{1730_000_000_000 + s}" for s in range(spec.skus)]
    product_of = [f"{1729_000_000_000 + s // 4}" for s in range(spec.skus)]
    unit_end = np.cumsum(plan.order_units)
    unit_start = unit_end - plan.order_units
    hour_of = (plan.order_time - plan.start) // HOUR
    bounds = np.searchsorted(hour_of, np.arange(spec.days * 24 + 1))
    video_ids = [f"{7_300_000_000_000_000_000 + v}" for v in range(spec.videos)]
    posted = plan.video_peak - 2 * DAY
    video_life = 30 * DAY
    written = 0
    for hour in range(spec.days * 24):
        lo, hi = int(bounds[hour]), int(bounds[hour + 1])
        at = plan.start + (hour + 1) * HOUR
        if hi > lo:
            batch = []
            for n in range(lo, hi):
                created = int(plan.order_time[n])
                status, paid = _status(created, end, n)
                skus = plan.unit_sku[unit_start[n] : unit_end[n]]
                items = [
                    {
                        "id": f"{5_770_000_000_000_000 + int(unit_start[n]) + k}",
                        "sku_id": sku_ids[s],
                        "product_id": product_of[s],
                        "product_name": f"Product {s // 4:04d}",
                        "sku_name": f"Variant {s % 4}",
                        "seller_sku": f"VS-{s:05d}",
                        "sale_price": _price(int(s)),
                        "currency": "USD",
                    }
                    for k, s in enumerate(skus.tolist())
                ]
                total = sum(float(_price(int(s))) for s in skus)
                batch.append(
                    parse(
                        Order,
                        {
                            "id": f"{576_000_000_000_000_000 + n}",
                            "status": status,
                            "create_time": created,
                            "update_time": min(end, created + 120),
                            "paid_time": paid,
                            "payment": {"currency": "USD", "total_amount": f"{total:.2f}"},
                            "rts_sla_time": created + 2 * DAY,
                            "line_items": items,
                        },
                    )
                )
            sold = np.bincount(
                plan.unit_sku[unit_start[lo] : unit_end[hi - 1]], minlength=spec.skus
            )
            stock -= sold
            low = stock < restock_to // 5
            stock[low] += restock_to[low]
            stock = np.maximum(stock, 0)
            moved = np.flatnonzero((sold > 0) | low)
            inventory = parse(
                InventorySearchResult,
                {
                    "inventory": [
                        {
                            "product_id": product_of[s],
                            "skus": [
                                {
                                    "id": sku_ids[s],
                                    "total_available_quantity": int(stock[s]),
                                    "warehouse_inventory": [
                                        {
                                            "warehouse_id": "7000",
                                            "available_quantity": int(stock[s]),
                                        }
                                    ],
                                }
                            ],
                        }
                        for s in moved.tolist()
                    ]
                },
            )
            with store.write() as session:
                upsert_orders(session, SHOP_ID, batch, at)
                upsert_inventory(session, SHOP_ID, inventory, at)
            written += len(batch)
        if hour % 3 == 2:
            live = [v for v in range(spec.videos) if posted[v] <= at <= posted[v] + video_life]
            if live:
                videos = []
                for v in live:
                    shape = 1.0 / (1.0 + np.exp(-(at - plan.video_peak[v]) / (8 * HOUR)))
                    views = int(plan.video_scale[v] * shape)
                    videos.append(
                        parse(
                            VideoPerformance,
                            {
                                "id": video_ids[v],
                                "title": f"Video {v:03d}",
                                "username": f"creator{v % 40}",
                                "views": views,
                                "units_sold": views // 500,
                                "sku_orders": views // 600,
                                "gmv": {"amount": f"{views / 50:.2f}", "currency": "USD"},
                                "products": [
                                    {"id": f"{1729_000_000_000 + p}"}
                                    for p in plan.video_products[v]
                                ],
                                "video_post_time": str(int(posted[v])),
                            },
                        )
                    )
                with store.write() as session:
                    upsert_videos(session, SHOP_ID, videos, at)
        if progress and hour % (24 * 7) == 0 and hour:
            elapsed = time.perf_counter() - started
            left = elapsed / max(written, 1) * (spec.orders - written)
            print(
                f"  {written:,}/{spec.orders:,} orders, {elapsed:.0f} s, ~{left:.0f} s left",
                file=sys.stderr,
                flush=True,
            )
    store.close()
    # One self-contained file: fold the WAL back in.
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.execute("ANALYZE")
    raw.close()
    return end


def ensure(spec: ShopSpec = BIG) -> tuple[Path, int]:
    """The cached store file of `spec` (built on first use) and the "now" it was built at."""
    folder = cache_dir()
    path = folder / f"{spec.name}.sqlite3"
    meta = folder / f"{spec.name}.json"
    if path.exists() and meta.exists():
        _upgrade(path)
        return path, int(json.loads(meta.read_text())["end"])
    partial = folder / f"{spec.name}.partial.sqlite3"
    started = time.perf_counter()
    print(f"building {spec.name} (once; cached in {folder}) ...", file=sys.stderr, flush=True)
    end = build(spec, partial)
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    os.replace(partial, path)
    seconds = time.perf_counter() - started
    meta.write_text(json.dumps({"end": end, "spec": asdict(spec), "build_seconds": seconds}))
    print(f"built {path} in {seconds:.0f} s", file=sys.stderr, flush=True)
    return path, end


def _upgrade(path: Path) -> None:
    """Migrate a cached file written by an older schema in place (once), as the app would at
    its first start after an update; the figure is printed (a real upgrade's cost)."""
    from app.store import open_store
    from app.store.migrations import CURRENT_VERSION, backup_path

    raw = sqlite3.connect(path)
    found = int(raw.execute("PRAGMA user_version").fetchone()[0])
    found = _renumber_branch_v5(raw, found)
    raw.close()
    if found >= CURRENT_VERSION:
        return
    started = time.perf_counter()
    open_store(path=path).close()
    backup_path(path, found).unlink(missing_ok=True)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.execute("ANALYZE")
    raw.close()
    print(
        f"migrated {path.name} from schema {found} to {CURRENT_VERSION} in "
        f"{time.perf_counter() - started:.1f} s (backup included)",
        file=sys.stderr,
        flush=True,
    )


def _renumber_branch_v5(raw: sqlite3.Connection, found: int) -> int:
    """A file cached by #15's branch, whose schema 5 was the hourly tables (main numbers them
    6, after #13's settings step 5): run main's step 5 on it and call it 6, as it then is.
    Returns the version the file is at."""
    from app.store.migrations import V5_SQL

    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = {row[1] for row in raw.execute("PRAGMA table_info(shop_settings)")}
    if found != 5 or "sales_hourly" not in tables or "lead_time_days" not in columns:
        return found
    with raw:
        raw.executescript("BEGIN;" + V5_SQL + "PRAGMA user_version = 6; COMMIT;")
    print("renumbered a branch-v5 cache file to schema 6", file=sys.stderr, flush=True)
    return 6


# Every stored epoch-second column a working copy moves forward (table, columns).
_TIMES = (
    ("shops", ("added_at", "updated_at")),
    ("products", ("create_time", "update_time", "synced_at")),
    ("skus", ("synced_at",)),
    ("warehouse_stock", ("updated_at",)),
    ("stock_history", ("at",)),
    ("orders", ("create_time", "update_time", "paid_time", "rts_sla_time", "first_seen_at")),
    ("orders", ("synced_at",)),
    ("videos", ("posted_at", "first_seen_at", "updated_at")),
    ("video_views", ("at",)),
)


def working_copy(spec: ShopSpec, folder: Path, *, cache: Path | None = None) -> tuple[Path, int]:
    """A copy of the cached shop in `folder` (as the app's data folder) whose times end now.

    `cache` names another cache folder whose file is copied as it is (no migration): the
    baseline tree's shop for a before/after run. Returns the database path and the shift
    applied (seconds, a whole number of hours)."""
    from app.store.db import DB_FILENAME

    if cache is None:
        source, end = ensure(spec)
    else:
        source = cache / f"{spec.name}.sqlite3"
        end = int(json.loads((cache / f"{spec.name}.json").read_text())["end"])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / DB_FILENAME
    shutil.copyfile(source, target)
    shift = (int(time.time()) // HOUR * HOUR) - end
    if shift:
        raw = sqlite3.connect(target)
        with raw:
            for table, columns in _TIMES:
                sets = ", ".join(f"{c} = {c} + {shift:d}" for c in columns)
                raw.execute(f"UPDATE {table} SET {sets}")  # noqa: S608 - our own names
            for table in _shifted_extra_tables(raw):
                # `hour` is in the primary key: move through negative values so no two rows
                # ever collide half way.
                raw.execute(f"UPDATE {table} SET hour = -(hour + {shift:d})")  # noqa: S608
                raw.execute(f"UPDATE {table} SET hour = -hour")  # noqa: S608
        raw.close()
    return target, shift


def _shifted_extra_tables(raw: sqlite3.Connection) -> list[str]:
    """Tables of newer schema versions that also hold epoch hours (see app/store/hourly.py)."""
    names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return [name for name in ("sales_hourly", "orders_hourly") if name in names]


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else BIG.orders
    path, end = ensure(BIG.scaled(orders) if orders != BIG.orders else BIG)
    print(path, end)


if __name__ == "__main__":
    main()
