"""The models against TikTok's documented JSON shapes (tiktok-shop-api.md sections 2, 4, 6, 7)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.tiktok.models import (
    AffiliateOrderPage,
    InventorySearchResult,
    InventoryUpdateResult,
    Order,
    OrderPage,
    OrderStatus,
    PayloadError,
    ProductPage,
    Shop,
    TokenSet,
    VideoPage,
    loads,
    parse,
)
from app.tiktok.webhooks import (
    InventoryStatusChange,
    OrderStatusChange,
    ProductStatusChange,
    UnknownWebhookEvent,
    parse_webhook,
)

ORDER_WEBHOOK = (
    b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
    b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
    b'"order_status":"UNPAID","update_time":1718305585}}'
)

ORDER = {
    "id": "576461413038785752",
    "status": "AWAITING_SHIPMENT",
    "create_time": 1718300000,
    "update_time": 1718305585,
    "paid_time": 1718300100,
    "rts_sla_time": 1718559300,
    "unknown_future_field": {"nested": [1, 2]},
    "payment": {
        "currency": "USD",
        "sub_total": "39.98",
        "shipping_fee": "0",
        "total_amount": "43.18",
        "tax": "3.20",
    },
    "line_items": [
        {"id": "1", "sku_id": "1729382476852921560", "product_id": "1729", "sale_price": "19.99"},
        {"id": "2", "sku_id": "1729382476852921560", "product_id": "1729", "sale_price": "19.99"},
        {"id": "3", "sku_id": 1729382476852921561, "product_id": 1729, "sale_price": "0.10"},
    ],
}


def test_order_counts_one_unit_per_line_item_and_keeps_money_exact() -> None:
    order = parse(Order, ORDER)
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    assert order.units_by_sku() == {"1729382476852921560": 2, "1729382476852921561": 1}
    assert order.payment.total_amount == Decimal("43.18")
    assert sum(item.sale_price for item in order.line_items) == Decimal("40.08")
    assert order.line_items[2].product_id == "1729"


def test_order_page_paging_fields() -> None:
    page = parse(OrderPage, {"orders": [ORDER], "next_page_token": "abc", "total_count": 7})
    assert page.next_page_token == "abc"
    assert page.orders[0].id == ORDER["id"]
    assert parse(OrderPage, {}).next_page_token == ""


def test_cancel_from_webhooks_and_cancelled_from_api_are_one_status() -> None:
    api = parse(Order, {**ORDER, "status": "CANCELLED"})
    body = ORDER_WEBHOOK.replace(b'"UNPAID"', b'"CANCEL"')
    hook = parse_webhook(body)
    assert isinstance(hook, OrderStatusChange)
    assert hook.data.order_status is api.status is OrderStatus.CANCELLED


def test_official_webhook_example_parses() -> None:
    event = parse_webhook(ORDER_WEBHOOK)
    assert isinstance(event, OrderStatusChange)
    assert event.tts_notification_id == "7380066284010030890"
    assert event.shop_id == "7495540735365777507"
    assert event.data.order_id == "576653688135258178"
    assert event.data.is_on_hold_order is True


def test_big_numeric_ids_become_strings_without_loss() -> None:
    raw = (
        b'{"type":5,"shop_id":7495540735365777507,"timestamp":1644412885,"data":'
        b'{"product_id":576486316948490001,"status":"PRODUCT_STATUS_SUSPENDED",'
        b'"suspended_reason":"prohibited","update_time":1644412885}}'
    )
    event = parse_webhook(raw)
    assert isinstance(event, ProductStatusChange)
    assert event.data.product_id == "576486316948490001"
    assert event.shop_id == "7495540735365777507"
    assert event.tts_notification_id is None


def test_float_id_is_refused_rather_than_rounded() -> None:
    with pytest.raises(PayloadError, match=r"data\.product_id"):
        parse_webhook(b'{"type":5,"timestamp":1,"data":{"product_id":5.7e17}}')


def test_inventory_status_webhook() -> None:
    raw = {
        "type": 27,
        "tts_notification_id": "n-27",
        "shop_id": "s1",
        "timestamp": 1718305585,
        "data": {
            "product_id": "p1",
            "sku_id": "k1",
            "current_inventory_status": "LOW_STOCK",
            "trigger_reason": {"alert_type": "REALTIME"},
            "inventory_distribution": {"total_quantity": 12, "available_quantity": 9},
        },
    }
    event = parse_webhook(raw)
    assert isinstance(event, InventoryStatusChange)
    assert event.data.inventory_distribution.available_quantity == 9


def test_unknown_types_are_kept_whole() -> None:
    raw = b'{"type":68,"tts_notification_id":"x","shop_id":"s","timestamp":5,"data":{"sku_id":"k","delta":-3}}'
    event = parse_webhook(raw)
    assert isinstance(event, UnknownWebhookEvent)
    assert event.type == 68
    assert event.data == {"sku_id": "k", "delta": -3}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "<root>"),
        (b"[1,2]", "<root>"),
        (b'{"timestamp":1}', "type"),
        (b'{"type":"1","timestamp":1}', "type"),
        (b'{"type":1,"timestamp":1,"data":{"order_status":"UNPAID","update_time":1}}', "order_id"),
        (
            b'{"type":1,"data":{"order_id":"1","order_status":"UNPAID","update_time":1}}',
            "timestamp",
        ),
        (
            b'{"type":1,"timestamp":1,"data":{"order_id":"1","order_status":"LOST","update_time":1}}',
            "order_status",
        ),
    ],
)
def test_malformed_webhooks_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_webhook(raw)
    assert field in str(caught.value)


def test_errors_never_echo_values() -> None:
    with pytest.raises(PayloadError) as caught:
        parse(TokenSet, {"access_token": "TTP_secret_value", "refresh_token": 5})
    assert "TTP_secret_value" not in str(caught.value)
    assert "refresh_token" in str(caught.value)


def test_token_set_keeps_absolute_expiry_and_hides_tokens() -> None:
    data = {
        "access_token": "TTP_access",
        "access_token_expire_in": 1660556783,
        "refresh_token": "TTP_refresh",
        "refresh_token_expire_in": 1691487351,
        "open_id": "7010736057180325637",
        "seller_name": "Jjj test shop",
        "seller_base_region": "ID",
        "user_type": 0,
        "granted_scopes": ["seller.order.info"],
    }
    tokens = parse(TokenSet, data)
    assert tokens.access_token_expire_in == 1660556783
    assert "TTP_access" not in repr(tokens) and "TTP_refresh" not in str(tokens)
    assert tokens.to_secret_dict()["refresh_token"] == "TTP_refresh"
    assert tokens.access_expires_within(3600, now=1660556783 - 100)
    assert not tokens.access_expires_within(3600, now=1660556783 - 7200)


def test_shops() -> None:
    shop = parse(
        Shop,
        {
            "id": 7000714532876273420,
            "name": "Maomao beauty shop",
            "region": "GB",
            "seller_type": "CROSS_BORDER",
            "cipher": "GCP_XF90igAAAABh00qsWgtvOiGFNqyubMt3",
            "code": "CNGBCBA4LLU8",
        },
    )
    assert shop.id == "7000714532876273420"
    with pytest.raises(PayloadError, match="cipher"):
        parse(Shop, {"id": "1", "name": "no cipher"})


def test_products_inventory_and_update_errors() -> None:
    page = parse(
        ProductPage,
        {
            "total_count": 1,
            "next_page_token": "",
            "products": [
                {
                    "id": "1729",
                    "title": "Glow serum",
                    "status": "ACTIVATE",
                    "skus": [
                        {
                            "id": "k1",
                            "seller_sku": "GS-30",
                            "price": {"currency": "USD", "sale_price": "12.90"},
                            "inventory": [
                                {"warehouse_id": "w1", "quantity": 40},
                                {"warehouse_id": "w2", "quantity": 2},
                            ],
                        }
                    ],
                }
            ],
        },
    )
    sku = page.products[0].skus[0]
    assert sku.total_quantity == 42
    assert sku.price.sale_price == Decimal("12.90")

    inventory = parse(
        InventorySearchResult,
        {
            "inventory": [
                {
                    "product_id": "1729",
                    "skus": [
                        {
                            "id": "k1",
                            "total_available_quantity": 42,
                            "total_committed_quantity": 3,
                            "warehouse_inventory": [
                                {
                                    "warehouse_id": "w1",
                                    "available_quantity": 40,
                                    "committed_quantity": 3,
                                }
                            ],
                        }
                    ],
                }
            ]
        },
    )
    assert inventory.inventory[0].skus[0].warehouse_inventory[0].committed_quantity == 3

    result = parse(
        InventoryUpdateResult,
        {
            "errors": [
                {
                    "code": 12019028,
                    "message": "not all warehouses",
                    "detail": {
                        "sku_id": "k1",
                        "extra_errors": [{"warehouse_id": "w2", "code": 1, "message": "m"}],
                    },
                }
            ]
        },
    )
    assert result.errors[0].detail.sku_id == "k1"
    assert parse(InventoryUpdateResult, {}).errors == []


def test_videos_and_affiliate_attribution() -> None:
    videos = parse(
        VideoPage,
        {
            "videos": [
                {
                    "id": "7351",
                    "title": "unboxing",
                    "username": "glowqueen",
                    "gmv": {"amount": "1234.50", "currency": "USD"},
                    "sku_orders": 90,
                    "units_sold": 95,
                    "views": 1200000,
                    "click_through_rate": "0.034",
                    "products": [{"id": "1729", "name": "Glow serum"}],
                    "video_post_time": "2026-11-29 10:00:00",
                }
            ],
            "latest_available_date": "2026-11-30",
        },
    )
    video = videos.videos[0]
    assert video.gmv is not None and video.gmv.amount == Decimal("1234.50")
    assert video.products[0].id == "1729"

    orders = parse(
        AffiliateOrderPage,
        {
            "orders": [
                {
                    "id": "o1",
                    "create_time": 1,
                    "skus": [
                        {
                            "sku_id": "k1",
                            "product_id": "1729",
                            "quantity": 2,
                            "content_type": "VIDEO",
                            "content_id": 7351,
                        },
                        {
                            "sku_id": "k2",
                            "product_id": "1730",
                            "quantity": 1,
                            "content_type": "LIVE",
                            "content_id": "room",
                        },
                    ],
                }
            ]
        },
    )
    assert orders.orders[0].video_ids() == {"7351"}


def test_loads_keeps_numbers_exact() -> None:
    data = loads(b'{"id": 576486316948490001, "price": 19.99}')
    assert data["id"] == 576486316948490001
    assert data["price"] == Decimal("19.99")


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_any_int64_id_round_trips(value: int) -> None:
    raw = b'{"type":5,"timestamp":1,"data":{"product_id":' + str(value).encode() + b"}}"
    event = parse_webhook(raw)
    assert isinstance(event, ProductStatusChange)
    assert int(event.data.product_id) == value
