"""The client's parse path over real HTTP: the response bytes go straight into the native
validator, JSON-number money is read exactly, and a malformed field is named, never echoed.

A tiny stdlib HTTP server on 127.0.0.1 answers with canned bodies: the sandbox always sends
well-formed strings, and these cases are about what TikTok *might* send.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.tiktok.client import ClientSettings, TikTokShopClient
from app.tiktok.errors import MalformedResponseError
from app.tiktok.models import OrderStatus, Shop
from app.tiktok.signer import LocalSigner

SHOP = Shop(id="7494", cipher="ROW_cipher")

ORDER = (
    b'{"id":576461413038785752123,"status":"CANCEL","create_time":1,"update_time":2,'
    b'"brand_new_field":{"x":[1.5,true]},'
    b'"payment":{"currency":"USD","total_amount":43.18,"tax":"3.20",'
    b'"sub_total":1.0000000000000000001},'
    b'"line_items":[{"id":"1","sku_id":1729382476852921560,"product_id":"17",'
    b'"sale_price":"19.99"}]}'
)


def envelope(data: bytes) -> bytes:
    return b'{"code":0,"message":"Success","request_id":"req-1","data":' + data + b"}"


class _Tokens:
    async def access_token(self) -> str:
        return "TTP_test_access_token"

    async def refresh(self, stale_fingerprint: str | None = None) -> str:
        return "TTP_test_access_token"


class _Canned(BaseHTTPRequestHandler):
    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Canned]]]:
    handler = type("Handler", (_Canned,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def client_for(base_url: str) -> TikTokShopClient:
    settings = ClientSettings(
        open_api_base_url=base_url, max_attempts=1, timeout=5.0, requests_per_minute=1e6
    )
    return TikTokShopClient(LocalSigner("app_key", "app_secret_123"), _Tokens(), settings)


async def test_order_page_from_real_bytes(server: tuple[str, type[_Canned]]) -> None:
    base_url, handler = server
    handler.body = envelope(b'{"next_page_token":"n","total_count":1,"orders":[' + ORDER + b"]}")
    async with client_for(base_url) as client:
        page = await client.search_orders_page(SHOP, page_size=1)
    order = page.orders[0]
    assert order.id == "576461413038785752123"
    assert order.status is OrderStatus.CANCELLED
    assert order.line_items[0].sku_id == "1729382476852921560"
    assert order.payment.total_amount == Decimal("43.18")
    assert order.payment.sub_total == Decimal("1.0000000000000000001")  # no float on the way
    assert order.payment.tax == Decimal("3.20")
    assert page.next_page_token == "n"


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        (ORDER.replace(b'"19.99"', b"true"), "orders.0.line_items.0.sale_price"),
        (ORDER.replace(b'"19.99"', b'"19,99 secret"'), "orders.0.line_items.0.sale_price"),
        (ORDER.replace(b"576461413038785752123", b"5.7e17"), "orders.0.id"),
        (ORDER.replace(b'"CANCEL"', b'"LOST"'), "orders.0.status"),
    ],
)
async def test_malformed_fields_are_named_not_echoed(
    server: tuple[str, type[_Canned]], broken: bytes, field: str
) -> None:
    base_url, handler = server
    handler.body = envelope(b'{"orders":[' + broken + b"]}")
    async with client_for(base_url) as client:
        with pytest.raises(MalformedResponseError) as caught:
            await client.search_orders_page(SHOP, page_size=1)
    message = str(caught.value)
    assert f"data.{field}" in message
    assert "secret" not in message and "5.7e17" not in message
    assert caught.value.request_id == "req-1"
