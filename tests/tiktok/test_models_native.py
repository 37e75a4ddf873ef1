"""The native (pydantic-core) id, money and status rules: same answers from JSON bytes and from
Python data, exact numbers, named errors, and no Python validator on the common path."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from types import FrameType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.tiktok.client import _envelope_for
from app.tiktok.models import (
    Order,
    OrderPage,
    OrderStatus,
    PayloadError,
    VideoPage,
    loads,
    parse,
    parse_json,
    validate_json,
)
from app.tiktok.webhooks import ProductStatusChange, parse_webhook

BASE: dict[str, Any] = {
    "id": "576461413038785752",
    "status": "AWAITING_SHIPMENT",
    "create_time": 1767772707,
    "update_time": 1767772707,
    "buyer_email": "v1@scs.tiktokw.us",
    "payment": {"currency": "USD", "total_amount": "43.18", "tax": "3.20"},
    "line_items": [
        {"id": "1", "sku_id": "1729", "product_id": "17", "sale_price": "19.99"},
    ],
}


def order_json(**changes: Any) -> bytes:
    return json.dumps({**BASE, **changes}).encode()


def both_ways(raw: bytes) -> Order:
    """Parse `raw` as JSON bytes and as `loads` data; the two must agree."""
    from_json = parse_json(Order, raw)
    from_python = parse(Order, loads(raw))
    assert from_json == from_python
    return from_json


# --- ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 7, 2**63 - 1, 2**63, 2**64 + 7, 10**30 + 1])
def test_numeric_ids_of_any_size_become_exact_strings(value: int) -> None:
    raw = b'{"type":5,"timestamp":1,"data":{"product_id":' + str(value).encode() + b"}}"
    assert ProductStatusChange.model_validate_json(raw).data.product_id == str(value)
    order = both_ways(order_json(id=value, user_id=value))
    assert order.id == order.user_id == str(value)


@pytest.mark.parametrize("value", ["5.7e17", "576461413038785752.0", "true", "false", "[1]", "{}"])
def test_float_boolean_or_structured_ids_are_refused_naming_the_field(value: str) -> None:
    raw = order_json().replace(b'"id": "576461413038785752"', b'"id": ' + value.encode())
    attempts: tuple[Callable[[], Order], ...] = (
        lambda: parse_json(Order, raw),
        lambda: parse(Order, loads(raw)),
    )
    for attempt in attempts:
        with pytest.raises(PayloadError) as caught:
            attempt()
        assert "malformed Order: id: id must be a string or an integer" in str(caught.value)
        assert value not in str(caught.value)


def test_id_refusals_in_python_data() -> None:
    for value in (True, 5.7e17, Decimal("5"), None):
        with pytest.raises(PayloadError, match=r"line_items\.0\.sku_id"):
            parse(Order, {**BASE, "line_items": [{**BASE["line_items"][0], "sku_id": value}]})


# --- money -------------------------------------------------------------------------------------


def test_money_strings_and_integers_are_exact_decimals() -> None:
    order = both_ways(order_json(payment={"total_amount": " 43.18 ", "tax": 3, "sub_total": "1e2"}))
    assert order.payment.total_amount == Decimal("43.18")
    assert str(order.payment.total_amount) == "43.18"
    assert order.payment.tax == Decimal(3) and isinstance(order.payment.tax, Decimal)
    assert order.payment.sub_total == Decimal(100)


@pytest.mark.parametrize(
    "text",
    ["19.99", "0.1", "1.0000000000000000001", "123456789012345678901.23", "1e-7", "2.50E+3"],
)
def test_json_number_money_is_converted_exactly_from_its_text(text: str) -> None:
    """The decision: a JSON float for money is not refused but read from its own digits."""
    raw = order_json().replace(b'"43.18"', text.encode())
    assert b'"total_amount": ' + text.encode() in raw
    order = both_ways(raw)
    assert order.payment.total_amount == Decimal(text)
    assert order.payment.total_amount.as_tuple() == Decimal(text).as_tuple()
    # The client's envelope takes the same route.
    envelope = b'{"code":0,"message":"Success","request_id":"r","data":{"orders":[' + raw + b"]}}"
    page = validate_json(_envelope_for(OrderPage), envelope).data
    assert page is not None and page.orders[0].payment.total_amount == Decimal(text)


@pytest.mark.parametrize("value", ["true", '"abc"', '"NaN"', '"Infinity"', '"1.2.3"', "{}", "[]"])
def test_malformed_money_is_refused_naming_the_field_without_the_value(value: str) -> None:
    raw = order_json().replace(b'"19.99"', value.encode())
    with pytest.raises(PayloadError) as caught:
        parse_json(Order, raw)
    message = str(caught.value)
    assert "line_items.0.sale_price" in message
    assert "abc" not in message and "1.2.3" not in message
    with pytest.raises(PayloadError, match=r"line_items\.0\.sale_price"):
        parse(Order, loads(raw))


def test_python_floats_and_booleans_are_refused_as_money() -> None:
    """A float has already been rounded to binary: a caller must pass a string or Decimal."""
    for value in (19.99, True, False, float("nan")):
        with pytest.raises(PayloadError, match=r"payment\.tax: money must be a decimal string"):
            parse(Order, {**BASE, "payment": {"tax": value}})
    assert parse(Order, {**BASE, "payment": {"tax": Decimal("3.20")}}).payment.tax == Decimal(
        "3.20"
    )
    with pytest.raises(PayloadError, match=r"payment\.tax"):
        parse(Order, {**BASE, "payment": {"tax": Decimal("NaN")}})


def test_money_in_nested_video_models() -> None:
    raw = b'{"videos":[{"id":7351,"gmv":{"amount":1234.5},"click_through_rate":0.034}]}'
    page = parse_json(VideoPage, raw)
    video = page.videos[0]
    assert video.id == "7351"
    assert video.gmv is not None and str(video.gmv.amount) == "1234.5"
    assert str(video.click_through_rate) == "0.034"


def test_validate_json_reports_the_second_pass_error() -> None:
    raw = order_json(id=1.5, payment={"tax": 0.5})
    with pytest.raises(ValidationError) as caught:
        validate_json(Order, raw)
    fields = {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}
    assert fields == {"id"}  # the float tax was read exactly; the float id is still wrong
    with pytest.raises(PayloadError, match=r"^malformed Order: <root>: Invalid JSON"):
        parse_json(Order, b'{"id": 1.5, "payment": {"tax": 0.5}')


# --- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["CANCEL", "cancel", "Cancel", "CANCELLED"])
def test_cancel_is_cancelled_everywhere(value: str) -> None:
    assert both_ways(order_json(status=value)).status is OrderStatus.CANCELLED
    assert OrderStatus(value) is OrderStatus.CANCELLED


@pytest.mark.parametrize("value", ["cancelled", "LOST", "", "UNPAID "])
def test_unknown_statuses_are_refused(value: str) -> None:
    with pytest.raises(PayloadError, match=r"^malformed Order: status: "):
        parse_json(Order, order_json(status=value))


def test_unknown_fields_are_ignored() -> None:
    order = both_ways(order_json(brand_new={"nested": [1, 2.5, None]}, another=1.5))
    assert not hasattr(order, "brand_new")


def test_webhooks_still_normalise_cancel() -> None:
    raw = (
        b'{"type":1,"timestamp":1,"data":{"order_id":576653688135258178,'
        b'"order_status":"CANCEL","update_time":1}}'
    )
    event = parse_webhook(raw)
    assert event.data.order_status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert event.data.order_id == "576653688135258178"  # type: ignore[union-attr]


# --- JSON and Python agree ---------------------------------------------------------------------

ids = st.one_of(st.integers(min_value=0, max_value=2**80), st.text(min_size=1, max_size=20))
money = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.integers(min_value=-(10**20), max_value=10**20),
)


@given(
    order_id=ids,
    sku_id=ids,
    amounts=st.lists(money, min_size=2, max_size=2),
    status=st.sampled_from([*OrderStatus, "CANCEL"]),
)
def test_json_and_python_paths_agree(
    order_id: int | str, sku_id: int | str, amounts: list[int | str], status: str
) -> None:
    line = {"id": "1", "sku_id": sku_id, "product_id": "p", "sale_price": amounts[0]}
    data = {**BASE, "id": order_id, "status": status, "line_items": [line]}
    data["payment"] = {"total_amount": amounts[1]}
    raw = json.dumps(data).encode()
    order = both_ways(raw)
    assert order.id == str(order_id)
    assert order.line_items[0].sku_id == str(sku_id)
    assert order.line_items[0].sale_price == Decimal(amounts[0])
    assert order.payment.total_amount == Decimal(amounts[1])


# --- no Python on the common path --------------------------------------------------------------


def test_a_page_validates_without_calling_python() -> None:
    """The speed of a 50-order page rests on this: ids, money and statuses validate in Rust.

    A profiler hook sees every Python function a validator would run; a page of TikTok-shaped
    orders (string ids and amounts, numeric ids too) must run none.
    """
    orders = [
        {
            **BASE,
            "id": str(576461413038785752 + n),
            "user_id": 7494045723649849461 + n,
            "status": list(OrderStatus)[n % len(OrderStatus)].value,
            "line_items": [
                {**BASE["line_items"][0], "id": str(n * 10 + k), "original_price": "20.00"}
                for k in range(2)
            ],
            "payment": {
                "currency": "USD",
                "sub_total": "39.98",
                "shipping_fee": "0.00",
                "seller_discount": "0.00",
                "total_amount": "43.18",
                "tax": "3.20",
            },
        }
        for n in range(50)
    ]
    raw = json.dumps({"code": 0, "request_id": "r", "data": {"orders": orders}}).encode()
    envelope = _envelope_for(OrderPage)
    validator = envelope.__pydantic_validator__
    validator.validate_json(raw)  # warm any lazy set-up
    calls: list[str] = []

    def hook(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            calls.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    gc.collect()
    was_enabled = gc.isenabled()  # off for good once Qt is up (app.ui.gui_gc): keep it so
    gc.disable()  # a collection could run some finalizer in Python mid-validation
    sys.setprofile(hook)
    try:
        page = validator.validate_json(raw).data
    finally:
        sys.setprofile(None)
        if was_enabled:
            gc.enable()
    assert page is not None and len(page.orders) == 50
    assert page.orders[3].user_id == str(7494045723649849461 + 3)
    assert calls == []
