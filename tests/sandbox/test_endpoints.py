"""The business endpoints: paging, filters, detail limits, stock, packages, analytics."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from app.sandbox import RunningSandbox
from tests.sandbox.helpers import Api, assert_refused, find_nulls

SEARCH = "/order/202309/orders/search"
HOUR = 3_600


def _all_orders(api: Api, query: dict[str, str], body: Any = None) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    token = ""
    while True:
        params = dict(query)
        if token:
            params["page_token"] = token
        data = api.ok("POST", SEARCH, params, body)
        orders.extend(data["orders"])
        token = data["next_page_token"]
        if not token:
            assert len(orders) == data["total_count"]
            return orders


def test_order_search_pages_through_everything_once(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.clock.advance(12 * HOUR)
    orders = _all_orders(api, {"page_size": "7"})
    assert len(orders) > 20
    ids = [o["id"] for o in orders]
    assert len(set(ids)) == len(ids)
    times = [o["create_time"] for o in orders]
    assert times == sorted(times, reverse=True)  # create_time DESC by default
    assert find_nulls(orders) == []
    truth = sandbox.truth()
    assert truth["orders"]["count"] == len(orders)


def test_combined_listing_orders_name_the_skus_that_ship(api: Api, sandbox: RunningSandbox) -> None:
    """Some orders come as one combined-listing line item whose combined_listing_skus (sku_id,
    sku_count, product_id, seller_sku) are the world's units, and whose price is theirs."""
    sandbox.clock.advance(12 * HOUR)
    orders = _all_orders(api, {"page_size": "100"})
    combined = [o for o in orders if any("combined_listing_skus" in i for i in o["line_items"])]
    assert combined, "the sandbox sells some bundles"
    for data in combined:
        world = sandbox.world.orders[data["id"]]
        (item,) = data["line_items"]
        shipped = {p["sku_id"]: p["sku_count"] for p in item["combined_listing_skus"]}
        expected: dict[str, int] = {}
        for unit in world.line_items:
            expected[unit.sku_id] = expected.get(unit.sku_id, 0) + 1
        assert shipped == expected
        assert item["sku_id"] not in shipped
        assert Decimal(item["sale_price"]) == sum(u.sale_price for u in world.line_items)


def test_order_search_filters_and_sort(api: Api, sandbox: RunningSandbox) -> None:
    start = int(sandbox.clock.now())
    sandbox.clock.advance(12 * HOUR)
    everything = _all_orders(api, {"page_size": "100"})
    window = {"create_time_ge": start + 3 * HOUR, "create_time_lt": start + 6 * HOUR}
    windowed = _all_orders(api, {"page_size": "100"}, window)
    assert windowed
    inside = [
        o["id"] for o in everything if start + 3 * HOUR <= o["create_time"] < start + 6 * HOUR
    ]
    assert [o["id"] for o in windowed] == inside  # newest first, as the whole list
    oldest_first = _all_orders(
        api, {"page_size": "7", "sort_field": "create_time", "sort_order": "ASC"}, window
    )
    assert [o["id"] for o in oldest_first] == inside[::-1]
    assert _all_orders(api, {"page_size": "10"}, {"create_time_ge": start + 99 * HOUR}) == []
    by_update = _all_orders(
        api,
        {"page_size": "50", "sort_field": "update_time", "sort_order": "ASC"},
        {"update_time_ge": start},
    )
    updates = [o["update_time"] for o in by_update]
    assert updates == sorted(updates)
    awaiting = _all_orders(api, {"page_size": "100"}, {"order_status": "AWAITING_SHIPMENT"})
    assert awaiting and all(o["status"] == "AWAITING_SHIPMENT" for o in awaiting)
    assert all("recipient_address" in o and o["packages"] for o in awaiting)
    unpaid = [o for o in everything if o["status"] in ("UNPAID", "ON_HOLD")]
    assert all("recipient_address" not in o for o in unpaid)
    assert_refused(
        api.call("POST", SEARCH, {"page_size": "10"}, {"order_status": "CANCEL"}), 400, 36009004
    )
    assert_refused(api.call("POST", SEARCH, {"page_size": "10", "sort_field": "id"}), 400, 36009004)
    assert_refused(
        api.call("POST", SEARCH, {"page_size": "10", "page_token": "garbage!"}), 400, 36009004
    )


def test_order_detail_limits_and_ownership(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.clock.advance(24 * HOUR)
    orders = _all_orders(api, {"page_size": "100"})
    ids = [o["id"] for o in orders[:50]]
    for version in ("202309", "202507"):
        data = api.ok("GET", f"/order/{version}/orders", {"ids": ",".join(ids)})
        assert [o["id"] for o in data["orders"]] == ids
        assert data["orders"][0] == orders[0]
    too_many = ",".join([o["id"] for o in orders[:51]])
    assert len(orders) > 50
    assert_refused(api.call("GET", "/order/202309/orders", {"ids": too_many}), 400, 36009004, "50")
    response = api.call("GET", "/order/202309/orders", {"ids": "5764999999999999999"})
    assert response.status_code == 200
    assert response.json()["code"] == 21008111 and response.json()["data"] is None
    line = orders[0]["line_items"][0]
    assert {"id", "sku_id", "product_id", "sale_price", "seller_sku"} <= set(line)
    assert "quantity" not in line  # one unit per line item


def test_products_search_and_detail(api: Api, sandbox: RunningSandbox) -> None:
    for version in ("202309", "202502"):
        path = f"/product/{version}/products/search"
        first = api.ok("POST", path, {"page_size": "30"})
        second = api.ok("POST", path, {"page_size": "30", "page_token": first["next_page_token"]})
        assert first["total_count"] == 40
        assert len(first["products"]) + len(second["products"]) == 40
        assert second["next_page_token"] == ""
    product = first["products"][0]
    sku = product["skus"][0]
    assert set(sku) == {"id", "seller_sku", "price", "inventory"}
    detail = api.ok("GET", f"/product/202309/products/{product['id']}")
    assert detail["id"] == product["id"] and detail["skus"][0]["id"] == sku["id"]
    found = api.ok(
        "POST", "/product/202502/products/search", {"page_size": "10"}, {"sku_ids": [sku["id"]]}
    )
    assert [p["id"] for p in found["products"]] == [product["id"]]
    response = api.call("GET", "/product/202309/products/1729000000000000000")
    assert response.json()["code"] == 12052048


def _inventory(api: Api, sku_id: str) -> dict[str, Any]:
    data = api.ok("POST", "/product/202309/inventory/search", None, {"sku_ids": [sku_id]})
    skus: dict[str, Any] = data["inventory"][0]["skus"][0]
    return skus


def test_inventory_search_reports_campaign_and_creator_allocations(
    api: Api, sandbox: RunningSandbox
) -> None:
    """Available = campaign + creator + in shop (the Inventory Search spec's example: 100 =
    30 + 20 + 50); the truth's available is the in-shop part, what shoppers can buy."""
    truth = {s["sku_id"]: s for s in sandbox.truth()["skus"]}
    reserved = [sku_id for sku_id, s in truth.items() if s["reserved"] > 0]
    assert reserved, "the sandbox allocates units of every fifth SKU"
    for sku_id in reserved[:3]:
        stock = _inventory(api, sku_id)
        dist = stock["total_available_inventory_distribution"]
        allocated = sum(
            p["quantity"] for p in dist["campaign_inventory"] + dist["creator_inventory"]
        )
        assert allocated == truth[sku_id]["reserved"]
        assert (
            stock["total_available_quantity"] == allocated + dist["in_shop_inventory"]["quantity"]
        )
        assert dist["in_shop_inventory"]["quantity"] == truth[sku_id]["available"]


def test_video_analytics_and_affiliate_attribution(make_sandbox: Any, client: Any) -> None:
    from tests.sandbox.helpers import get_token

    with make_sandbox(scenario="viral") as sandbox:
        api = Api(sandbox, client, get_token(sandbox, client)["access_token"])
        sandbox.clock.advance(6 * HOUR)
        videos = api.ok(
            "GET",
            "/analytics/202409/shop_videos/performance",
            {
                "start_date_ge": "2026-01-05",
                "end_date_lt": "2026-01-06",
                "page_size": "10",
                "sort_field": "views",
            },
        )
        top = videos["videos"][0]
        assert top["views"] > 500_000 and top["units_sold"] > 20
        assert {
            "id",
            "gmv",
            "sku_orders",
            "units_sold",
            "views",
            "products",
            "video_post_time",
        } <= set(top)
        assert videos["latest_available_date"] == "2026-01-05"
        # A datetime string, as TikTok's example ("2025-01-01 00:00:00"), not epoch digits.
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", top["video_post_time"])
        truth_views = {v["video_id"]: v["views"] for v in sandbox.truth()["videos"]}
        assert truth_views[top["id"]] >= top["views"]
        assert_refused(
            api.call(
                "GET",
                "/analytics/202409/shop_videos/performance",
                {"start_date_ge": "05/01/2026", "end_date_lt": "2026-01-06", "page_size": "10"},
            ),
            400,
            36009004,
        )
        affiliate: list[dict[str, Any]] = []
        query = {"page_size": "100"}
        while True:
            page = api.ok(
                "POST", "/affiliate_seller/202410/orders/search", query, {"create_time_ge": 0}
            )
            affiliate.extend(page["orders"])
            if not page["next_page_token"]:
                break
            query["page_token"] = page["next_page_token"]
        assert len(affiliate) == page["total_count"]
        viral_skus = [s for o in affiliate for s in o["skus"] if s.get("content_id") == top["id"]]
        assert len(viral_skus) > 20
        assert all(s["content_type"] == "VIDEO" for s in viral_skus)
        assert sum(s["quantity"] for s in viral_skus) >= top["units_sold"]  # cancelled too
        # The 202410 spec lists no sku_id on affiliate SKUs: product, content and counts only.
        assert all("sku_id" not in s and s["product_id"] for o in affiliate for s in o["skus"])


def test_no_endpoint_sends_a_null(make_sandbox: Any, client: Any) -> None:
    from tests.sandbox.helpers import get_token

    with make_sandbox(scenario="viral") as sandbox:
        api = Api(sandbox, client, get_token(sandbox, client)["access_token"])
        sandbox.clock.advance(3 * 86_400)
        answers = [
            api.ok("POST", SEARCH, {"page_size": "100"}),
            api.ok("POST", "/product/202502/products/search", {"page_size": "100"}),
            api.ok("POST", "/product/202309/inventory/search", None, {}),
            api.ok("GET", "/logistics/202309/warehouses"),
            api.ok(
                "GET",
                "/analytics/202409/shop_videos/performance",
                {"start_date_ge": "2026-01-01", "end_date_lt": "2026-01-09", "page_size": "100"},
            ),
            api.ok("POST", "/affiliate_seller/202410/orders/search", {"page_size": "100"}),
        ]
        # A few packages, shipped and not (each a detail read: the shop's QPS is limited).
        orders = answers[0]["orders"]
        picked = [o for o in orders if o["status"] == "AWAITING_SHIPMENT"][:1]
        picked += [o for o in orders if o["status"] in ("IN_TRANSIT", "DELIVERED", "COMPLETED")][:2]
        package_ids = [p["id"] for o in picked for p in o.get("packages", [])]
        packages = [api.ok("GET", f"/fulfillment/202309/packages/{pid}") for pid in package_ids]
        answers.extend(packages)
        product_id = answers[1]["products"][0]["id"]
        answers.append(api.ok("GET", f"/product/202309/products/{product_id}"))
        assert find_nulls(answers) == []
        shipped = [p for p in packages if p["status"] != "TO_FULFILL" and "tracking_number" in p]
        assert shipped
        assert_refused(api.call("GET", "/logistics/202309/warehouses", cipher=None), 400, 106013)
