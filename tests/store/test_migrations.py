"""Forward migration from an older schema, the backup taken first, and refusing newer files."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from app.insight.types import AlertLevel
from app.store import (
    CURRENT_VERSION,
    SchemaTooNewError,
    alert_levels,
    get_cursor,
    get_settings,
    incoming_units,
    open_store,
    order_status_counts,
    record_webhook,
    sales_events,
    shop_settings,
    stock_history,
)
from app.store.db import make_engine, migrate_engine
from app.store.migrations import MIGRATIONS, backup_path
from app.tiktok.models import OrderStatus
from tests.store.factories import NOW, SHOP_ID
from tests.store.test_schema import describe

# The schema of ViralStock's first release, written out by hand and frozen here: if someone
# edits version 1 in migrations.py, databases created by that release no longer migrate.
V1_SCHEMA = """
CREATE TABLE shops (id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL DEFAULT '', cipher TEXT NOT NULL DEFAULT '', seller_type TEXT,
    code TEXT, added_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deauthorized_at INTEGER);
CREATE TABLE products (id TEXT NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    title TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT '', create_time INTEGER,
    update_time INTEGER, synced_at INTEGER NOT NULL);
CREATE INDEX ix_products_shop ON products (shop_id);
CREATE TABLE skus (id TEXT NOT NULL PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    seller_sku TEXT NOT NULL DEFAULT '', currency TEXT NOT NULL DEFAULT '', sale_price TEXT,
    quantity INTEGER NOT NULL DEFAULT 0, synced_at INTEGER NOT NULL);
CREATE INDEX ix_skus_shop ON skus (shop_id);
CREATE INDEX ix_skus_product ON skus (product_id);
CREATE TABLE warehouse_stock (sku_id TEXT NOT NULL REFERENCES skus (id) ON DELETE CASCADE,
    warehouse_id TEXT NOT NULL, quantity INTEGER NOT NULL, backorder_quantity INTEGER,
    handling_time INTEGER, updated_at INTEGER NOT NULL, PRIMARY KEY (sku_id, warehouse_id));
CREATE TABLE stock_history (id INTEGER NOT NULL PRIMARY KEY,
    sku_id TEXT NOT NULL REFERENCES skus (id) ON DELETE CASCADE, at INTEGER NOT NULL,
    quantity INTEGER NOT NULL, delta INTEGER, cause TEXT NOT NULL, ref TEXT);
CREATE INDEX ix_stock_history_sku_at ON stock_history (sku_id, at);
CREATE TABLE orders (id TEXT NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE, status TEXT NOT NULL,
    create_time INTEGER NOT NULL, update_time INTEGER NOT NULL, paid_time INTEGER,
    currency TEXT NOT NULL DEFAULT '', sub_total TEXT, shipping_fee TEXT, seller_discount TEXT,
    platform_discount TEXT, tax TEXT, total_amount TEXT, fulfillment_type TEXT,
    shipping_type TEXT, warehouse_id TEXT, tracking_number TEXT, rts_sla_time INTEGER,
    tts_sla_time INTEGER, cancel_order_sla_time INTEGER, cancel_reason TEXT,
    cancellation_initiator TEXT, is_on_hold_order INTEGER NOT NULL DEFAULT 0,
    is_sample_order INTEGER NOT NULL DEFAULT 0, order_type TEXT,
    first_seen_at INTEGER NOT NULL, synced_at INTEGER NOT NULL);
CREATE INDEX ix_orders_shop_create ON orders (shop_id, create_time);
CREATE INDEX ix_orders_shop_status ON orders (shop_id, status);
CREATE TABLE line_items (id TEXT NOT NULL PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE, sku_id TEXT NOT NULL,
    product_id TEXT NOT NULL, product_name TEXT NOT NULL DEFAULT '',
    sku_name TEXT NOT NULL DEFAULT '', seller_sku TEXT NOT NULL DEFAULT '',
    sale_price TEXT NOT NULL, original_price TEXT, currency TEXT NOT NULL DEFAULT '',
    display_status TEXT, package_id TEXT, cancel_reason TEXT,
    is_gift INTEGER NOT NULL DEFAULT 0);
CREATE INDEX ix_line_items_order ON line_items (order_id);
CREATE INDEX ix_line_items_sku ON line_items (sku_id);
CREATE TABLE webhook_events (id INTEGER NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    tts_notification_id TEXT NOT NULL UNIQUE, cursor TEXT, type INTEGER NOT NULL,
    payload TEXT NOT NULL, received_at REAL NOT NULL);
CREATE INDEX ix_webhook_events_shop ON webhook_events (shop_id, id);
CREATE TABLE relay_cursors (
    shop_id TEXT NOT NULL PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    cursor TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE shop_settings (
    shop_id TEXT NOT NULL PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    lead_time_days REAL, cover_days REAL, safety_days REAL, critical_hours REAL,
    safety_stock INTEGER, pack_size INTEGER, updated_at INTEGER NOT NULL);
CREATE TABLE sku_settings (
    sku_id TEXT NOT NULL PRIMARY KEY REFERENCES skus (id) ON DELETE CASCADE,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    lead_time_days REAL, cover_days REAL, safety_days REAL, critical_hours REAL,
    safety_stock INTEGER, pack_size INTEGER, incoming_units INTEGER,
    updated_at INTEGER NOT NULL);
CREATE INDEX ix_sku_settings_shop ON sku_settings (shop_id);
PRAGMA user_version = 1;
"""

BIG_ORDER = "576653688135258178123"  # wider than 64 bits

V1_DATA = f"""
INSERT INTO shops (id, name, region, cipher, added_at, updated_at)
    VALUES ('{SHOP_ID}', 'Glow Lab', 'US', 'ROW_abc', {NOW}, {NOW});
INSERT INTO products (id, shop_id, title, status, update_time, synced_at)
    VALUES ('p-1', '{SHOP_ID}', 'Serum', 'ACTIVATE', {NOW}, {NOW});
INSERT INTO skus (id, product_id, shop_id, seller_sku, currency, sale_price, quantity, synced_at)
    VALUES ('sku-1', 'p-1', '{SHOP_ID}', 'SS-1', 'USD', '12.99', 40, {NOW});
INSERT INTO warehouse_stock (sku_id, warehouse_id, quantity, updated_at)
    VALUES ('sku-1', 'w-1', 40, {NOW});
INSERT INTO stock_history (sku_id, at, quantity, delta, cause)
    VALUES ('sku-1', {NOW - 60}, 42, NULL, 'sync'), ('sku-1', {NOW}, 40, -2, 'sync');
INSERT INTO orders (id, shop_id, status, create_time, update_time, currency, total_amount,
        first_seen_at, synced_at)
    VALUES ('{BIG_ORDER}', '{SHOP_ID}', 'AWAITING_SHIPMENT', {NOW}, {NOW}, 'USD', '25.98',
        {NOW}, {NOW});
INSERT INTO line_items (id, order_id, sku_id, product_id, sale_price, currency)
    VALUES ('li-1', '{BIG_ORDER}', 'sku-1', 'p-1', '12.99', 'USD'),
           ('li-2', '{BIG_ORDER}', 'sku-1', 'p-1', '12.99', 'USD');
INSERT INTO webhook_events (shop_id, tts_notification_id, cursor, type, payload, received_at)
    VALUES ('{SHOP_ID}', 'n-1', '17-0', 1, '{{"type":1}}', {NOW}.25);
INSERT INTO relay_cursors (shop_id, cursor, updated_at) VALUES ('{SHOP_ID}', '17-0', {NOW}.25);
INSERT INTO shop_settings (shop_id, lead_time_days, cover_days, safety_stock, updated_at)
    VALUES ('{SHOP_ID}', 10, 21, 5, {NOW});
INSERT INTO sku_settings (sku_id, shop_id, lead_time_days, pack_size, incoming_units, updated_at)
    VALUES ('sku-1', '{SHOP_ID}', 2.5, 12, 30, {NOW});
"""  # noqa: S608 - test constants only


def make_v1(path: Path, *, keep_open: bool = False) -> sqlite3.Connection | None:
    """A version-1 database in WAL mode; with `keep_open`, the data stays in the WAL only."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA wal_autocheckpoint = 0")
    raw.executescript("BEGIN;" + V1_SCHEMA + V1_DATA + "COMMIT;")
    if keep_open:
        return raw
    raw.close()
    return None


def test_v1_is_what_the_first_step_builds(tmp_path: Path) -> None:
    by_hand = tmp_path / "hand.sqlite3"
    raw = sqlite3.connect(by_hand)
    raw.executescript(V1_SCHEMA)
    raw.close()
    first_only = tmp_path / "first.sqlite3"
    engine = make_engine(first_only)
    migrate_engine(engine, first_only, MIGRATIONS[:1])
    engine.dispose()
    assert describe(first_only) == describe(by_hand)


def test_migrates_v1_forward_keeping_data_and_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "viralstock.sqlite3"
    writer = make_v1(path, keep_open=True)  # committed data still only in the -wal file
    assert writer is not None
    try:
        assert Path(str(path) + "-wal").stat().st_size > 0
        store = open_store(tmp_path)
    finally:
        writer.close()
    try:
        backup = backup_path(path, 1)
        assert backup.name == "viralstock.sqlite3.v1.bak"
        old = sqlite3.connect(backup)
        try:
            assert old.execute("PRAGMA user_version").fetchone()[0] == 1
            assert old.execute("SELECT count(*) FROM line_items").fetchone()[0] == 2
            assert old.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        finally:
            old.close()
        assert describe(path) == describe(_fresh(tmp_path))
        with store.read() as session:
            assert session.execute(text("PRAGMA user_version")).scalar() == CURRENT_VERSION
            assert get_cursor(session, SHOP_ID) == "17-0"
            assert [p.quantity for p in stock_history(session, "sku-1")] == [42, 40]
            events = sales_events(session, SHOP_ID, NOW, NOW + 1)
            assert [(e.order_id, e.units, e.revenue) for e in events] == [
                (BIG_ORDER, 2, Decimal("25.98"))
            ]
            assert order_status_counts(session, SHOP_ID)[OrderStatus.AWAITING_SHIPMENT] == 1
            # Step 2 backfilled the new column from the line items.
            assert session.execute(text("SELECT unit_count FROM orders")).scalar() == 2
            assert session.execute(
                text("SELECT processed_at FROM webhook_events")
            ).scalar() == pytest.approx(NOW + 0.25)
            # Step 5: lead times the seller typed in days are the same lead times in hours.
            shop = shop_settings(session, SHOP_ID)
            assert (shop.lead_time_hours, shop.days_of_cover) == (240, 21)
            sku = get_settings(session, SHOP_ID, "sku-1")
            assert (sku.lead_time_hours, sku.pack_size, sku.days_of_cover) == (60, 12, 21)
            assert incoming_units(session, SHOP_ID) == {"sku-1": 30}
        with store.write() as session:  # the migrated file is fully usable
            assert not record_webhook(session, SHOP_ID, "18-0", "n-1", 1, "{}", NOW + 1)
            assert record_webhook(session, SHOP_ID, "19-0", "n-2", 1, "{}", NOW + 2)
    finally:
        store.close()


def _fresh(tmp_path: Path) -> Path:
    fresh = open_store(tmp_path / "fresh")
    fresh.close()
    return fresh.path


def test_current_database_is_not_backed_up_again(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    open_store(tmp_path).close()
    assert not list(tmp_path.glob("*.bak"))


def test_refuses_a_newer_schema_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "viralstock.sqlite3"
    open_store(tmp_path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {CURRENT_VERSION + 3}")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError) as caught:
        open_store(tmp_path)
    message = str(caught.value)
    assert f"schema version {CURRENT_VERSION + 3}" in message
    assert f"up to {CURRENT_VERSION}" in message
    assert "newer ViralStock" in message and "--data-dir" in message
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.bak"))


def test_a_failing_step_rolls_back_and_keeps_the_old_version(tmp_path: Path) -> None:
    make_v1(tmp_path / "viralstock.sqlite3")

    def broken(conn: Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("step failed")

    path = tmp_path / "viralstock.sqlite3"
    engine = make_engine(path)
    with pytest.raises(RuntimeError, match="step failed"):
        migrate_engine(engine, path, (MIGRATIONS[0], broken))
    engine.dispose()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in names
    finally:
        raw.close()
    # The real code then migrates it fine.
    open_store(tmp_path).close()


def test_v5_keeps_alert_levels_in_insights_values(tmp_path: Path) -> None:
    """A SKU the previous release stored as "fine" is insight's OK after the upgrade, so the
    first recompute does not see a change of level (and announce nothing new)."""
    path = tmp_path / "viralstock.sqlite3"
    make_v1(path)
    engine = make_engine(path)
    migrate_engine(engine, path, MIGRATIONS[:4])
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO alert_state (sku_id, shop_id, level, since) "  # noqa: S608
            f"VALUES ('sku-1', '{SHOP_ID}', 'fine', {NOW})"
        )
    engine.dispose()
    store = open_store(tmp_path)
    try:
        with store.read() as session:
            assert alert_levels(session, SHOP_ID) == {"sku-1": AlertLevel.OK}
    finally:
        store.close()
