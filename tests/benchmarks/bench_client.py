"""API client benchmarks (issue 4): budget use, priority, CPU overhead, relay signing latency.

Run: `.venv/bin/python -m tests.benchmarks client`. The sandbox runs in a *separate process*
(so the client's CPU time is the client's alone) and enforces the same per app x shop rate the
client is configured with. Figures are printed next to their targets; nothing fails on a
number. The machine is shared: expect noise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from app.tiktok.client import ClientSettings, TikTokShopClient, _envelope_for
from app.tiktok.credentials import MemoryCredentialStore
from app.tiktok.metrics import ClientMetrics
from app.tiktok.models import OrderPage, Shop, validate_json
from app.tiktok.oauth import DirectTokenExchanger, TokenManager, new_state, parse_redirect
from app.tiktok.ratelimit import LimiterConfig, Priority, PriorityRateLimiter
from app.tiktok.redact import register_secret
from app.tiktok.signer import LocalSigner, RelaySigner, Signer

RATE_PER_MINUTE = 1000.0
BUDGET_SECONDS = 30.0
PRIORITY_SECONDS = 15.0

_SERVER = """
import sys
from app.sandbox import SandboxConfig, run_sandbox
qps, orders_per_hour, advance = (float(arg) for arg in sys.argv[1:4])
config = SandboxConfig(seed=5, qps=qps, speed=0.0, products=40, orders_per_hour=orders_per_hour)
with run_sandbox(config) as sandbox:
    sandbox.clock.advance(advance)
    sandbox.stats()
    print(sandbox.base_url, sandbox.service_id, flush=True)
    sys.stdin.read()
"""


_RELAY = """
import sys
from relay.config import RelayConfig
from relay.server import run_relay
config = RelayConfig.from_env(
    db=sys.argv[1], port=0, tiktok_api=sys.argv[2], tiktok_auth=sys.argv[2],
    sign_rate=1e6, sign_burst=1e6, log_level="WARNING",
)
with run_relay(config) as relay:
    print(relay.base_url, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def relay_process(db: str, upstream: str) -> Iterator[str]:
    """The relay in its own process (secrets through the environment, never argv)."""
    from app.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

    env = dict(os.environ)
    env["VIRALSTOCK_RELAY_APP_KEY"] = DEFAULT_APP_KEY
    env["VIRALSTOCK_RELAY_APP_SECRET"] = DEFAULT_APP_SECRET
    proc = subprocess.Popen(
        [sys.executable, "-c", _RELAY, db, upstream],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def sandbox_process(
    qps: float, orders_per_hour: float = 8.0, advance: float = 86_400.0
) -> Iterator[tuple[str, str]]:
    """A sandbox in its own process; yields (base_url, service_id)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(qps), str(orders_per_hour), str(advance)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url, service_id = proc.stdout.readline().split()
        yield base_url, service_id
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _stats(base_url: str) -> dict[str, Any]:
    return dict(httpx.get(base_url + "/_sandbox/stats", timeout=5).json())


async def _authorize(base_url: str, service_id: str) -> TokenManager:
    """The real seller flow: authorization link -> 302 with code and state -> token exchange."""
    from app.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

    state = new_state()
    link = f"{base_url}/open/authorize?" + urlencode(
        {"service_id": service_id, "state": state, "redirect_uri": "http://127.0.0.1:9/cb"}
    )
    async with httpx.AsyncClient(timeout=10) as http:
        redirect = await http.get(link)
    code = parse_redirect(redirect.headers["location"], state)
    exchanger = DirectTokenExchanger(DEFAULT_APP_KEY, DEFAULT_APP_SECRET, auth_base_url=base_url)
    grant = await exchanger.exchange(code)
    # The sandbox's simulated clock is frozen (speed 0): compare expiry on *its* clock.
    frozen = grant.tokens.access_token_expire_in - 7 * 86_400
    return TokenManager(
        DEFAULT_APP_KEY,
        exchanger,
        MemoryCredentialStore(),
        tokens=grant.tokens,
        clock=lambda: frozen,
    )


def _local_signer() -> LocalSigner:
    from app.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

    return LocalSigner(DEFAULT_APP_KEY, DEFAULT_APP_SECRET)


class RecordingLimiter(PriorityRateLimiter):
    """The real limiter, also recording how long each lane waited for its token."""

    def __init__(self, config: LimiterConfig) -> None:
        super().__init__(config)
        self.waits: dict[Priority, list[float]] = {p: [] for p in Priority}

    async def acquire(self, key: Hashable, priority: Priority = Priority.NORMAL) -> float:
        waited = await super().acquire(key, priority)
        self.waits[priority].append(waited)
        return waited


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _client(
    base_url: str,
    service_id: str,
    *,
    rate: float,
    signer: Signer | None = None,
    limiter: Any = None,
) -> tuple[TikTokShopClient, Shop]:
    tokens = await _authorize(base_url, service_id)
    settings = ClientSettings(
        open_api_base_url=base_url, auth_base_url=base_url, requests_per_minute=rate
    )
    client = TikTokShopClient(signer or _local_signer(), tokens, settings, limiter=limiter)
    shop = (await client.authorized_shops())[0]
    return client, shop


# --- 1. budget use -----------------------------------------------------------------------------


async def bench_budget() -> None:
    qps = RATE_PER_MINUTE / 60.0
    with sandbox_process(qps=qps) as (base_url, service_id):
        client, shop = await _client(base_url, service_id, rate=RATE_PER_MINUTE)
        product_id = next(iter((await client.search_products_page(shop, page_size=1)).products)).id
        await asyncio.sleep(2.0)  # let both buckets refill after set-up
        limited_before = _stats(base_url)["rate_limited"]
        done: list[float] = []
        failures = 0

        async def one() -> None:
            nonlocal failures
            try:
                await client.get_product(shop, product_id)
                done.append(time.monotonic())
            except Exception:
                failures += 1

        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        interval = 1.0 / (3 * qps)
        next_at = started
        while (now := time.monotonic()) < started + BUDGET_SECONDS:
            while next_at <= now:
                task = asyncio.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        ended = time.monotonic()
        pending = len(tasks)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        limited = _stats(base_url)["rate_limited"] - limited_before
        snap = client.snapshot()
        await client.aclose()
    completed = sum(1 for t in done if t <= ended)
    budget = qps * BUDGET_SECONDS
    steady = [t for t in done if started + 5 <= t <= ended]
    steady_rate = len(steady) / (ended - started - 5)
    print(f"budget use: offered 3x {RATE_PER_MINUTE:.0f}/min for {BUDGET_SECONDS:.0f} s")
    print(
        f"  completed {completed} of a {budget:.0f}-request budget = {completed / budget:.1%}"
        f"   (target >= 97%; includes the initial 1 s burst)"
    )
    print(f"  steady-state rate after 5 s: {steady_rate / qps:.1%} of budget   (target >= 97%)")
    print(f"  HTTP 429 from the sandbox: {limited}   (target 0)")
    print(f"  429s seen by the client: {snap.rate_limited}")
    print(f"  failures {failures}; still queued at the end (then cancelled): {pending}")


# --- 2. priority -------------------------------------------------------------------------------


async def bench_priority() -> None:
    qps = RATE_PER_MINUTE / 60.0
    interval = 1.0 / qps
    limiter = RecordingLimiter(LimiterConfig(requests_per_minute=RATE_PER_MINUTE))
    # The sandbox enforces 10% above the client's rate here: this measures the lanes, not the
    # reaction to a jitter-induced 429 on a loaded machine (budget use covers 429s).
    with sandbox_process(qps=qps * 1.1) as (base_url, service_id):
        client, shop = await _client(base_url, service_id, rate=RATE_PER_MINUTE, limiter=limiter)
        product_id = next(iter((await client.search_products_page(shop, page_size=1)).products)).id
        stop = asyncio.Event()

        async def backfill() -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    await client.get_product(shop, product_id, priority=Priority.LOW)

        workers = [asyncio.create_task(backfill()) for _ in range(60)]
        await asyncio.sleep(2.0)
        limiter.waits[Priority.HIGH].clear()
        limited_before = _stats(base_url)["rate_limited"]
        depth = []
        rng = random.Random(7)
        deadline = time.monotonic() + PRIORITY_SECONDS
        highs: list[asyncio.Task[Any]] = []
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.expovariate(5.0))
            depth.append(limiter.queue_depths()[Priority.LOW])
            highs.append(
                asyncio.create_task(client.get_product(shop, product_id, priority=Priority.HIGH))
            )
        await asyncio.gather(*highs, return_exceptions=True)
        stop.set()
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        limited = _stats(base_url)["rate_limited"] - limited_before
        await client.aclose()
    waits = limiter.waits[Priority.HIGH]
    print(f"priority: low lane saturated (median queue depth {statistics.median(depth):.0f}),")
    print(f"  {len(waits)} high-priority requests at ~5/s for {PRIORITY_SECONDS:.0f} s")
    p50, p99 = _pct(waits, 0.5) / interval, _pct(waits, 0.99) / interval
    print(
        f"  high wait p50 {p50:.2f}, p99 {p99:.2f}, max {max(waits) / interval:.2f}"
        " token intervals   (target p99 <= 1.5)"
    )
    print(f"  HTTP 429 from the sandbox (enforcing 1.1x the rate) during the run: {limited}")


# --- 3. CPU overhead ---------------------------------------------------------------------------


def _cpu() -> float:
    """Process CPU time, user + system (the sandbox is another process: not counted)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _cpu_per_call(fn: Callable[[], Awaitable[object]], n: int, rounds: int = 3) -> float:
    """Best-of-`rounds` process CPU seconds per awaited call of `fn` (in-process, no network)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(n):
            await fn()
        best = min(best, (time.process_time() - t0) / n)
    return best


async def bench_cpu() -> None:
    n, rounds = 200, 5
    with sandbox_process(qps=0, orders_per_hour=40.0, advance=2 * 86_400) as (base_url, service_id):
        client, shop = await _client(base_url, service_id, rate=1e9)
        page = await client.search_orders_page(shop, page_size=50)
        assert len(page.orders) == 50, len(page.orders)
        lines = sum(len(order.line_items) for order in page.orders)
        signer = _local_signer()
        access = await client.tokens.access_token()
        path = "/order/202309/orders/search"

        def signed_url(size: int, sign: str | None = None) -> tuple[list[tuple[str, str]], str]:
            query = [
                ("app_key", signer.app_key),
                ("timestamp", str(int(time.time()))),
                ("page_size", str(size)),
                ("shop_cipher", shop.cipher),
            ]
            if sign is not None:
                query.append(("sign", sign))
            return query, f"{base_url}{path}?{urlencode(query)}"

        async def bare_request(http: httpx.AsyncClient, size: int) -> bytes:
            """The transport floor: the same signed HTTP exchange, with no client around it."""
            query, _ = signed_url(size)
            _, url = signed_url(size, await signer.sign(path, query, None, "application/json"))
            response = await http.post(
                url, headers={"x-tts-access-token": access, "content-type": "application/json"}
            )
            return response.content

        async with httpx.AsyncClient() as bare:
            raw_full, raw_small = await bare_request(bare, 50), await bare_request(bare, 1)
            floor: list[float] = []
            floor_small: list[float] = []
            small: list[float] = []
            full: list[float] = []
            for _ in range(rounds):  # interleaved; the best of each is the least disturbed
                for _ in range(10):
                    await bare_request(bare, 50)
                    await client.search_orders_page(shop, page_size=1)
                for figures, request in (
                    (floor, lambda: bare_request(bare, 50)),
                    (floor_small, lambda: bare_request(bare, 1)),
                    (small, lambda: client.search_orders_page(shop, page_size=1)),
                    (full, lambda: client.search_orders_page(shop, page_size=50)),
                ):
                    cpu0 = _cpu()
                    for _ in range(n):
                        await request()
                    figures.append((_cpu() - cpu0) / n)

        # --- stages, in-process, no network: what one request costs piece by piece ---------
        m = 2000
        stages: dict[str, float] = {}
        limiter = PriorityRateLimiter(LimiterConfig(requests_per_minute=1e9))
        stages["limiter acquire"] = await _cpu_per_call(
            lambda: limiter.acquire(("app", "shop"), Priority.NORMAL), m
        )

        async def token() -> None:
            register_secret(await client.tokens.access_token())

        stages["access token + secret registry"] = await _cpu_per_call(token, m)
        query, _ = signed_url(50)
        stages["signing (HMAC-SHA256)"] = await _cpu_per_call(
            lambda: signer.sign(path, query, None, "application/json"), m
        )
        query.append(("sign", "f" * 64))

        async def encode_url() -> str:
            return f"{base_url}{path}?{urlencode(query, quote_via=quote)}"

        url = await encode_url()
        stages["query string"] = await _cpu_per_call(encode_url, m)

        def mock(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=raw_full)

        async with httpx.AsyncClient(transport=httpx.MockTransport(mock)) as layer:

            async def httpx_layer() -> bytes:
                response = await layer.request(
                    "POST",
                    url,
                    headers={"x-tts-access-token": access, "content-type": "application/json"},
                )
                return response.content

            stages["httpx client layer (no pool, no socket)"] = await _cpu_per_call(
                httpx_layer, m // 4
            )

        envelope = _envelope_for(OrderPage)

        async def parse_full() -> object:
            return validate_json(envelope, raw_full)

        async def parse_small() -> object:
            return validate_json(envelope, raw_small)

        stages["parse: envelope + 50-order page"] = await _cpu_per_call(parse_full, m // 4, 5)
        parse_small_us = await _cpu_per_call(parse_small, m) * 1e6
        metrics = ClientMetrics(60.0)

        async def record() -> None:
            metrics.record_attempt(0.001, ok=True)
            metrics.record_call(ok=True)

        stages["metrics"] = await _cpu_per_call(record, m)
        await client.aclose()
    best_floor, best_floor_small = min(floor), min(floor_small)
    best_small, best_full = min(small), min(full)
    kib = len(raw_full) // 1024
    print(f"CPU per request, local signing (best of {rounds} rounds of {n}; user+system):")
    print(
        f"  50-order page ({lines} line items, {kib} KiB as the sandbox sends it): "
        f"{best_full * 1e6:.0f} us total   (target < 300 us)"
    )
    print(f"  1-order page: {best_small * 1e6:.0f} us total")
    print(
        "  transport floor (the same signed request by bare httpx, body unparsed):"
        f" 50-order {best_floor * 1e6:.0f} us, 1-order {best_floor_small * 1e6:.0f} us"
    )
    print(
        "  client overhead above that floor (queueing, signing, envelope + model validation,"
        f" metrics): 50-order {(best_full - best_floor) * 1e6:.0f} us,"
        f" 1-order {(best_small - best_floor_small) * 1e6:.0f} us   (target < 300 us)"
    )
    print(
        f"  parse only (validate_json of the sandbox's own bytes): 50-order page"
        f" {stages['parse: envelope + 50-order page'] * 1e6:.0f} us, 1-order {parse_small_us:.0f} us"
    )
    print("  per-stage CPU, in-process (best of 3; the rest of the total is httpcore/h11/socket):")
    for name, seconds in stages.items():
        print(f"    {name:42s} {seconds * 1e6:7.1f} us")
    print(f"    {'sum of these stages':42s} {sum(stages.values()) * 1e6:7.1f} us")


# --- 4. relay signing -------------------------------------------------------------------------


async def bench_relay() -> None:
    try:
        import relay.server  # noqa: F401 - only to know whether the relay is here
    except ImportError:
        print("relay signing: relay.server.run_relay is not available; skipped")
        return
    import tempfile

    from app.sandbox import DEFAULT_APP_KEY
    from app.tiktok.oauth import RelayTokenExchanger

    n = 200
    with (
        sandbox_process(qps=0) as (base_url, service_id),
        tempfile.TemporaryDirectory() as tmp,
        relay_process(f"{tmp}/relay.sqlite3", base_url) as relay_url,
    ):
        state = new_state()
        link = f"{base_url}/open/authorize?" + urlencode(
            {"service_id": service_id, "state": state, "redirect_uri": "http://127.0.0.1:9/cb"}
        )
        async with httpx.AsyncClient(timeout=10) as http:
            code = parse_redirect((await http.get(link)).headers["location"], state)
        grant = await RelayTokenExchanger(relay_url).exchange(code)
        assert grant.subscriber_token
        shop = grant.shops[0]
        frozen = grant.tokens.access_token_expire_in - 7 * 86_400
        tokens = TokenManager(
            DEFAULT_APP_KEY,
            RelayTokenExchanger(relay_url, subscriber_token=grant.subscriber_token),
            MemoryCredentialStore(),
            tokens=grant.tokens,
            clock=lambda: frozen,
        )
        settings = ClientSettings(open_api_base_url=base_url, requests_per_minute=1e9)
        relay_signer = RelaySigner(relay_url, DEFAULT_APP_KEY, grant.subscriber_token)
        local = TikTokShopClient(_local_signer(), tokens, settings)
        vendor = TikTokShopClient(relay_signer, tokens, settings)
        timings: dict[str, list[float]] = {"local": [], "relay": []}
        for _ in range(10):
            await local.search_orders_page(shop, page_size=1)
            await vendor.search_orders_page(shop, page_size=1)
        for _ in range(n):
            for name, client in (("local", local), ("relay", vendor)):
                t0 = time.perf_counter()
                await client.search_orders_page(shop, page_size=1)
                timings[name].append(time.perf_counter() - t0)
        await local.aclose()
        await vendor.aclose()
        await relay_signer.aclose()
    local_ms = statistics.median(timings["local"]) * 1e3
    relay_ms = statistics.median(timings["relay"]) * 1e3
    print(f"relay signing over loopback ({n} sequential requests each, interleaved):")
    print(f"  median latency local signing {local_ms:.2f} ms, relay signing {relay_ms:.2f} ms")
    print(
        f"  added latency per request: {relay_ms - local_ms:.2f} ms median,"
        f" {(statistics.mean(timings['relay']) - statistics.mean(timings['local'])) * 1e3:.2f} ms"
        " mean   (printed, no target)"
    )
    print("  (sandbox, relay and client each in their own process)")


def main() -> None:
    print("machine shared with other jobs: figures are noisy")
    asyncio.run(bench_cpu())
    asyncio.run(bench_priority())
    asyncio.run(bench_budget())
    asyncio.run(bench_relay())


if __name__ == "__main__":
    main()
