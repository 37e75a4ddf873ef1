"""The ORM models and the migrated schema describe the same tables; nothing secret is stored."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from app.store import Store
from app.store.migrations import CURRENT_VERSION
from app.store.schema import Base

# A column name containing one of these could only hold a credential. The shop `cipher` is
# allowed on purpose: TikTok returns it with the shop list and it only routes a call that
# still needs the access token (tiktok-shop-api.md 2.3), like the shop id does.
FORBIDDEN = re.compile(r"token|secret|sign|passw|credential|api_?key|app_?key", re.IGNORECASE)


def describe(path: Path) -> dict[str, object]:
    """Tables with (name, type, notnull, default, pk) per column, plus index definitions."""
    raw = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        shape: dict[str, object] = {
            table: [row[1:] for row in raw.execute(f"PRAGMA table_info({table})")]
            for table in tables
        }
        shape["<indexes>"] = sorted(
            (name, tbl, " ".join((sql or "").split()))
            for name, tbl, sql in raw.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"
            )
        )
        shape["<version>"] = raw.execute("PRAGMA user_version").fetchone()[0]
        return shape
    finally:
        raw.close()


def test_orm_matches_the_migrated_schema(store: Store) -> None:
    shape = describe(store.path)
    assert shape.pop("<version>") == CURRENT_VERSION
    indexes = shape.pop("<indexes>")
    assert set(shape) == set(Base.metadata.tables)
    for name, table in Base.metadata.tables.items():
        columns = {row[0]: row for row in shape[name]}  # type: ignore[attr-defined]
        assert set(columns) == {column.name for column in table.columns}, name
        for column in table.columns:
            _name, _type, notnull, _default, pk = columns[column.name]
            assert bool(pk) == column.primary_key, (name, column.name)
            if not column.primary_key:
                assert bool(notnull) == (not column.nullable), (name, column.name)
    named = {index[0] for index in indexes if not index[0].startswith("sqlite_autoindex")}  # type: ignore[attr-defined]
    orm_indexes = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    assert named == orm_indexes


def test_no_column_can_hold_a_secret(store: Store) -> None:
    shape = describe(store.path)
    offenders = [
        f"{table}.{row[0]}"
        for table, rows in shape.items()
        if not table.startswith("<")
        for row in rows  # type: ignore[attr-defined]
        if FORBIDDEN.search(row[0]) or FORBIDDEN.search(table)
    ]
    assert offenders == []
    assert FORBIDDEN.search("access_token") and FORBIDDEN.search("sign")  # the check can fail
