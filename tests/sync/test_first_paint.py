"""The saved dashboard (app/sync/first_paint.py): what the next start paints first.

It is written from a real insight (the synthetic shop run through app.insight) and read back
as the window would; a missing, damaged, other-version or stale file must give nothing to
show, never an exception, and say why in the log (except a plain absence)."""

from __future__ import annotations

import dataclasses
import json
import logging
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from app.sync.dashboard_data import DashboardData
from app.sync.dashboard_types import OrderHours
from app.sync.first_paint import (
    FILENAME,
    MAX_AGE,
    DashboardSaver,
    SavedDashboard,
    encode,
    load_saved_dashboard,
    write_saved_dashboard,
)
from app.sync.state import ShopRef, ShopSnapshot
from tests.ui import synthetic

SHOP = ShopRef("7495540735365777507", "Glow & Go Store")


def _saved(now: float = synthetic.NOW) -> SavedDashboard:
    vm = synthetic.viewmodel()
    assert vm.orders is not None
    snap = ShopSnapshot(
        shop=SHOP,
        skus=vm.insights,
        orders=vm.orders,
        order_count=1234,
        revenue=Decimal("45678.90"),
        insight_at=now,
        updated_at=now,
    )
    hours = np.arange(now - 48 * 3600, now, 3600.0)
    data = DashboardData(
        histories=vm.histories,
        videos=vm.videos,
        sku_sales=vm.sku_sales,
        default_settings=vm.default_settings,
        sku_settings={vm.insights[0].sku_id: dataclasses.replace(vm.default_settings, pack_size=6)},
        order_hours=OrderHours(hours, np.ones_like(hours) * 3, np.ones_like(hours) * 49.5),
    )
    saved = SavedDashboard.of(snap, data)
    assert saved is not None
    return saved


def _at(saved: SavedDashboard, offset: float = 60.0) -> float:
    return saved.computed_at + offset


def test_a_saved_dashboard_reads_back_as_the_seller_saw_it(tmp_path: Path) -> None:
    saved = _saved()
    write_saved_dashboard(tmp_path, saved)
    back = load_saved_dashboard(tmp_path, now=lambda: _at(saved))
    assert back is not None
    assert back.skus == saved.skus
    # What the alert rows say, word for word (headline, reorder sum), and the order figures.
    assert [s.headline for s in back.skus] == [s.headline for s in saved.skus]
    assert [s.reorder.explanation for s in back.skus] == [s.reorder.explanation for s in saved.skus]
    assert back.orders == saved.orders
    assert (back.order_count, back.revenue) == (1234, Decimal("45678.90"))
    assert back.default_settings == saved.default_settings
    assert back.sku_settings == saved.sku_settings
    # The stock chart's SKUs (those claiming attention first) keep their history exactly.
    assert saved.histories and back.histories.keys() == saved.histories.keys()
    for sku_id, series in saved.histories.items():
        assert np.array_equal(back.histories[sku_id].times, series.times)
        assert np.array_equal(back.histories[sku_id].stock, series.stock)
    assert back.order_hours is not None and saved.order_hours is not None
    assert np.array_equal(back.order_hours.revenue, saved.order_hours.revenue)
    assert not list(tmp_path.glob("*.partial"))


def test_nothing_to_save_before_the_first_recompute() -> None:
    data = DashboardData({}, (), (), synthetic.SETTINGS, {})
    assert SavedDashboard.of(ShopSnapshot(shop=SHOP), data) is None


def test_no_file_is_no_dashboard_and_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.sync.first_paint"):
        assert load_saved_dashboard(tmp_path) is None
    assert not caplog.records


def _damaged(raw: bytes) -> list[tuple[str, bytes]]:
    doc = json.loads(raw)
    short_row = json.loads(raw)
    short_row["skus"][0] = short_row["skus"][0][:-3]
    bad_level = json.loads(raw)
    bad_level["skus"][0][6] = "panic"  # not an AlertLevel
    bad_money = json.loads(raw)
    bad_money["revenue"] = "12,50 €"  # not a Decimal: decimal raises InvalidOperation
    return [
        ("cut in half", raw[: len(raw) // 2]),
        ("not JSON", b"\x00\xff garbage"),
        ("a JSON list", b"[1, 2, 3]"),
        ("a SKU row short of fields", json.dumps(short_row).encode()),
        ("an unknown alert level", json.dumps(bad_level).encode()),
        ("an amount that is no number", json.dumps(bad_money).encode()),
        ("JSON nested beyond reason", b"[" * 100_000 + b"]" * 100_000),
        ("no SKUs", json.dumps({k: v for k, v in doc.items() if k != "skus"}).encode()),
    ]


def test_a_damaged_file_is_ignored_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    saved = _saved()
    raw = encode(saved)
    for what, text in _damaged(raw):
        (tmp_path / FILENAME).write_bytes(text)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="app.sync.first_paint"):
            assert load_saved_dashboard(tmp_path, now=lambda: _at(saved)) is None, what
        assert any("saved dashboard" in r.getMessage() for r in caplog.records), what


def test_another_versions_file_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An update that changed the saved types (or the format's version) must not misread an
    old file: its fields would land in the wrong places."""
    saved = _saved()
    doc = json.loads(encode(saved))
    for key, value in (("version", 0), ("layout", "0123456789abcdef")):
        (tmp_path / FILENAME).write_text(json.dumps({**doc, key: value}))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="app.sync.first_paint"):
            assert load_saved_dashboard(tmp_path, now=lambda: _at(saved)) is None, key
        assert any("another version" in r.getMessage() for r in caplog.records), key
    # The same document with its own version and layout is read: the check is not blanket.
    (tmp_path / FILENAME).write_text(json.dumps(doc))
    assert load_saved_dashboard(tmp_path, now=lambda: _at(saved)) is not None


def test_figures_older_than_a_day_are_not_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    saved = _saved()
    write_saved_dashboard(tmp_path, saved)
    assert load_saved_dashboard(tmp_path, now=lambda: _at(saved, MAX_AGE - 60)) is not None
    with caplog.at_level(logging.INFO, logger="app.sync.first_paint"):
        assert load_saved_dashboard(tmp_path, now=lambda: _at(saved, MAX_AGE + 60)) is None
    assert any("ago" in r.getMessage() for r in caplog.records)


async def test_the_saver_writes_now_then_at_most_every_interval_and_at_close(
    tmp_path: Path,
) -> None:
    clock = [1000.0]
    saver = DashboardSaver(tmp_path, every=120.0, clock=lambda: clock[0])
    first, second, third = (_saved(synthetic.NOW + k) for k in (0, 30, 60))

    def read() -> SavedDashboard:
        found = load_saved_dashboard(tmp_path, now=lambda: synthetic.NOW + 120)
        assert found is not None
        return found

    saver.offer(lambda: first)
    await saver.close()  # waits for the write in flight; nothing newer is pending
    assert saver.writes == 1 and read().computed_at == first.computed_at
    clock[0] += 30
    built: list[float] = []

    def build_second() -> SavedDashboard:
        built.append(second.computed_at)
        return second

    saver.offer(build_second)  # within the interval: kept, not written (nor even built)
    assert saver.writes == 1 and not built
    clock[0] += 100
    saver.offer(lambda: third)  # past the interval: written, the newest one
    await saver.close()
    assert saver.writes == 2 and read().computed_at == third.computed_at and not built
    clock[0] += 10
    saver.offer(lambda: second)  # the session ends before the interval: written at close
    await saver.close()
    assert saver.writes == 3 and read().computed_at == second.computed_at


async def test_a_full_disk_does_not_stop_the_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "no-such-folder"  # writing there fails as a full disk would: OSError
    saver = DashboardSaver(gone, every=0.0)
    with caplog.at_level(logging.WARNING, logger="app.sync.first_paint"):
        saver.offer(_saved)
        await saver.close()
        saver.offer(_saved)
        await saver.close()
    assert saver.writes == 0
    said = [r for r in caplog.records if "could not save the dashboard" in r.getMessage()]
    assert len(said) == 1  # once, not at every attempt
