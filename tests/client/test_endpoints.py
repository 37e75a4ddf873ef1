"""Every endpoint the sandbox serves, over real HTTP, with typed results."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from app.tiktok.errors import ApiError
from app.tiktok.models import Order, OrderPage, Product
from tests.client.conftest import connect_own_app, sandbox_requests

pytestmark = pytest.mark.timeout(30)


async def test_orders_all_pages_and_detail_batches(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        first = await client.search_orders_page(conn.shop, page_size=10)
        total = first.total_count
        assert total > 0
        orders = [order async for order in client.iter_orders(conn.shop, page_size=7)]
        assert len(orders) == total
        assert len({order.id for order in orders}) == total
        assert all(isinstance(order, Order) for order in orders)
        # filters travel in the body and are applied by the sandbox
        newest = max(order.create_time for order in orders)
        recent = [
            order
            async for order in client.iter_orders(
                conn.shop, filters={"create_time_ge": newest}, sort_field="update_time"
            )
        ]
        assert recent and all(order.create_time >= newest for order in recent)

        ids = [order.id for order in orders]
        wanted = (ids * (1 + 120 // len(ids)))[:120]  # duplicates are dropped
        before = sandbox_requests(sandbox)
        detail = await client.get_orders(conn.shop, list(reversed(wanted)))
        calls = sandbox_requests(sandbox) - before
        unique = list(dict.fromkeys(reversed(wanted)))
        assert [order.id for order in detail] == unique
        assert calls == -(-len(unique) // 50)  # ceil: batches of at most 50, comma-joined


async def test_products_inventory_and_per_item_errors(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        products = [p async for p in client.iter_products(conn.shop, page_size=5)]
        assert len(products) == 12 and all(isinstance(p, Product) for p in products)
        product = await client.get_product(conn.shop, products[0].id)
        assert product.id == products[0].id and product.skus

        found = await client.search_inventory(conn.shop, product_ids=[product.id])
        assert [entry.product_id for entry in found.inventory] == [product.id]
        sku = found.inventory[0].skus[0]
        by_sku = await client.search_inventory(conn.shop, sku_ids=[sku.id])
        assert by_sku.inventory[0].skus[0].total_available_quantity == (
            sku.total_available_quantity
        )


async def test_videos_affiliates_and_shops(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        assert conn.shop.cipher and conn.shop.id
        videos = [
            v
            async for v in client.iter_video_performance(
                conn.shop, start_date_ge="2025-12-01", end_date_lt="2026-02-01", page_size=2
            )
        ]
        assert all(v.id for v in videos)
        affiliate = [o async for o in client.iter_affiliate_orders(conn.shop, page_size=5)]
        assert all(order.id for order in affiliate)

        with pytest.raises(ApiError) as caught:
            await client.get_orders(conn.shop, ["1"])
        assert caught.value.code == 21008111 and caught.value.request_id


async def test_metrics_snapshot(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        for _ in range(5):
            await client.search_orders_page(conn.shop, page_size=5)
        snap = client.snapshot()
    assert snap.attempts >= 6 and snap.calls >= 6
    assert snap.avg_latency_ms is not None and snap.p95_latency_ms is not None
    assert snap.p95_latency_ms >= snap.avg_latency_ms * 0.5
    assert snap.error_rate == 0.0 and snap.success_rate == 1.0
    assert 0.0 < snap.budget_utilisation < 1.0
    assert snap.queue_depth == {"high": 0, "normal": 0, "low": 0}


async def test_exact_bytes_signed_non_ascii_body_and_list_query(sandbox: Any) -> None:
    """The sandbox checks the HMAC over the bytes it received: a body with non-ASCII text
    (sent as raw UTF-8, not \\u escapes) and a comma-joined list both have to match."""
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        page = await client.search_orders_page(
            conn.shop, filters={"buyer_user_id": "Zoë-🛍", "order_status": None}
        )
        assert page.total_count == 0  # accepted (signature good), nobody matches
        orders = [order async for order in client.iter_orders(conn.shop, page_size=3)][:3]
        data, request_id = await client.call(
            "GET",
            "/order/202309/orders",
            OrderPage,
            shop=conn.shop,
            query={"ids": tuple(order.id for order in orders)},
        )
        assert [order.id for order in data.orders] == [order.id for order in orders]
        assert request_id


async def _by_hand(fetch_page: Any, pick: str, **options: Any) -> tuple[list[str], int]:
    """Items and page count, walking `next_page_token` one `*_page` call at a time."""
    ids: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = await fetch_page(page_token=token, **options)
        pages += 1
        ids += [item.id for item in getattr(page, pick)]
        token = page.next_page_token or None
        if not token:
            return ids, pages


async def test_every_iterator_walks_the_same_pages_as_by_hand(sandbox: Any) -> None:
    """The shared pagination helper behind all `iter_*`: same items, same order, every page."""
    conn = await connect_own_app(sandbox)
    shop = conn.shop
    async with conn.client as client:
        dates = {"start_date_ge": "2025-12-01", "end_date_lt": "2026-02-01"}
        cases: list[tuple[Any, Any, str, dict[str, Any]]] = [
            (client.search_orders_page, client.iter_orders, "orders", {"page_size": 7}),
            (client.search_products_page, client.iter_products, "products", {"page_size": 5}),
            (
                client.video_performance_page,
                client.iter_video_performance,
                "videos",
                {**dates, "page_size": 2},
            ),
            (
                client.affiliate_orders_page,
                client.iter_affiliate_orders,
                "orders",
                {"page_size": 5},
            ),
        ]
        for fetch_page, iterate, pick, options in cases:
            expected, pages = await _by_hand(partial(fetch_page, shop), pick, **options)
            before = sandbox_requests(sandbox)
            got = [item.id async for item in iterate(shop, **options)]
            assert got == expected, iterate.__name__
            assert sandbox_requests(sandbox) - before == pages, iterate.__name__
        order_pages = [p async for p in client.iter_order_pages(shop, page_size=7)]
        expected, pages = await _by_hand(
            partial(client.search_orders_page, shop), "orders", page_size=7
        )
        assert (
            len(order_pages) == pages and [o.id for p in order_pages for o in p.orders] == expected
        )
        assert pages > 1  # really more than one page
