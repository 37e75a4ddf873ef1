"""Schema versions and forward migrations.

The schema version lives in the database itself (`PRAGMA user_version`, which SQLite changes
inside the same transaction as the DDL, so a step is all or nothing). Each step is a function
that takes a connection inside an open write transaction and brings the schema from version
N-1 to N. Steps are frozen SQL, never `metadata.create_all()`: the ORM models describe the
*current* schema, while a step must keep describing the schema of its own release forever.
`tests/store/test_schema.py` checks that a fresh database and a migrated one both match the
ORM models column for column.

Before the first step runs on an existing database, the file is copied aside with SQLite's
online backup API (`viralstock.sqlite3.v1.bak`), which includes pages still in the WAL.
A database written by a newer ViralStock is refused rather than guessed at.

Writing a future step: SQLite cannot drop or retype a column in place; rebuild the table
(create `new_x`, copy, drop `x`, rename) and remember `PRAGMA foreign_keys` cannot change
inside a transaction, so use `PRAGMA defer_foreign_keys = ON` for the rebuild.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection

__all__ = [
    "CURRENT_VERSION",
    "MIGRATIONS",
    "NotAViralStockDatabaseError",
    "SchemaTooNewError",
    "backup_database",
    "backup_path",
    "check_file",
    "migrate",
]

log = logging.getLogger(__name__)

Step = Callable[[Connection], None]

# --- version 1: catalogue, stock, orders, webhooks, settings ------------------------------------

V1_SQL = """
CREATE TABLE shops (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL DEFAULT '',
    cipher TEXT NOT NULL DEFAULT '',
    seller_type TEXT,
    code TEXT,
    added_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deauthorized_at INTEGER
);
CREATE TABLE products (
    id TEXT NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    title TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    create_time INTEGER,
    update_time INTEGER,
    synced_at INTEGER NOT NULL
);
CREATE INDEX ix_products_shop ON products (shop_id);
CREATE TABLE skus (
    id TEXT NOT NULL PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    seller_sku TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL DEFAULT '',
    sale_price TEXT,
    quantity INTEGER NOT NULL DEFAULT 0,
    synced_at INTEGER NOT NULL
);
CREATE INDEX ix_skus_shop ON skus (shop_id);
CREATE INDEX ix_skus_product ON skus (product_id);
CREATE TABLE warehouse_stock (
    sku_id TEXT NOT NULL REFERENCES skus (id) ON DELETE CASCADE,
    warehouse_id TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    backorder_quantity INTEGER,
    handling_time INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (sku_id, warehouse_id)
);
CREATE TABLE stock_history (
    id INTEGER NOT NULL PRIMARY KEY,
    sku_id TEXT NOT NULL REFERENCES skus (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    delta INTEGER,
    cause TEXT NOT NULL,
    ref TEXT
);
CREATE INDEX ix_stock_history_sku_at ON stock_history (sku_id, at);
CREATE TABLE orders (
    id TEXT NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    paid_time INTEGER,
    currency TEXT NOT NULL DEFAULT '',
    sub_total TEXT,
    shipping_fee TEXT,
    seller_discount TEXT,
    platform_discount TEXT,
    tax TEXT,
    total_amount TEXT,
    fulfillment_type TEXT,
    shipping_type TEXT,
    warehouse_id TEXT,
    tracking_number TEXT,
    rts_sla_time INTEGER,
    tts_sla_time INTEGER,
    cancel_order_sla_time INTEGER,
    cancel_reason TEXT,
    cancellation_initiator TEXT,
    is_on_hold_order INTEGER NOT NULL DEFAULT 0,
    is_sample_order INTEGER NOT NULL DEFAULT 0,
    order_type TEXT,
    first_seen_at INTEGER NOT NULL,
    synced_at INTEGER NOT NULL
);
CREATE INDEX ix_orders_shop_create ON orders (shop_id, create_time);
CREATE INDEX ix_orders_shop_status ON orders (shop_id, status);
CREATE TABLE line_items (
    id TEXT NOT NULL PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    product_name TEXT NOT NULL DEFAULT '',
    sku_name TEXT NOT NULL DEFAULT '',
    seller_sku TEXT NOT NULL DEFAULT '',
    sale_price TEXT NOT NULL,
    original_price TEXT,
    currency TEXT NOT NULL DEFAULT '',
    display_status TEXT,
    package_id TEXT,
    cancel_reason TEXT,
    is_gift INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_line_items_order ON line_items (order_id);
CREATE INDEX ix_line_items_sku ON line_items (sku_id);
CREATE TABLE webhook_events (
    id INTEGER NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    tts_notification_id TEXT NOT NULL UNIQUE,
    cursor TEXT,
    type INTEGER NOT NULL,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX ix_webhook_events_shop ON webhook_events (shop_id, id);
CREATE TABLE relay_cursors (
    shop_id TEXT NOT NULL PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    cursor TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE shop_settings (
    shop_id TEXT NOT NULL PRIMARY KEY REFERENCES shops (id) ON DELETE CASCADE,
    lead_time_days REAL,
    cover_days REAL,
    safety_days REAL,
    critical_hours REAL,
    safety_stock INTEGER,
    pack_size INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE TABLE sku_settings (
    sku_id TEXT NOT NULL PRIMARY KEY REFERENCES skus (id) ON DELETE CASCADE,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    lead_time_days REAL,
    cover_days REAL,
    safety_days REAL,
    critical_hours REAL,
    safety_stock INTEGER,
    pack_size INTEGER,
    incoming_units INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX ix_sku_settings_shop ON sku_settings (shop_id);
"""

# --- version 2: videos and attribution, alerts, API metrics, sync progress ----------------------

V2_SQL = """
CREATE TABLE videos (
    id TEXT NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    title TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL DEFAULT '',
    posted_at INTEGER,
    views INTEGER NOT NULL DEFAULT 0,
    units_sold INTEGER NOT NULL DEFAULT 0,
    sku_orders INTEGER NOT NULL DEFAULT 0,
    gmv TEXT,
    gmv_currency TEXT NOT NULL DEFAULT '',
    click_through_rate TEXT,
    first_seen_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX ix_videos_shop ON videos (shop_id);
CREATE TABLE video_products (
    video_id TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    PRIMARY KEY (video_id, product_id)
);
CREATE INDEX ix_video_products_product ON video_products (product_id);
CREATE TABLE video_views (
    id INTEGER NOT NULL PRIMARY KEY,
    video_id TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    views INTEGER NOT NULL,
    units_sold INTEGER NOT NULL
);
CREATE INDEX ix_video_views_video_at ON video_views (video_id, at);
CREATE TABLE attributions (
    order_id TEXT NOT NULL,
    sku_id TEXT NOT NULL,
    video_id TEXT NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    units INTEGER NOT NULL,
    method TEXT NOT NULL,
    creator_username TEXT,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (order_id, sku_id, video_id)
);
CREATE INDEX ix_attributions_video ON attributions (video_id);
CREATE INDEX ix_attributions_shop ON attributions (shop_id);
CREATE TABLE alert_state (
    sku_id TEXT NOT NULL PRIMARY KEY REFERENCES skus (id) ON DELETE CASCADE,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    level TEXT NOT NULL,
    since INTEGER NOT NULL
);
CREATE TABLE alerts (
    id INTEGER NOT NULL PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    sku_id TEXT NOT NULL REFERENCES skus (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    level TEXT NOT NULL,
    previous_level TEXT NOT NULL,
    escalation INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    notified_at INTEGER
);
CREATE INDEX ix_alerts_shop_at ON alerts (shop_id, at);
CREATE INDEX ix_alerts_unnotified ON alerts (shop_id, id)
    WHERE escalation = 1 AND notified_at IS NULL;
CREATE TABLE api_calls (
    id INTEGER NOT NULL PRIMARY KEY,
    shop_id TEXT,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    http_status INTEGER,
    api_code INTEGER,
    duration_ms REAL NOT NULL,
    priority TEXT NOT NULL DEFAULT 'normal',
    attempt INTEGER NOT NULL DEFAULT 1,
    error_kind TEXT
);
CREATE INDEX ix_api_calls_at ON api_calls (at);
CREATE TABLE sync_state (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    watermark INTEGER,
    last_success_at REAL,
    last_attempt_at REAL,
    last_error_kind TEXT,
    PRIMARY KEY (shop_id, resource)
);
ALTER TABLE orders ADD COLUMN unit_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_events ADD COLUMN processed_at REAL;
CREATE INDEX ix_webhook_events_unprocessed ON webhook_events (shop_id, id)
    WHERE processed_at IS NULL;
"""


def _statements(script: str) -> list[str]:
    """The statements of a DDL script; ours never put a semicolon inside a statement."""
    return [part.strip() for part in script.split(";") if part.strip()]


def _run(conn: Connection, script: str) -> None:
    for statement in _statements(script):
        conn.exec_driver_sql(statement)


def _to_v1(conn: Connection) -> None:
    _run(conn, V1_SQL)


def _to_v2(conn: Connection) -> None:
    _run(conn, V2_SQL)
    # Existing orders get their unit count from their line items (one line item is one unit).
    conn.exec_driver_sql(
        "UPDATE orders SET unit_count = "
        "(SELECT count(*) FROM line_items WHERE line_items.order_id = orders.id)"
    )
    # Webhooks stored by version 1 were applied in the same transaction that stored them.
    conn.exec_driver_sql("UPDATE webhook_events SET processed_at = received_at")


# --- version 3: webhooks whose re-read TikTok refused -------------------------------------------

# `error_kind` is set on a webhook recorded as processed although its re-read failed for good
# (e.g. 21008111 "order does not belong to this seller"): a dead letter, kept out of the way of
# the events after it. A short class name, never exception text.
V3_SQL = """
ALTER TABLE webhook_events ADD COLUMN error_kind TEXT;
CREATE INDEX ix_webhook_events_failed ON webhook_events (shop_id, id)
    WHERE error_kind IS NOT NULL;
"""


def _to_v3(conn: Connection) -> None:
    _run(conn, V3_SQL)


# --- version 4: units reserved for campaigns and creators --------------------------------------

# Inventory Search splits available units into campaign, creator and in-shop inventory; only
# the in-shop part is for sale in the shop, so `skus.quantity` becomes available minus this.
V4_SQL = """
ALTER TABLE skus ADD COLUMN reserved_quantity INTEGER NOT NULL DEFAULT 0;
"""


def _to_v4(conn: Connection) -> None:
    _run(conn, V4_SQL)


# --- version 5: settings and alert levels in insight's names and units --------------------------

# The settings tables take `app.insight.types.SkuSettings` as they are (lead time in hours,
# `days_of_cover`), so no converter sits between the store and insight; `safety_stock` was never
# read (insight's safety stock is `safety_days` of the current rate) and goes. Alert levels are
# insight's `AlertLevel` values: the lowest is "ok" (it was stored as "fine").
V5_SQL = """
ALTER TABLE shop_settings RENAME COLUMN lead_time_days TO lead_time_hours;
UPDATE shop_settings SET lead_time_hours = lead_time_hours * 24 WHERE lead_time_hours IS NOT NULL;
ALTER TABLE shop_settings RENAME COLUMN cover_days TO days_of_cover;
ALTER TABLE shop_settings DROP COLUMN safety_stock;
ALTER TABLE sku_settings RENAME COLUMN lead_time_days TO lead_time_hours;
UPDATE sku_settings SET lead_time_hours = lead_time_hours * 24 WHERE lead_time_hours IS NOT NULL;
ALTER TABLE sku_settings RENAME COLUMN cover_days TO days_of_cover;
ALTER TABLE sku_settings DROP COLUMN safety_stock;
UPDATE alert_state SET level = 'ok' WHERE level = 'fine';
UPDATE alerts SET level = 'ok' WHERE level = 'fine';
UPDATE alerts SET previous_level = 'ok' WHERE previous_level = 'fine';
"""


def _to_v5(conn: Connection) -> None:
    _run(conn, V5_SQL)


# --- version 6: sales per hour, covering indexes for the dashboard's reads (#15) ---------------

# `app/store/hourly.py` maintains the two hourly tables on every order write; the step fills
# them from the orders already stored. The order and line-item indexes gain the columns the
# sales reads need, so those reads never touch the wide rows.
V6_SQL = """
CREATE TABLE sales_hourly (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    hour INTEGER NOT NULL,
    sku_id TEXT NOT NULL,
    currency TEXT NOT NULL DEFAULT '',
    units INTEGER NOT NULL DEFAULT 0,
    revenue_micros INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, hour, sku_id, currency)
);
CREATE INDEX ix_sales_hourly_sku ON sales_hourly (shop_id, sku_id, hour);
CREATE TABLE orders_hourly (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    hour INTEGER NOT NULL,
    currency TEXT NOT NULL DEFAULT '',
    orders INTEGER NOT NULL DEFAULT 0,
    units INTEGER NOT NULL DEFAULT 0,
    revenue_micros INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, hour, currency)
);
DROP INDEX ix_orders_shop_create;
CREATE INDEX ix_orders_shop_create ON orders (shop_id, create_time, status, id);
DROP INDEX ix_line_items_order;
CREATE INDEX ix_line_items_order ON line_items (order_id, sku_id, display_status, sale_price);
"""


def _to_v6(conn: Connection) -> None:
    from app.store.hourly import fill_all  # the maintenance code is the fill's one home

    _run(conn, V6_SQL)
    fill_all(conn)


#: `MIGRATIONS[n - 1]` brings the schema from version n - 1 to n.
MIGRATIONS: tuple[Step, ...] = (_to_v1, _to_v2, _to_v3, _to_v4, _to_v5, _to_v6)
CURRENT_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer ViralStock; opening it could corrupt it."""

    def __init__(self, path: Path, found: int, supported: int) -> None:
        self.path = path
        self.found = found
        self.supported = supported
        super().__init__(
            f"{path} uses schema version {found}, but this ViralStock understands versions up "
            f"to {supported}. Install a newer ViralStock, or start this one with a different "
            f"--data-dir; the database was not changed."
        )


class NotAViralStockDatabaseError(RuntimeError):
    """The file is an SQLite database with tables but no ViralStock schema version."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path} is an SQLite database that ViralStock did not create; refusing to change "
            f"it. Point --data-dir at another folder."
        )


def backup_path(db_path: Path, version: int) -> Path:
    """Where the copy taken before migrating away from `version` goes."""
    return db_path.with_name(f"{db_path.name}.v{version}.bak")


def backup_database(db_path: Path, target: Path) -> None:
    """Copy `db_path` to `target` with the online backup API (WAL content included).

    The copy is written next to the target and renamed into place, so a crash never leaves a
    half-written backup under the final name. The copy is switched to a rollback journal so it
    is one self-contained file.
    """
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(db_path)
    try:
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
    finally:
        source.close()
    os.replace(partial, target)


def _version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())


def _has_tables(conn: Connection) -> bool:
    count = conn.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).scalar_one()
    return int(count) > 0


def check_file(db_path: Path, supported: int = CURRENT_VERSION) -> int | None:
    """The schema version of an existing file, read without changing a byte of it (a
    read-only connection, before any pragma such as WAL is applied); None if there is no file.
    Raises `SchemaTooNewError` or `NotAViralStockDatabaseError`."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return None
    raw = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    try:
        found = int(raw.execute("PRAGMA user_version").fetchone()[0])
        tables = raw.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
    finally:
        raw.close()
    if found > supported:
        raise SchemaTooNewError(db_path, found, supported)
    if found == 0 and tables:
        raise NotAViralStockDatabaseError(db_path)
    return found


def migrate(conn: Connection, db_path: Path, steps: tuple[Step, ...] = MIGRATIONS) -> int:
    """Bring the database behind `conn` to the newest version; return the version found.

    `conn` must not be inside a transaction and should begin with `BEGIN IMMEDIATE`; each
    step runs in its own transaction and re-reads the version inside it, so two processes
    opening the same file at once do not both migrate.
    """
    target = len(steps)
    with conn.begin():
        found = _version(conn)
        foreign = found == 0 and _has_tables(conn)
    if found > target:
        raise SchemaTooNewError(db_path, found, target)
    if foreign:
        raise NotAViralStockDatabaseError(db_path)
    if found == target:
        return found
    if found > 0:
        backup = backup_path(db_path, found)
        log.info("backing up schema version %d to %s before migrating", found, backup)
        backup_database(db_path, backup)
    for number in range(found + 1, target + 1):
        with conn.begin():
            current = _version(conn)
            if current >= number:
                continue
            if current != number - 1:  # pragma: no cover - another process raced past us
                raise RuntimeError(f"schema version moved to {current} during migration")
            steps[number - 1](conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {number:d}")
        log.info("database schema migrated to version %d", number)
    return found
