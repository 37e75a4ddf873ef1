"""Settings with shop defaults and SKU overrides, API call metrics and sync progress."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from app.insight.types import SkuSettings
from app.store import (
    BUILT_IN,
    ApiCall,
    Store,
    api_call_stats,
    get_settings,
    get_sync_progress,
    get_watermark,
    incoming_units,
    prune_api_calls,
    record_api_calls,
    record_sync_attempt,
    save_settings,
    set_shop_settings,
    set_sku_settings,
    set_watermark,
    shop_settings,
    sku_settings_for_shop,
    upsert_products,
)
from tests.store.factories import NOW, SHOP_ID, product


def test_settings_fall_back_sku_to_shop_to_built_in(shop_store: Store) -> None:
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"a": {"w": 1}, "b": {"w": 1}})], NOW)
    with shop_store.read() as session:
        assert get_settings(session, SHOP_ID, "a") == BUILT_IN
    with shop_store.write() as session:
        set_shop_settings(session, SHOP_ID, NOW, lead_time_hours=240, pack_size=12)
        set_shop_settings(session, SHOP_ID, NOW, critical_hours=12.5)  # others kept
        set_sku_settings(session, SHOP_ID, "a", NOW, pack_size=50, incoming_units=200)
    with shop_store.read() as session:
        shop = shop_settings(session, SHOP_ID)
        a = get_settings(session, SHOP_ID, "a")
        b = get_settings(session, SHOP_ID, "b")
        base, overrides = sku_settings_for_shop(session, SHOP_ID)
        incoming = incoming_units(session, SHOP_ID)
    assert (shop.lead_time_hours, shop.pack_size, shop.critical_hours) == (240, 12, 12.5)
    assert (a.lead_time_hours, a.pack_size) == (240, 50)
    assert (b.pack_size, b.days_of_cover) == (12, BUILT_IN.days_of_cover)
    assert incoming == {"a": 200}
    assert base == shop and overrides == {"a": a}
    with shop_store.write() as session:
        set_sku_settings(session, SHOP_ID, "a", NOW, pack_size=None)  # back to the shop's
        set_shop_settings(session, SHOP_ID, NOW, lead_time_hours=None)  # back to built-in
    with shop_store.read() as session:
        a = get_settings(session, SHOP_ID, "a")
        incoming = incoming_units(session, SHOP_ID)
    assert (a.pack_size, a.lead_time_hours) == (12, BUILT_IN.lead_time_hours)
    assert incoming == {"a": 200}


def test_saved_settings_are_what_insight_reads_back(shop_store: Store) -> None:
    """The Apply button stores insight's value as it is: what comes back is equal, no rounding
    through another unit on the way."""
    chosen = SkuSettings(
        lead_time_hours=61.5, pack_size=12, days_of_cover=9.5, safety_days=1.5, critical_hours=7
    )
    with shop_store.write() as session:
        upsert_products(session, SHOP_ID, [product("p", {"a": {"w": 1}})], NOW)
        save_settings(session, SHOP_ID, NOW, chosen)
        save_settings(session, SHOP_ID, NOW, replace(chosen, pack_size=6), sku_id="a")
    with shop_store.read() as session:
        assert shop_settings(session, SHOP_ID) == chosen
        assert get_settings(session, SHOP_ID, "a") == replace(chosen, pack_size=6)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"pack_size": 0}, ValueError),
        ({"lead_time_hours": -1}, ValueError),
        ({"pack_size": 2.5}, TypeError),
        ({"colour": 1}, ValueError),
        ({"incoming_units": 5}, ValueError),  # per SKU only
    ],
)
def test_bad_shop_settings_are_refused(
    shop_store: Store, values: dict[str, object], error: type
) -> None:
    with pytest.raises(error), shop_store.write() as session:
        set_shop_settings(session, SHOP_ID, NOW, **values)  # type: ignore[arg-type]


def test_api_metrics(shop_store: Store) -> None:
    calls = [
        ApiCall(NOW + 1, "POST", "/order/202309/orders/search?app_key=k&sign=abc", 120.0, 200, 0,
                SHOP_ID),
        ApiCall(NOW + 2, "GET", "/product/202309/products/1", 80.0, 429, None, SHOP_ID,
                error_kind="http_429"),
        ApiCall(NOW + 3, "GET", "/product/202309/products/2", 40.0, 200, 36009002, SHOP_ID,
                attempt=2),
        ApiCall(NOW + 4, "GET", "/authorization/202309/shops", 20.0, None, None,
                error_kind="timeout"),
    ]  # fmt: skip
    with shop_store.write() as session:
        assert record_api_calls(session, calls) == 4
    with shop_store.read() as session:
        stats = api_call_stats(session, NOW)
        shop_only = api_call_stats(session, NOW, SHOP_ID)
        later = api_call_stats(session, NOW + 3)
        paths = [p for (p,) in session.execute(text("SELECT path FROM api_calls"))]
    assert (stats.calls, stats.ok, stats.failed, stats.rate_limited) == (4, 1, 3, 2)
    assert stats.mean_ms == pytest.approx(65.0) and stats.max_ms == 120.0
    assert stats.success_rate == pytest.approx(0.25)
    assert shop_only.calls == 3
    assert later.calls == 2
    assert all("?" not in path and "sign" not in path for path in paths)
    with shop_store.write() as session:
        assert prune_api_calls(session, NOW + 3) == 2
    with shop_store.read() as session:
        assert api_call_stats(session, 0).calls == 2
        assert api_call_stats(session, NOW + 100).success_rate is None


def test_sync_progress(shop_store: Store) -> None:
    with shop_store.write() as session:
        set_watermark(session, SHOP_ID, "orders", NOW, NOW + 1.5)
        set_watermark(session, SHOP_ID, "orders", NOW - 500, NOW + 2.5)  # never backwards
        record_sync_attempt(session, SHOP_ID, "products", NOW + 3, "timeout")
    with shop_store.read() as session:
        progress = get_sync_progress(session, SHOP_ID)
    assert progress["orders"].watermark == NOW
    assert progress["orders"].last_success_at == NOW + 2.5
    assert progress["products"].watermark is None
    assert progress["products"].last_error_kind == "timeout"
    assert progress["products"].last_success_at is None
    with shop_store.write() as session:
        record_sync_attempt(session, SHOP_ID, "products", NOW + 4, None)
        set_watermark(session, SHOP_ID, "orders", NOW + 900, NOW + 5)
    with shop_store.read() as session:
        progress = get_sync_progress(session, SHOP_ID)
    assert progress["products"].last_success_at == NOW + 4
    assert progress["products"].last_error_kind is None
    assert progress["orders"].watermark == NOW + 900
    with shop_store.read() as session:
        assert get_watermark(session, SHOP_ID, "orders") == NOW + 900
        assert get_watermark(session, SHOP_ID, "videos") is None
