"""Fixtures for the store tests: a real SQLite file per test (builders live in `factories`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.store import Store, open_store, upsert_shop
from tests.store.factories import NOW, shop


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "data")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def shop_store(store: Store) -> Store:
    """A store that already knows the shop `SHOP_ID`."""
    with store.write() as session:
        upsert_shop(session, shop(), NOW)
    return store
