"""The async TikTok Shop Open API client: the one door through which ViralStock reaches TikTok.

Per request, in this order, once per *attempt*:
1. a token from the app x shop budget, in the caller's priority lane (`ratelimit`);
2. the access token (refreshed ahead of expiry by the `TokenSource`);
3. a fresh `timestamp` and a signature from the `Signer` (local or relay) over the exact query
   and body bytes that go on the wire;
4. one HTTP exchange on a pooled keep-alive `httpx.AsyncClient`;
5. the envelope `{code, message, request_id, data}` validated straight into the endpoint's
   model; the outcome is recorded in `ClientMetrics`.

Failures are classified (`errors.classify`) and handled here so callers do not have to:
105002 refreshes the token once and retries; 429/36009002 slows the budget down (and honours
a finite Retry-After, capped at `retry_after_cap`) and retries; transient failures and malformed
responses retry with exponential backoff and full jitter up to `max_attempts`; bugs (bad sign,
36009004, shop_cipher) are logged loudly and raised at once; the rest is raised with TikTok's
request_id.

ViralStock only reads the shop (no endpoint method here writes), but `call` keeps TikTok's
rule for a write (`idempotent=False`): it is retried only when the failure proves TikTok never
processed it (the connection was never made, a 429, an expired token, a signing failure).
After an ambiguous failure (timeout after sending, 5xx, a garbled answer) the client raises
`AmbiguousWriteError` rather than replay a stock level that may since have changed; the caller
re-reads and decides.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.tiktok.backoff import Backoff
from app.tiktok.errors import (
    AmbiguousWriteError,
    ClientBugError,
    MalformedResponseError,
    RateLimitedError,
    TikTokError,
    TokenExpiredError,
    TransientError,
    classify,
)
from app.tiktok.hosts import AUTH_BASE_URL, AUTHORIZE_URL, OPEN_API_BASE_URL
from app.tiktok.metrics import ClientMetrics, MetricsSnapshot
from app.tiktok.models import (
    AffiliateOrder,
    AffiliateOrderPage,
    InventorySearchResult,
    Order,
    OrderPage,
    PayloadError,
    Product,
    ProductPage,
    Shop,
    VideoPage,
    VideoPerformance,
    validate_json,
)
from app.tiktok.ratelimit import LimiterConfig, Priority, PriorityRateLimiter
from app.tiktok.redact import fingerprint, redact, register_secret
from app.tiktok.retry_after import MAX_RETRY_AFTER, parse_retry_after
from app.tiktok.signer import RelaySigningError, Signer

__all__ = [
    "DEFAULT_OPEN_API_BASE_URL",
    "MAX_INVENTORY_SKUS",
    "ClientSettings",
    "TikTokShopClient",
    "TokenSource",
]

log = logging.getLogger(__name__)

DEFAULT_OPEN_API_BASE_URL = OPEN_API_BASE_URL
JSON = "application/json"
MAX_DETAIL_IDS = 50
# Inventory Search takes at most 600 sku_ids (tiktok-shop-api.md 4.2).
MAX_INVENTORY_SKUS = 600


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Everything an operator may tune. Base URLs point at TikTok or at the sandbox."""

    open_api_base_url: str = DEFAULT_OPEN_API_BASE_URL
    auth_base_url: str = AUTH_BASE_URL
    # The seller's consent page; the US has its own host (tiktok-shop-api.md 2.1).
    authorize_url: str = AUTHORIZE_URL
    requests_per_minute: float = 1000.0
    burst: float | None = None
    high_reserve: float = 0.10
    timeout: float = 15.0
    connect_timeout: float = 5.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # The longest server-requested pause honoured (Retry-After); longer hints are cut to this.
    retry_after_cap: float = MAX_RETRY_AFTER
    max_connections: int = 32
    metrics_window: float = 60.0
    order_detail_version: str = "202309"
    product_search_version: str = "202502"

    def limiter_config(self) -> LimiterConfig:
        return LimiterConfig(
            requests_per_minute=self.requests_per_minute,
            burst=self.burst,
            high_reserve=self.high_reserve,
        )


class TokenSource(Protocol):
    """Gives the access token; `oauth.TokenManager` is the real one."""

    async def access_token(self) -> str: ...

    async def refresh(self, stale_fingerprint: str | None = None) -> str: ...


# --- envelope models ---------------------------------------------------------------------------


class _Envelope[T](BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    code: int
    message: str = ""
    request_id: str | None = None
    data: T | None = None


class _Loose(BaseModel):
    """Envelope used for error answers and responses whose data we do not model."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    code: int
    message: str = ""
    request_id: str | None = None


class _ShopList(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    shops: list[Shop] = Field(default_factory=list)


class _OrderList(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    orders: list[Order] = Field(default_factory=list)


_ENVELOPES: dict[type[BaseModel], type[_Envelope[Any]]] = {}


def _envelope_for[M: BaseModel](model: type[M]) -> type[_Envelope[M]]:
    envelope = _ENVELOPES.get(model)
    if envelope is None:
        envelope = _ENVELOPES[model] = _Envelope[model]  # type: ignore[valid-type]
    return envelope


def _query_value(value: object) -> str:
    """Lists go comma-joined (never repeated keys); booleans as TikTok spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(item) for item in value)
    return str(value)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    raise TypeError(f"cannot serialise {type(value).__name__} into a request body")


def encode_body(body: Mapping[str, Any] | None) -> bytes | None:
    """The request body, serialised once: compact, UTF-8, no body at all instead of `{}`."""
    if not body:
        return None
    cleaned = {name: value for name, value in body.items() if value is not None}
    if not cleaned:
        return None
    text = json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return text.encode("utf-8")


async def _items[P, T](
    pages: AsyncIterator[P], pick: Callable[[P], Iterable[T]]
) -> AsyncIterator[T]:
    """Every item of every page (`pick` takes them out of one page), as lazily as `pages`."""
    async for page in pages:
        for item in pick(page):
            yield item


# Transport failures before a single byte of the request can have reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TikTokShopClient:
    """Typed, signed, rate-limited calls to the TikTok Shop Open API.

    One instance per authorization (a token source) and signer; shop-scoped calls take the
    `Shop` (id for the budget, cipher for the query). Use as an async context manager, or call
    `aclose()`, so the pooled connections are closed inside the loop.
    """

    def __init__(
        self,
        signer: Signer,
        tokens: TokenSource,
        settings: ClientSettings | None = None,
        *,
        limiter: PriorityRateLimiter | None = None,
        metrics: ClientMetrics | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or ClientSettings()
        self.signer = signer
        self.tokens = tokens
        self.limiter = limiter or PriorityRateLimiter(self.settings.limiter_config())
        self.metrics = metrics or ClientMetrics(self.settings.metrics_window)
        self._base = self.settings.open_api_base_url.rstrip("/")
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout),
            limits=httpx.Limits(
                max_connections=self.settings.max_connections,
                max_keepalive_connections=self.settings.max_connections,
                keepalive_expiry=60.0,
            ),
            headers={"user-agent": "ViralStock/0.1"},
        )
        self._clock = clock
        self._retry = Backoff(self.settings.backoff_base, self.settings.backoff_cap, rng=rng)

    async def __aenter__(self) -> TikTokShopClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def snapshot(self) -> MetricsSnapshot:
        """Sliding-window health figures for the UI."""
        return self.metrics.snapshot(self.limiter)

    def budget_rate(self, shop: Shop | None) -> float:
        """Requests per second `shop`'s budget allows now (after any slowing down on 429)."""
        return self.limiter.current_rate(self._budget(shop))

    def _budget(self, shop: Shop | None) -> tuple[str, str]:
        """The rate-limit budget a call counts against: TikTok isolates app x shop."""
        return (self.signer.app_key, shop.id if shop is not None else "_app")

    # --- the request engine ----------------------------------------------------------------

    async def call[M: BaseModel](
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        shop: Shop | None = None,
        query: Mapping[str, object] | None = None,
        body: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
        idempotent: bool = True,
    ) -> tuple[M, str | None]:
        """One Open API call with retries; returns the parsed `data` and TikTok's request_id.

        `shop` decides both the rate-limit budget and whether `shop_cipher` is sent: pass it
        exactly for shop-scoped endpoints.
        """
        body_bytes = encode_body(body)  # serialised once: these bytes are signed and sent
        params = [
            (name, _query_value(value))
            for name, value in (query or {}).items()
            if value is not None
        ]
        if shop is not None:
            params.append(("shop_cipher", shop.cipher))
        budget = self._budget(shop)
        refreshed = False
        attempt = relay_waits = 0
        try:
            while True:
                attempt += 1
                try:
                    result = await self._attempt(
                        method, path, params, body_bytes, budget, priority, model
                    )
                except TokenExpiredError as exc:
                    if refreshed:
                        raise
                    refreshed = True
                    attempt -= 1  # the refresh-and-retry is owed, not a retry
                    await self.tokens.refresh(exc.stale_fingerprint)
                    continue
                except RateLimitedError as exc:
                    if isinstance(exc, RelaySigningError):
                        # The relay's signing budget, not TikTok's: nothing reached TikTok, so
                        # it is no attempt and the shop's API budget is not cut. Wait it out,
                        # boundedly.
                        attempt -= 1
                        relay_waits += 1
                        if relay_waits > 4 * self.settings.max_attempts:
                            raise
                        await asyncio.sleep(
                            exc.retry_after or self._retry.delay(min(relay_waits, 6) - 1)
                        )
                        continue
                    # TikTok's own 429: the limiter now paces slower and honours Retry-After.
                    self.limiter.on_rate_limited(budget, exc.retry_after)
                    if attempt >= self.settings.max_attempts:
                        raise
                    log.info("rate limited on %s (attempt %d), slowing down", path, attempt)
                    continue
                except TransientError as exc:
                    if not exc.retryable:
                        raise
                    if not idempotent and not exc.not_sent:
                        raise AmbiguousWriteError(
                            f"write outcome unknown after: {exc.message}",
                            code=exc.code,
                            request_id=exc.request_id,
                            http_status=exc.http_status,
                            path=path,
                        ) from None
                    if attempt >= self.settings.max_attempts:
                        raise
                    delay = self._retry.delay(attempt - 1)
                    log.info(
                        "transient failure on %s (attempt %d/%d), retrying in %.2fs: %s",
                        path,
                        attempt,
                        self.settings.max_attempts,
                        delay,
                        exc,
                    )
                    await asyncio.sleep(delay)
                    continue
                except ClientBugError as exc:
                    log.error("TikTok refused our request as malformed (not retried): %s", exc)
                    raise
                self.metrics.record_call(ok=True)
                return result
        except Exception:
            self.metrics.record_call(ok=False)
            raise

    def _retry_after(self, response: httpx.Response) -> float | None:
        return parse_retry_after(
            response.headers.get("retry-after"), cap=self.settings.retry_after_cap
        )

    async def _attempt[M: BaseModel](
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        body: bytes | None,
        budget: tuple[str, str],
        priority: Priority,
        model: type[M],
    ) -> tuple[M, str | None]:
        await self.limiter.acquire(budget, priority)
        access_token = await self.tokens.access_token()
        register_secret(access_token)
        query = [
            ("app_key", self.signer.app_key),
            ("timestamp", str(int(self._clock()))),
            *params,
        ]
        try:
            sign = await self.signer.sign(path, query, body, JSON)
        except TikTokError as exc:
            exc.not_sent = True
            raise
        query.append(("sign", sign))
        headers = {"x-tts-access-token": access_token, "content-type": JSON}
        started = time.perf_counter()
        try:
            # The query string is encoded here, once: httpx's `params=` merging re-validates
            # the whole query character by character in Python on every request.
            url = f"{self._base}{path}?{urlencode(query, quote_via=quote)}"
            response = await self._http.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.metrics.record_attempt(time.perf_counter() - started, ok=False)
            error = TransientError(f"{type(exc).__name__} talking to TikTok", path=path)
            error.not_sent = isinstance(exc, _NOT_SENT)
            raise error from None
        latency = time.perf_counter() - started
        try:
            return self._interpret(response, path, model, access_token, latency)
        except TikTokError:
            raise
        except Exception:
            self.metrics.record_attempt(latency, ok=False)
            raise

    def _interpret[M: BaseModel](
        self,
        response: httpx.Response,
        path: str,
        model: type[M],
        access_token: str,
        latency: float,
    ) -> tuple[M, str | None]:
        envelope_model = _envelope_for(model)
        status = response.status_code
        content = response.content
        envelope: _Envelope[M] | _Loose | None = None
        problem = ""
        try:
            envelope = validate_json(envelope_model, content)
        except ValidationError as exc:
            problem = PayloadError.from_validation(envelope_model.__name__, exc).args[0]
            try:
                envelope = _Loose.model_validate_json(content)
            except ValidationError:
                envelope = None
        if envelope is None or (envelope.code == 0 and problem):
            self.metrics.record_attempt(latency, ok=False, rate_limited=status == 429)
            if status == 429:
                raise RateLimitedError(
                    "rate limited",
                    http_status=status,
                    path=path,
                    retry_after=self._retry_after(response),
                )
            if status >= 500:
                raise TransientError(f"server error {status}", http_status=status, path=path)
            request_id = envelope.request_id if envelope is not None else None
            log.warning(
                "malformed response from %s (http %d, request_id %s): %s",
                path,
                status,
                request_id,
                redact(problem or content[:200]),
            )
            raise MalformedResponseError(
                f"malformed response: {problem or 'not a TikTok envelope'}",
                http_status=status,
                path=path,
                request_id=request_id,
            )
        if envelope.code == 0 and status < 400:
            self.metrics.record_attempt(latency, ok=True)
            data = envelope.data if isinstance(envelope, _Envelope) else None
            if data is None:
                try:  # `data` absent or null on success: fine when the model has no requirements
                    data = model.model_validate({})
                except ValidationError:
                    log.warning("no data from %s (request_id %s)", path, envelope.request_id)
                    raise MalformedResponseError(
                        "success without data", path=path, request_id=envelope.request_id
                    ) from None
            log.debug("%s ok in %.1f ms (request_id %s)", path, latency * 1e3, envelope.request_id)
            return data, envelope.request_id
        error = classify(
            http_status=status,
            code=envelope.code if envelope.code != 0 else None,
            message=envelope.message,
            request_id=envelope.request_id,
            path=path,
            retry_after=self._retry_after(response),
        )
        limited = isinstance(error, RateLimitedError)
        self.metrics.record_attempt(latency, ok=False, rate_limited=limited)
        if isinstance(error, TokenExpiredError):
            error.stale_fingerprint = fingerprint(access_token)
        raise error

    # --- pagination helper -----------------------------------------------------------------

    async def _pages[P: BaseModel](
        self, fetch_page: Callable[..., Awaitable[P]], /, *args: Any, **kwargs: Any
    ) -> AsyncIterator[P]:
        """Every page, lazily: `fetch_page(*args, **kwargs, page_token=...)` until no (or a
        repeated) `next_page_token`. The one pagination loop behind every `iter_*`."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await fetch_page(*args, **kwargs, page_token=token)
            yield page
            token = getattr(page, "next_page_token", "") or None
            if not token or token in seen:  # a repeated token would loop forever
                return
            seen.add(token)

    async def _search_page[P: BaseModel](
        self,
        path: str,
        model: type[P],
        shop: Shop,
        *,
        page_size: int,
        page_token: str | None,
        filters: Mapping[str, Any] | None,
        priority: Priority,
        **query: object,
    ) -> P:
        """One page of a `POST .../search` endpoint: paging in the query, filters as the body."""
        data, _ = await self.call(
            "POST",
            path,
            model,
            shop=shop,
            query={"page_size": page_size, "page_token": page_token, **query},
            body=filters,
            priority=priority,
        )
        return data

    # --- authorization ---------------------------------------------------------------------

    async def authorized_shops(self, *, priority: Priority = Priority.HIGH) -> list[Shop]:
        """Shops this token covers, with the cipher each shop-scoped call needs."""
        data, _ = await self.call(
            "GET", "/authorization/202309/shops", _ShopList, priority=priority
        )
        return list(data.shops)

    # --- orders ----------------------------------------------------------------------------

    async def search_orders_page(
        self,
        shop: Shop,
        *,
        page_size: int = 100,
        page_token: str | None = None,
        sort_field: str | None = None,
        sort_order: str | None = None,
        filters: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> OrderPage:
        """One page of Get Order List. `filters` is the JSON body (order_status, *_time_*)."""
        return await self._search_page(
            "/order/202309/orders/search",
            OrderPage,
            shop,
            page_size=page_size,
            page_token=page_token,
            filters=filters,
            priority=priority,
            sort_field=sort_field,
            sort_order=sort_order,
        )

    def iter_order_pages(
        self,
        shop: Shop,
        *,
        page_size: int = 100,
        sort_field: str | None = None,
        sort_order: str | None = None,
        filters: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> AsyncIterator[OrderPage]:
        """Every page of Get Order List matching `filters`, fetched lazily."""
        return self._pages(
            self.search_orders_page,
            shop,
            page_size=page_size,
            sort_field=sort_field,
            sort_order=sort_order,
            filters=filters,
            priority=priority,
        )

    def iter_orders(
        self,
        shop: Shop,
        *,
        page_size: int = 100,
        sort_field: str | None = None,
        sort_order: str | None = None,
        filters: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> AsyncIterator[Order]:
        """Every order matching `filters`, across all pages, fetched lazily."""
        pages = self.iter_order_pages(
            shop,
            page_size=page_size,
            sort_field=sort_field,
            sort_order=sort_order,
            filters=filters,
            priority=priority,
        )
        return _items(pages, lambda page: page.orders)

    async def get_orders(
        self, shop: Shop, order_ids: Iterable[str], *, priority: Priority = Priority.NORMAL
    ) -> list[Order]:
        """Order detail for any number of ids, in batches of 50 (comma-joined), concurrently.

        Results come back in the order of `order_ids` (duplicates dropped); ids TikTok does not
        return are simply absent.
        """
        ids = list(dict.fromkeys(str(order_id) for order_id in order_ids))
        batches = [ids[i : i + MAX_DETAIL_IDS] for i in range(0, len(ids), MAX_DETAIL_IDS)]
        path = f"/order/{self.settings.order_detail_version}/orders"

        async def one(batch: list[str]) -> list[Order]:
            data, _ = await self.call(
                "GET", path, _OrderList, shop=shop, query={"ids": batch}, priority=priority
            )
            return list(data.orders)

        found: dict[str, Order] = {}
        for orders in await asyncio.gather(*(one(batch) for batch in batches)):
            for order in orders:
                found[order.id] = order
        return [found[order_id] for order_id in ids if order_id in found]

    # --- products and inventory ------------------------------------------------------------

    async def search_products_page(
        self,
        shop: Shop,
        *,
        page_size: int = 100,
        page_token: str | None = None,
        filters: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> ProductPage:
        return await self._search_page(
            f"/product/{self.settings.product_search_version}/products/search",
            ProductPage,
            shop,
            page_size=page_size,
            page_token=page_token,
            filters=filters,
            priority=priority,
        )

    def iter_products(
        self,
        shop: Shop,
        *,
        page_size: int = 100,
        filters: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> AsyncIterator[Product]:
        pages = self._pages(
            self.search_products_page, shop, page_size=page_size, filters=filters, priority=priority
        )
        return _items(pages, lambda page: page.products)

    async def get_product(
        self, shop: Shop, product_id: str, *, priority: Priority = Priority.NORMAL
    ) -> Product:
        data, _ = await self.call(
            "GET", f"/product/202309/products/{product_id}", Product, shop=shop, priority=priority
        )
        return data

    async def search_inventory(
        self,
        shop: Shop,
        *,
        product_ids: Sequence[str] | None = None,
        sku_ids: Sequence[str] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> InventorySearchResult:
        """Stock per SKU and warehouse. `sku_ids` (<= 600) wins over `product_ids` (<= 100)."""
        body: dict[str, Any] = {}
        if sku_ids:
            body["sku_ids"] = [str(sku) for sku in sku_ids]
        elif product_ids:
            body["product_ids"] = [str(product) for product in product_ids]
        data, _ = await self.call(
            "POST",
            "/product/202309/inventory/search",
            InventorySearchResult,
            shop=shop,
            body=body,
            priority=priority,
        )
        return data

    # --- videos and affiliate attribution --------------------------------------------------

    async def video_performance_page(
        self,
        shop: Shop,
        *,
        start_date_ge: str,
        end_date_lt: str,
        page_size: int = 100,
        page_token: str | None = None,
        sort_field: str | None = None,
        currency: str | None = None,
        account_type: str | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> VideoPage:
        """Per-video views, GMV and units; dates are YYYY-MM-DD in the shop's timezone."""
        data, _ = await self.call(
            "GET",
            "/analytics/202409/shop_videos/performance",
            VideoPage,
            shop=shop,
            query={
                "start_date_ge": start_date_ge,
                "end_date_lt": end_date_lt,
                "page_size": page_size,
                "page_token": page_token,
                "sort_field": sort_field,
                "currency": currency,
                "account_type": account_type,
            },
            priority=priority,
        )
        return data

    def iter_video_performance(
        self,
        shop: Shop,
        *,
        start_date_ge: str,
        end_date_lt: str,
        page_size: int = 100,
        priority: Priority = Priority.NORMAL,
        **options: str,
    ) -> AsyncIterator[VideoPerformance]:
        pages = self._pages(
            self.video_performance_page,
            shop,
            start_date_ge=start_date_ge,
            end_date_lt=end_date_lt,
            page_size=page_size,
            priority=priority,
            **options,
        )
        return _items(pages, lambda page: page.videos)

    async def affiliate_orders_page(
        self,
        shop: Shop,
        *,
        page_size: int = 100,
        page_token: str | None = None,
        filters: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> AffiliateOrderPage:
        """Seller affiliate orders, each SKU with content_type / content_id (the video)."""
        return await self._search_page(
            "/affiliate_seller/202410/orders/search",
            AffiliateOrderPage,
            shop,
            page_size=page_size,
            page_token=page_token,
            filters=filters,
            priority=priority,
        )

    def iter_affiliate_orders(
        self,
        shop: Shop,
        *,
        page_size: int = 100,
        filters: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> AsyncIterator[AffiliateOrder]:
        pages = self._pages(
            self.affiliate_orders_page,
            shop,
            page_size=page_size,
            filters=filters,
            priority=priority,
        )
        return _items(pages, lambda page: page.orders)
