"""Store throughput: orders upserted per second, webhook transactions per second, query times.

Run: `.venv/bin/python -m tests.benchmarks store`. Prints each figure next to its target; never
fails on a number. Targets come from what feeds the store: the Open API returns at most 100
orders a page and a shop's budget is ~1,000 requests/minute, so a backfill delivers well under
2,000 orders/s; a viral spike brings tens of webhooks per second.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.store import (
    Store,
    current_stock,
    open_store,
    record_alert_levels,
    record_webhook,
    record_webhooks,
    revenue_per_hour,
    sales_events,
    upsert_inventory,
    upsert_orders,
    upsert_products,
    upsert_shop,
)
from app.store.webhooks import DeliveredWebhook
from app.tiktok.models import InventorySearchResult, Order, Product, Shop, parse

SHOP_ID = "7495540735365777507"
START = 1_718_000_000
ORDERS = 100_000
PAGE = 100
WEBHOOKS = 1_000
SKUS = 500
CATALOGUE = 5_000  # SKUs, 5 per product, 2 warehouses each
INVENTORY_BATCH = 5  # SKUs an inventory re-read of one webhook batch typically brings


def _orders(count: int, update_offset: int = 0) -> list[Order]:
    return [
        parse(
            Order,
            {
                "id": str(576_653_688_135_258_178 + n),
                "status": "AWAITING_SHIPMENT",
                "create_time": START + n * 6,
                "update_time": START + n * 6 + update_offset,
                "payment": {"currency": "USD", "total_amount": "25.98"},
                "line_items": [
                    {
                        "id": f"{n}-{k}",
                        "sku_id": f"sku-{(n + k) % SKUS}",
                        "product_id": "p",
                        "sale_price": "12.99",
                    }
                    for k in range(2)
                ],
            },
        )
        for n in range(count)
    ]


def _products(stock: int) -> list[Product]:
    return [
        parse(
            Product,
            {
                "id": f"p{n}",
                "title": f"Product {n}",
                "update_time": START,
                "skus": [
                    {
                        "id": f"p{n}-s{k}",
                        "price": {"currency": "USD", "sale_price": "12.99"},
                        "inventory": [
                            {"warehouse_id": "w1", "quantity": stock + k},
                            {"warehouse_id": "w2", "quantity": 10},
                        ],
                    }
                    for k in range(5)
                ],
            },
        )
        for n in range(CATALOGUE // 5)
    ]


def _catalogue(store: Store) -> None:
    for stock, label in ((100, "first sync"), (100, "unchanged"), (90, "every SKU moved")):
        products = _products(stock)
        started = time.perf_counter()
        for start in range(0, len(products), 20):  # a product page holds up to 100
            with store.write() as session:
                upsert_products(session, SHOP_ID, products[start : start + 20], START)
        seconds = time.perf_counter() - started
        print(f"upsert {CATALOGUE:,} SKUs ({label}): {_rate(CATALOGUE, seconds)}"
              "   target >= 2,000/s")  # fmt: skip
    seconds, stock = _timed(lambda: _query(store, lambda s: current_stock(s, SHOP_ID)))
    print(f"current_stock for {len(stock):,} SKUs: {seconds * 1000:,.0f} ms   target < 200 ms")
    seconds = _inventory(store, available=50)
    print(f"upsert_inventory, {INVENTORY_BATCH} SKUs a transaction, every SKU moved: "
          f"{_rate(CATALOGUE, seconds)}   (CPU; the webhook path's stock write)")  # fmt: skip
    seconds = _inventory(store, available=50)
    print(f"upsert_inventory, {INVENTORY_BATCH} SKUs a transaction, unchanged: "
          f"{_rate(CATALOGUE, seconds)}   (CPU)")  # fmt: skip
    levels = {row.sku_id: ("ok", "") for row in stock}
    for n, sku_id in enumerate(levels):
        if n % 10 == 0:
            levels[sku_id] = ("warning", "running low")
    for label in ("first", "unchanged"):
        started = time.perf_counter()
        with store.write() as session:
            record_alert_levels(session, SHOP_ID, levels, START)
        seconds = time.perf_counter() - started
        print(f"record_alert_levels, {len(levels):,} SKUs ({label}): {seconds * 1000:,.0f} ms"
              "   target < 500 ms")  # fmt: skip


def _inventory(store: Store, available: int) -> float:
    """CPU seconds to store Inventory Search answers for the whole catalogue, a few SKUs per
    transaction as the webhook sink re-reads them; half the SKUs have a creator reservation."""
    sku_ids = [f"p{n}-s{k}" for n in range(CATALOGUE // 5) for k in range(5)]
    answers = [
        parse(
            InventorySearchResult,
            {
                "inventory": [
                    {
                        "product_id": sku_id.split("-")[0],
                        "skus": [
                            {
                                "id": sku_id,
                                "total_available_quantity": available + 10,
                                "warehouse_inventory": [
                                    {"warehouse_id": "w1", "available_quantity": available},
                                    {"warehouse_id": "w2", "available_quantity": 10},
                                ],
                                "total_available_inventory_distribution": {
                                    "in_shop_inventory": {"quantity": available + 10 - n % 2}
                                },
                            }
                        ],
                    }
                    for n, sku_id in enumerate(sku_ids[start : start + INVENTORY_BATCH])
                ]
            },
        )
        for start in range(0, len(sku_ids), INVENTORY_BATCH)
    ]

    def write_all() -> None:
        for answer in answers:
            with store.write() as session:
                upsert_inventory(session, SHOP_ID, answer, START, ref="bench")

    seconds, _ = _timed(write_all)
    return seconds


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def _upsert_all(store: Store, orders: list[Order]) -> float:
    started = time.perf_counter()
    for start in range(0, len(orders), PAGE):
        with store.write() as session:
            upsert_orders(session, SHOP_ID, orders[start : start + PAGE], START)
    return time.perf_counter() - started


def _webhooks(store: Store, prefix: str, per_transaction: int = 1) -> float:
    started = time.perf_counter()
    for first in range(0, WEBHOOKS, per_transaction):
        with store.write() as session:
            for n in range(first, first + per_transaction):
                record_webhook(session, SHOP_ID, f"{n}-0", f"{prefix}{n}", 1, "{}", START + n)
    return time.perf_counter() - started


def _webhook_batches(store: Store, prefix: str, per_transaction: int) -> float:
    """The webhook sink's path: a batch's events in one `record_webhooks` statement."""
    started = time.perf_counter()
    for first in range(0, WEBHOOKS, per_transaction):
        batch = [
            DeliveredWebhook(SHOP_ID, f"{n}-0", f"{prefix}{n}", 1, "{}")
            for n in range(first, first + per_transaction)
        ]
        with store.write() as session:
            record_webhooks(session, batch, START + first)
    return time.perf_counter() - started


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of CPU this process spent (steadier than wall time on a shared machine)."""
    started = time.process_time()
    result = action()
    return time.process_time() - started, result


def main() -> None:
    load = os.getloadavg()[0]
    print(f"(load average {load:.1f} on {os.cpu_count()} cores: rates are wall time and noisy;"
          " query times are CPU time of this process)")  # fmt: skip
    print(f"building {ORDERS:,} orders of 2 line items ...", flush=True)
    orders = _orders(ORDERS)
    with tempfile.TemporaryDirectory(prefix="bench_store_") as folder:
        store = open_store(Path(folder))
        with store.write() as session:
            upsert_shop(session, parse(Shop, {"id": SHOP_ID, "cipher": "c"}), START)
        _catalogue(store)
        seconds = _upsert_all(store, orders)
        print(f"upsert new orders, pages of {PAGE}, synchronous=FULL: {_rate(ORDERS, seconds)}"
              f"  ({seconds:.1f} s)   target >= 2,000/s")  # fmt: skip
        seconds = _upsert_all(store, orders)
        print(f"upsert the same orders again (idempotent): {_rate(ORDERS, seconds)}"
              f"   target >= 2,000/s")  # fmt: skip
        seconds = _upsert_all(store, _orders(ORDERS, update_offset=-1)[:20_000])
        print(f"stale (older update_time) orders skipped: {_rate(20_000, seconds)}")
        end = START + ORDERS * 6
        seconds, events = _timed(
            lambda: _query(store, lambda s: sales_events(s, SHOP_ID, START, end))
        )
        print(f"sales_events, all SKUs, the 7 days of {ORDERS:,} orders ({len(events):,} events): "
              f"{seconds * 1000:,.0f} ms   target < 2,000 ms")  # fmt: skip
        day = (end - 86_400, end)
        seconds, events = _timed(
            lambda: _query(store, lambda s: sales_events(s, SHOP_ID, *day, sku_ids={"sku-1"}))
        )
        print(f"sales_events, one SKU, last 24 h ({len(events)} events): "
              f"{seconds * 1000:,.1f} ms   target < 50 ms")  # fmt: skip
        seconds, hours = _timed(lambda: _query(store, lambda s: revenue_per_hour(s, SHOP_ID, *day)))
        print(f"revenue_per_hour, last 24 h ({len(hours)} hours): {seconds * 1000:,.1f} ms"
              "   target < 200 ms")  # fmt: skip
        seconds = _webhooks(store, "full-")
        print(f"webhook + cursor, one transaction each, FULL: {_rate(WEBHOOKS, seconds)}"
              f"   target >= 100/s (a viral spike is a few orders a second)")  # fmt: skip
        seconds = _webhooks(store, "batch-", per_transaction=20)
        print(f"webhook + cursor, 20 per transaction, FULL: {_rate(WEBHOOKS, seconds)}"
              f"   target >= 1,000/s (replaying a backlog)")  # fmt: skip
        seconds = _webhook_batches(store, "many-", per_transaction=20)
        print(f"webhooks + cursor, 20 per record_webhooks call, FULL: {_rate(WEBHOOKS, seconds)}"
              f"   (the sink's path; compare with the line above)")  # fmt: skip
        store.close()
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        print(f"database size for {ORDERS:,} orders: {size / 1e6:,.1f} MB")
        normal = open_store(Path(folder))
        normal.engine.dispose()
        event.listen(
            normal.engine,
            "connect",
            lambda conn, _record: conn.execute("PRAGMA synchronous = NORMAL"),
        )
        seconds = _webhooks(normal, "normal-")
        print(f"same with synchronous=NORMAL (for comparison only): {_rate(WEBHOOKS, seconds)}")
        normal.close()


def _query(store: Store, action: Callable[[Any], Any]) -> Any:
    with store.read() as session:
        return action(session)


if __name__ == "__main__":
    main()
