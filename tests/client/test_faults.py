"""Recovery from the sandbox's injected faults, and no request lost or sent twice."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from email.utils import formatdate
from typing import Any

import pytest

from app.tiktok.client import TikTokShopClient
from app.tiktok.credentials import MemoryCredentialStore
from app.tiktok.errors import (
    AmbiguousWriteError,
    ClientBugError,
    ReauthorizationRequired,
    TokenExpiredError,
    TransientError,
)
from app.tiktok.models import OrderPage, Shop
from app.tiktok.oauth import DirectTokenExchanger, TokenManager
from app.tiktok.ratelimit import Priority
from app.tiktok.redact import fingerprint
from app.tiktok.signer import LocalSigner
from tests.client.conftest import Connected, connect_own_app, fast_settings, sandbox_requests

pytestmark = pytest.mark.timeout(30)


async def _write(conn: Connected) -> OrderPage:
    """A request the caller marks as a write (`idempotent=False`): ViralStock sends none of
    its own, but the client's rule for one (never replayed after an ambiguous failure) holds
    for whatever `call` is told may not be repeated."""
    page, _ = await conn.client.call(
        "POST",
        "/order/202309/orders/search",
        OrderPage,
        shop=conn.shop,
        query={"page_size": 5},
        idempotent=False,
    )
    return page


async def test_5xx_reads_are_retried_and_none_lost(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        products = [p async for p in client.iter_products(conn.shop)]
        sandbox.faults.error_rate = 0.4
        wanted = [products[i % len(products)].id for i in range(30)]
        got = await asyncio.gather(*(client.get_product(conn.shop, pid) for pid in wanted))
        snap = client.snapshot()
    assert [product.id for product in got] == wanted
    assert snap.error_rate > 0.1
    assert snap.success_rate == 1.0


async def test_persistent_5xx_gives_up_after_max_attempts(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox, settings=fast_settings(sandbox.base_url, max_attempts=3))
    async with conn.client as client:
        sandbox.faults.error_rate = 1.0
        before = sandbox_requests(sandbox)
        with pytest.raises(TransientError) as caught:
            await client.search_orders_page(conn.shop)
        assert sandbox_requests(sandbox) - before == 3
        assert caught.value.code == 36009003 and caught.value.request_id


async def test_write_is_not_replayed_after_a_5xx(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client:
        sandbox.faults.error_rate = 1.0
        before = sandbox_requests(sandbox)
        with pytest.raises(AmbiguousWriteError) as caught:
            await _write(conn)
        assert sandbox_requests(sandbox) - before == 1
        assert caught.value.request_id


async def test_timeouts_retry_reads_but_not_writes(sandbox: Any) -> None:
    settings = fast_settings(sandbox.base_url, timeout=0.15, max_attempts=2)
    conn = await connect_own_app(sandbox, settings=settings)
    async with conn.client as client:
        sandbox.faults.latency = 0.4
        before = sandbox_requests(sandbox)
        with pytest.raises(TransientError):
            await client.search_orders_page(conn.shop)
        await asyncio.sleep(0.5)  # let the sandbox finish the abandoned requests
        assert sandbox_requests(sandbox) - before == 2
        before = sandbox_requests(sandbox)
        with pytest.raises(AmbiguousWriteError):
            await _write(conn)
        await asyncio.sleep(0.5)
        assert sandbox_requests(sandbox) - before == 1


async def test_429_burst_slows_down_and_retries_even_writes(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        budget = (sandbox.app_key, conn.shop.id)
        configured = client.limiter.current_rate(budget)
        sandbox.faults.burst_429(3)
        before = sandbox_requests(sandbox)
        page = await client.search_orders_page(conn.shop)
        assert page.total_count > 0
        assert sandbox_requests(sandbox) - before == 4
        assert client.snapshot().rate_limited == 3
        assert client.limiter.current_rate(budget) < configured
        # a throttled write was not processed, so it is safe (and right) to send it again
        sandbox.faults.burst_429(2)
        before = sandbox_requests(sandbox)
        assert (await _write(conn)).total_count > 0
        assert sandbox_requests(sandbox) - before == 3


async def test_expired_token_refreshes_once_for_many_callers(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    tokens = conn.tokens
    # Our clock lags TikTok's (the token looks fresh to us), so TikTok answers 105002.
    frozen = sandbox.clock.now()
    tokens._clock = lambda: frozen
    sandbox.clock.advance(8 * 86_400)
    async with conn.client as client:
        pages = await asyncio.gather(
            *(client.search_orders_page(conn.shop, page_size=5) for _ in range(20))
        )
        assert all(page.total_count > 0 for page in pages)
        assert tokens.refresh_count == 1
        # the refreshed token went to the store, keyed by app and shop
        stored = conn.store.get(sandbox.app_key, conn.shop.id, "tokens")
        assert stored is not None
        assert tokens.tokens is not None
        assert tokens.tokens.access_token.get_secret_value() in stored


async def test_expired_token_error_keeps_only_a_fingerprint(sandbox: Any) -> None:
    """The 105002 error that triggers the refresh names the stale token by fingerprint only."""
    conn = await connect_own_app(sandbox)
    assert conn.tokens.tokens is not None
    old = conn.tokens.tokens.access_token.get_secret_value()
    seen: list[tuple[str | None, BaseException | None]] = []

    class Recording:
        async def access_token(self) -> str:
            return await conn.tokens.access_token()

        async def refresh(self, stale_fingerprint: str | None = None) -> str:
            seen.append((stale_fingerprint, sys.exc_info()[1]))  # the error being handled
            return await conn.tokens.refresh(stale_fingerprint)

    frozen = sandbox.clock.now()
    conn.tokens._clock = lambda: frozen  # our clock lags: TikTok answers 105002
    sandbox.clock.advance(8 * 86_400)
    client = TikTokShopClient(conn.client.signer, Recording(), fast_settings(sandbox.base_url))
    async with client, conn.client:
        assert (await client.search_orders_page(conn.shop)).total_count > 0
    assert len(seen) == 1 and conn.tokens.refresh_count == 1
    stale, error = seen[0]
    assert isinstance(error, TokenExpiredError) and error.code == 105002
    assert stale == fingerprint(old) and old not in stale
    assert old not in repr(vars(error)) and old not in str(error)
    # a second caller with the same stale fingerprint gets the new token, no second refresh
    assert await conn.tokens.refresh(stale) != old
    assert conn.tokens.refresh_count == 1


async def test_refresh_ahead_of_expiry_avoids_105002(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox, refresh_ahead=3600)
    assert conn.tokens.tokens is not None
    expiry = conn.tokens.tokens.access_token_expire_in
    sandbox.clock.advance(expiry - sandbox.clock.now() - 600)  # 10 minutes left
    async with conn.client as client:
        await asyncio.gather(*(client.search_orders_page(conn.shop) for _ in range(5)))
        assert conn.tokens.refresh_count == 1
        assert client.snapshot().error_rate == 0.0


async def test_revoked_authorization_asks_to_reauthorize(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        sandbox.revoke(conn.shop.id)
        before = sandbox_requests(sandbox)
        with pytest.raises(ReauthorizationRequired) as caught:
            await client.search_orders_page(conn.shop)
        assert sandbox_requests(sandbox) - before == 1
        assert caught.value.code == 105001 and caught.value.request_id
        # and a refresh cannot bring it back
        with pytest.raises(ReauthorizationRequired):
            await conn.tokens.refresh()


async def test_bugs_are_loud_and_never_retried(
    sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    conn = await connect_own_app(sandbox)
    wrong = TikTokShopClient(
        LocalSigner(sandbox.app_key, "not-the-secret"), conn.tokens, fast_settings(sandbox.base_url)
    )
    async with conn.client as client, wrong:
        before = sandbox_requests(sandbox)
        with (
            caplog.at_level(logging.ERROR, logger="app.tiktok.client"),
            pytest.raises(ClientBugError) as caught,
        ):
            await wrong.search_orders_page(conn.shop)
        assert caught.value.code == 106001
        assert sandbox_requests(sandbox) - before == 1
        assert "106001" in caplog.text
        # shop_cipher where none is accepted, and missing where it is required
        with pytest.raises(ClientBugError, match="shop_cipher"):
            await client.call("GET", "/authorization/202309/shops", Shop, shop=conn.shop)
        with pytest.raises(ClientBugError) as missing:
            await client.call("POST", "/order/202309/orders/search", Shop, query={"page_size": 5})
        assert missing.value.code == 106013


async def test_malformed_answers_are_logged_and_retried(
    sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        before = sandbox_requests(sandbox)
        sandbox.faults.burst_malformed(2)  # HTML junk where the JSON envelope should be
        with caplog.at_level(logging.WARNING, logger="app.tiktok.client"):
            page = await client.search_orders_page(conn.shop)
        assert page.total_count > 0
        assert sandbox_requests(sandbox) - before == 3
        assert caplog.text.count("malformed response") == 2
        sandbox.faults.burst_truncated(1)  # the JSON cut in half
        assert (await client.search_orders_page(conn.shop)).total_count > 0
        # a write whose answer is garbled may have happened: not replayed
        before = sandbox_requests(sandbox)
        sandbox.faults.burst_malformed(1)
        with pytest.raises(AmbiguousWriteError):
            await _write(conn)
        assert sandbox_requests(sandbox) - before == 1
        assert sandbox.stats()["garbled_injected"] >= 4


async def test_cancelled_callers_free_their_place_and_send_nothing(sandbox: Any) -> None:
    settings = fast_settings(sandbox.base_url, requests_per_minute=120, burst=2)  # 2 per second
    conn = await connect_own_app(sandbox, settings=settings)
    async with conn.client as client:
        await client.search_orders_page(conn.shop)  # the bucket is now down to the HIGH reserve
        before = sandbox_requests(sandbox)
        queued = [
            asyncio.create_task(client.search_orders_page(conn.shop, priority=Priority.LOW))
            for _ in range(10)
        ]
        await asyncio.sleep(0.05)
        assert client.snapshot().queue_depth["low"] == 10
        for task in queued:
            task.cancel()
        results = await asyncio.gather(*queued, return_exceptions=True)
        assert all(isinstance(result, asyncio.CancelledError) for result in results)
        assert client.snapshot().queue_depth == {"high": 0, "normal": 0, "low": 0}
        assert sandbox_requests(sandbox) == before  # nothing was sent for them
        started = time.monotonic()
        await client.search_orders_page(conn.shop, priority=Priority.HIGH)
        assert time.monotonic() - started < 1.0  # the reserve was still there (no 0.5 s wait)


async def test_failed_early_refresh_keeps_the_still_valid_token(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    with socket.socket() as probe:  # a port nobody listens on: the auth host is "down"
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    unreachable = DirectTokenExchanger(sandbox.app_key, sandbox.app_secret, auth_base_url=dead)
    tokens = TokenManager(
        sandbox.app_key,
        unreachable,
        MemoryCredentialStore(),
        tokens=conn.tokens.tokens,
        refresh_ahead=30 * 86_400,  # always "about to expire"
        clock=sandbox.clock.now,
    )
    settings = fast_settings(sandbox.base_url, max_attempts=2)
    client = TikTokShopClient(conn.client.signer, tokens, settings)
    async with client, conn.client:
        assert (await client.search_orders_page(conn.shop)).total_count > 0
        assert tokens.refresh_count == 0
        sandbox.clock.advance(8 * 86_400)  # now it has really expired: no way around a refresh
        with pytest.raises(TransientError):
            await client.search_orders_page(conn.shop)
    await unreachable.aclose()


async def test_retry_after_is_honoured(sandbox: Any) -> None:
    conn = await connect_own_app(sandbox)
    async with conn.client as client:
        sandbox.faults.retry_after = "0.6"
        sandbox.faults.burst_429(1)
        before = sandbox_requests(sandbox)
        started = time.monotonic()
        page = await client.search_orders_page(conn.shop)
        waited = time.monotonic() - started
        assert page.total_count > 0
        assert waited >= 0.6  # not before the server said so
        assert sandbox_requests(sandbox) - before == 2
        assert client.snapshot().rate_limited == 1


def _http_date(seconds_from_now: float) -> str:
    return formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("header", "honoured"),
    [
        ("86400", True),  # a day: cut to the cap, not a paused shop
        (_http_date(86_400), True),
        ("inf", False),  # would be asyncio.sleep(inf)
        ("nan", False),
        ("-5", False),
        ("soon, maybe", False),
    ],
)
async def test_unusable_or_huge_retry_after_is_bounded(
    sandbox: Any, header: str, honoured: bool
) -> None:
    cap = 0.4
    settings = fast_settings(sandbox.base_url, retry_after_cap=cap)
    conn = await connect_own_app(sandbox, settings=settings)
    async with conn.client as client:
        sandbox.faults.retry_after = header
        sandbox.faults.burst_429(1)
        before = sandbox_requests(sandbox)
        started = time.monotonic()
        # Bounded: a hang (sleep(inf), a day's pause) fails here instead of blocking CI.
        page = await asyncio.wait_for(client.search_orders_page(conn.shop), 10)
        waited = time.monotonic() - started
        assert page.total_count > 0
        assert sandbox_requests(sandbox) - before == 2
        if honoured:
            assert waited >= cap  # the capped hint is still honoured
