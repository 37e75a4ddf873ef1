"""Webhook handlers: turn a batch of relay events into one committed transaction.

A webhook is a signal, not the truth (tiktok-shop-api.md 6.3): for the types that touch data the
handler re-reads what the event points at through the Open API and stores that answer. This is
what makes the handlers idempotent and order-independent: a duplicate is recognised by its
`tts_notification_id` and skipped, and an old event arriving after a newer one only causes a
re-read of the current state, which the store keeps only if it is not older than what it has
(orders and products are versioned by `update_time`).

Per type:
- 1 order status, 3 address, 11 cancellation, 12 return: re-read the orders (detail, at most 50
  ids per call), then the stock of every SKU on them (a sale or a cancellation moves stock);
- 4 package: re-read the orders in its `package_list`;
- 24 FBT inventory, 27 inventory status, 71 inventory changed: re-read those SKUs' stock
  (Inventory Search);
- 5 product status, 15 product information, 16 product creation: re-read the product
  (status, SKUs and stock);
- 6 deauthorization: the shop is marked deauthorized and the API link shows it;
- 7 expiry warning: the API link shows "expiring" with the expiry time.

The batch's data and each event's record (with the relay cursor) are written in one transaction;
the consumer acknowledges the cursor only after it returns.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.store.catalog import mark_shop_deauthorized, upsert_inventory, upsert_products
from app.store.orders import stored_statuses, upsert_orders
from app.store.types import StockCause
from app.store.webhooks import (
    DeliveredWebhook,
    get_cursors,
    known_notifications,
    payload_text,
    record_webhooks,
)
from app.sync.consumer import RelayEvent
from app.sync.counters import SyncCounters
from app.sync.database import Database
from app.sync.loader import Touched
from app.sync.shops import ShopContext
from app.sync.state import LinkState
from app.tiktok.client import MAX_INVENTORY_SKUS, TikTokShopClient
from app.tiktok.errors import (
    OVERLOADED_PARAMETER_ERROR,
    ClientBugError,
    MalformedResponseError,
    ReauthorizationRequired,
    TikTokError,
)
from app.tiktok.models import (
    InventoryProduct,
    InventorySearchResult,
    Order,
    OrderStatus,
    Product,
    Shop,
)
from app.tiktok.ratelimit import Priority
from app.tiktok.webhooks import WebhookType, references

__all__ = [
    "Fetched",
    "Plan",
    "WebhookSink",
    "delivered_webhook",
    "fetch_plan",
    "is_poison",
    "plan_events",
]

log = logging.getLogger(__name__)

STOCK_ORDER_TYPES = frozenset(
    {WebhookType.CANCELLATION_STATUS_CHANGE, WebhookType.RETURN_STATUS_CHANGE}
)

LinkCallback = Callable[[str, LinkState, str, float | None], None]
# (shop id, what was written): insight reads in and recomputes only that (#15).
ChangedCallback = Callable[[str, Touched], None]


def delivered_webhook(event: RelayEvent) -> DeliveredWebhook:
    """What the store records of a relay event: its payload as canonical JSON (big ids and
    decimals intact), its `tts_notification_id` (none when absent or empty) and its type,
    keyed by that id or the store's synthetic key for a webhook without one."""
    tts_id = event.webhook.get("tts_notification_id")
    return DeliveredWebhook(
        event.shop_id,
        event.cursor,
        None if tts_id in (None, "") else str(tts_id),
        _int(event.webhook.get("type")),
        payload_text(event.webhook),
    )


def is_poison(exc: BaseException) -> bool:
    """Whether a re-read failure is final for the events that asked for it: TikTok refused the
    request itself (`ApiError`, e.g. 21008111 "order does not belong to this seller"), said a
    parameter is invalid (36009004), or answered something still malformed after the client's
    retries. Such an event is recorded as processed with an error instead of blocking the
    stream; timeouts, 5xx and rate limits are retried (the batch is replayed later), and so are
    storage failures.

    Other `ClientBugError`s (bad sign, missing shop_cipher, wrong path or version) are not
    about one event: every request fails alike, so isolating would dead-letter the whole
    stream. They are replayed with backoff, and the client logs them loudly."""
    if isinstance(exc, ReauthorizationRequired):
        return False
    if isinstance(exc, MalformedResponseError):
        return True
    if isinstance(exc, ClientBugError):
        return exc.code == OVERLOADED_PARAMETER_ERROR
    return isinstance(exc, TikTokError) and not exc.retryable


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def _ids(value: object) -> list[str]:
    """The ids in `value` that can be TikTok ids: ASCII letters and digits (TikTok's are
    decimal digits, as a string or a JSON integer).

    Anything else in a webhook (blank, commas, slashes, dots, control or fullwidth characters)
    would be refused by the API as a malformed request (36009004) for the whole batch, which
    would then be replayed forever, or would land in a request path; it is dropped here, and
    the event is only recorded.
    """
    if isinstance(value, list):
        return [
            text
            for text in (str(item) for item in value if not isinstance(item, bool))
            if 0 < len(text) <= 64 and text.isascii() and text.isalnum()
        ]
    return []


def _path_ids(value: object) -> list[str]:
    """`_ids` that can also stand in a request path (product details are read by
    `/product/202309/products/{id}`): decimal digits only, as TikTok's product ids are. A
    letter id there is 'Invalid path' (36009009), a client bug that no retry can fix."""
    return [text for text in _ids(value) if text.isdigit()]


@dataclass
class Plan:
    """What a batch of fresh (not duplicate) events asks to re-read, per shop."""

    orders: dict[str, set[str]] = field(default_factory=dict)
    skus: dict[str, set[str]] = field(default_factory=dict)
    products: dict[str, set[str]] = field(default_factory=dict)
    deauthorized: set[str] = field(default_factory=set)
    expiring: dict[str, float | None] = field(default_factory=dict)
    # Orders named by cancellation (11) and return (12) events: their stock is re-read.
    stock_orders: dict[str, set[str]] = field(default_factory=dict)

    def add(self, bucket: dict[str, set[str]], shop_id: str, ids: Iterable[str]) -> None:
        items = [item for item in ids if item]
        if items:
            bucket.setdefault(shop_id, set()).update(items)

    @property
    def empty(self) -> bool:
        return not (self.orders or self.skus or self.products)


def plan_events(events: Iterable[tuple[str, dict[str, Any]]]) -> Plan:
    """What to re-read for `(shop_id, webhook)` pairs. Pure: no I/O, unit-testable.

    What each topic points at comes from the wire module (`app.tiktok.webhooks.references`);
    this only keeps the ids that are safe to send to the Open API (`_ids`). `shop_id` is the
    relay's routing key, so an FBT inventory event (type 24, named by `seller_open_id`)
    arrives here with the paired shop."""
    plan = Plan()
    for shop_id, webhook in events:
        refs = references(webhook)
        plan.add(plan.orders, shop_id, _ids(list(refs.orders)))
        if refs.kind in STOCK_ORDER_TYPES:
            plan.add(plan.stock_orders, shop_id, _ids(list(refs.orders)))
        plan.add(plan.products, shop_id, _path_ids(list(refs.products)))
        plan.add(plan.skus, shop_id, _ids(list(refs.skus)))
        if refs.kind == WebhookType.SELLER_DEAUTHORIZATION:
            plan.deauthorized.add(shop_id)
        elif refs.kind == WebhookType.UPCOMING_AUTHORIZATION_EXPIRATION:
            plan.expiring[shop_id] = _expiry(refs.expiration_time)
    return plan


def _expiry(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@dataclass
class Fetched:
    """Fresh state read from the Open API for one shop."""

    orders: list[Order] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    inventory: list[InventoryProduct] = field(default_factory=list)
    deauthorized: bool = False

    @property
    def inventory_result(self) -> InventorySearchResult:
        return InventorySearchResult(inventory=self.inventory)


async def fetch_inventory(
    api: TikTokShopClient, shop: Shop, sku_ids: Iterable[str], priority: Priority
) -> list[InventoryProduct]:
    ids = sorted(set(sku_ids))
    found: list[InventoryProduct] = []
    for start in range(0, len(ids), MAX_INVENTORY_SKUS):
        part = ids[start : start + MAX_INVENTORY_SKUS]
        result = await api.search_inventory(shop, sku_ids=part, priority=priority)
        found.extend(result.inventory)
    return found


async def fetch_plan(
    api: TikTokShopClient,
    ctx: ShopContext,
    orders: set[str],
    skus: set[str],
    products: set[str],
    stored: dict[str, str] | None = None,
    stock_orders: set[str] | None = None,
) -> Fetched:
    """Re-read what a plan names for one shop: orders first, then the stock of the SKUs whose
    available quantity those orders moved (`moves_stock`), of inventory events' SKUs."""
    stored = stored or {}
    stock_orders = stock_orders or set()
    fetched = Fetched()
    hot = bool(ctx.hot_skus)
    order_lane = Priority.HIGH if hot else Priority.NORMAL
    try:
        if orders:
            fetched.orders = await api.get_orders(ctx.shop, sorted(orders), priority=order_lane)
        # Any failure propagates: a retryable one replays the batch later, a final one (see
        # `is_poison`) makes the sink isolate and record the event that asked for it.
        for product_id in sorted(products):
            fetched.products.append(
                await api.get_product(ctx.shop, product_id, priority=Priority.NORMAL)
            )
        stock = set(skus)
        for order in fetched.orders:
            if moves_stock(order, stored.get(order.id), order.id in stock_orders):
                stock.update(order.units_by_sku())
        for product in fetched.products:
            stock.difference_update(sku.id for sku in product.skus)
        if stock:
            lane = Priority.HIGH if hot and stock & ctx.hot_skus else Priority.NORMAL
            fetched.inventory = await fetch_inventory(api, ctx.shop, stock, lane)
    except ReauthorizationRequired:
        fetched = Fetched(deauthorized=True)
    return fetched


def moves_stock(order: Order, stored_status: str | None, flagged: bool) -> bool:
    """Whether this version of the order can have changed its SKUs' available stock.

    TikTok takes available units when an order is created and gives them back when it is
    cancelled; shipping and delivery move committed units, not available ones. So stock is
    re-read for orders we had not seen, orders that just became cancelled, and orders named by
    a cancellation or return event. Anything else is caught by inventory webhooks and by
    reconciliation, which re-reads every SKU's stock.
    """
    if stored_status is None or flagged:
        return True
    return order.status is OrderStatus.CANCELLED and stored_status != OrderStatus.CANCELLED


def apply_fetched(session: Session, shop_id: str, fetched: Fetched, at: int, cause: str) -> Touched:
    """Store one shop's fresh state; returns the SKUs whose sales or stock may have changed
    and the orders written."""
    touched: set[str] = set()
    written: list[str] = []
    if fetched.orders:
        upsert = upsert_orders(session, shop_id, fetched.orders, at)
        touched.update(upsert.skus)
        written = [*upsert.inserted, *upsert.updated]
    if fetched.products:
        changes = upsert_products(session, shop_id, fetched.products, at, cause)
        touched.update(change.sku_id for change in changes)
        touched.update(sku.id for product in fetched.products for sku in product.skus)
    if fetched.inventory:
        changes = upsert_inventory(session, shop_id, fetched.inventory_result, at, cause)
        touched.update(change.sku_id for change in changes)
    return Touched(frozenset(touched), frozenset(written))


@dataclass(frozen=True, slots=True)
class _Entry:
    event: RelayEvent
    #: What the store records of it (`record_webhooks`), with the key it is deduplicated by.
    webhook: DeliveredWebhook


class WebhookSink:
    """The relay consumer's sink: dedupe, re-read, commit with the cursor, report."""

    def __init__(
        self,
        db: Database,
        api: TikTokShopClient,
        shops: dict[str, ShopContext],
        clock_now: Callable[[], float],
        counters: SyncCounters,
        *,
        on_changed: ChangedCallback,
        on_link: LinkCallback,
        resync: Callable[[str], Any],
    ) -> None:
        self._db = db
        self._api = api
        self._shops = shops
        self._now = clock_now
        self._counters = counters
        self._on_changed = on_changed
        self._on_link = on_link
        self._resync = resync
        self._cursors: dict[str, str] = {}

    async def load_cursors(self) -> dict[str, str]:
        self._cursors = await self._db.read(get_cursors)
        return dict(self._cursors)

    def cursors(self) -> dict[str, str]:
        return dict(self._cursors)

    async def resync(self, shop_id: str) -> None:
        self._counters.resyncs += 1
        await self._resync(shop_id)

    async def apply(self, events: Sequence[RelayEvent]) -> None:
        entries: list[_Entry] = []
        for event in events:
            if event.shop_id not in self._shops:
                log.warning("event for a shop this engine does not sync; ignored")
                continue
            entries.append(_Entry(event, delivered_webhook(event)))
        self._counters.webhooks_received += len(entries)
        if entries:
            await self._apply_isolating(entries)

    async def _apply_isolating(self, entries: list[_Entry]) -> None:
        """Apply `entries`; if TikTok refuses a re-read for good, split the batch in halves
        (in delivery order, so cursors still only move forward) until the event that asked
        for it is alone, and record that one as processed with an error. The rest of the
        batch is applied normally. Retryable failures propagate: the consumer replays."""
        try:
            await self._apply_entries(entries)
        except Exception as exc:
            if not is_poison(exc):
                raise
            if len(entries) > 1:
                middle = len(entries) // 2
                await self._apply_isolating(entries[:middle])
                await self._apply_isolating(entries[middle:])
                return
            entry = entries[0]
            log.warning(
                "webhook type %d could not be applied (%s, code %s); recorded as failed",
                entry.webhook.type,
                type(exc).__name__,
                getattr(exc, "code", None),
            )
            await self._apply_entries(entries, failed=type(exc).__name__)

    async def _apply_entries(self, entries: list[_Entry], failed: str | None = None) -> None:
        keys = [entry.webhook.key for entry in entries]
        known = await self._db.read(lambda s: known_notifications(s, keys))
        seen: set[str] = set(known)
        fresh: list[_Entry] = []
        duplicates = 0
        for entry in entries:
            if entry.webhook.key in seen:
                duplicates += 1
            else:
                seen.add(entry.webhook.key)
                fresh.append(entry)
        # A failed (dead-letter) event is recorded without effect: nothing to re-read.
        plan = plan_events(
            (entry.event.shop_id, entry.event.webhook) for entry in ([] if failed else fresh)
        )
        fetched: dict[str, Fetched] = {}
        all_orders = sorted({o for ids in plan.orders.values() for o in ids})
        targets = [
            shop_id
            for shop_id, ctx in self._shops.items()
            if (plan.orders.get(shop_id) or plan.skus.get(shop_id) or plan.products.get(shop_id))
            and not ctx.deauthorized
        ]
        async with contextlib.AsyncExitStack() as locks:
            # Stock is not versioned: a stock read and its commit must not interleave with
            # the reconciler's, or an older read could be committed over a newer one.
            for shop_id in sorted(targets):
                await locks.enter_async_context(self._shops[shop_id].stock_lock)
            stored = (
                await self._db.read(lambda s: stored_statuses(s, all_orders)) if all_orders else {}
            )
            for shop_id in targets:
                ctx = self._shops[shop_id]
                fetched[shop_id] = await fetch_plan(
                    self._api,
                    ctx,
                    plan.orders.get(shop_id, set()),
                    plan.skus.get(shop_id, set()),
                    plan.products.get(shop_id, set()),
                    stored,
                    plan.stock_orders.get(shop_id, set()),
                )
            at = int(self._now())
            now_wall = time.time()

            def commit(session: Session) -> dict[str, Touched]:
                touched: dict[str, Touched] = {}
                for shop_id, shop_fetched in fetched.items():
                    touched[shop_id] = apply_fetched(
                        session, shop_id, shop_fetched, at, StockCause.WEBHOOK
                    )
                for shop_id in plan.deauthorized:
                    mark_shop_deauthorized(session, shop_id, at)
                record_webhooks(
                    session, [entry.webhook for entry in entries], now_wall, error_kind=failed
                )
                return touched

            touched = await self._db.write(commit)
        committed = time.time()
        for entry in entries:
            self._cursors[entry.event.shop_id] = entry.event.cursor
        if failed:
            self._counters.webhooks_failed += len(fresh)
        else:
            for entry in fresh:
                self._counters.latency.add((committed - entry.event.received_at) * 1000.0)
            self._counters.webhooks_applied += len(fresh)
        self._counters.duplicates_ignored += duplicates
        self._counters.last_sync_at = self._now()
        for shop_id, shop_fetched in fetched.items():
            if shop_fetched.deauthorized:
                self._shops[shop_id].deauthorized = True
                self._on_link(shop_id, LinkState.DEAUTHORIZED, "authorization revoked", None)
        for shop_id in plan.deauthorized:
            self._shops[shop_id].deauthorized = True
            self._on_link(shop_id, LinkState.DEAUTHORIZED, "the seller deauthorized the app", None)
        for shop_id, expires in plan.expiring.items():
            if shop_id not in plan.deauthorized:
                self._on_link(shop_id, LinkState.EXPIRING, "authorization expires soon", expires)
        for shop_id, what in touched.items():
            self._on_changed(shop_id, what)
