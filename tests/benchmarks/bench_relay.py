"""Relay throughput and latency beside smee.io, measured in the same run (issue 17).

Setup: each server pinned to core 0; wrk with a Lua script as the load generator and one
subscriber per server (threads of this process) on core 1; signed ~620-byte webhooks with
distinct notification ids, keep-alive HTTP, 1/16/64 in flight, after a warm-up, each point run
twice in alternating order. Latency runs from wrk's clock just before it writes the POST
(recorded per id in the Lua script) to the event's arrival at the subscriber: a WebSocket for
the relay, Server-Sent Events for smee.io.

smee.io is run from a checkout given in `SMEE_DIR` (`git clone` of probot/smee.io, then
`npm ci --omit=dev` there; nothing of it is copied into this project). It gets the same bodies,
the same load generator and one subscriber of its own; it verifies nothing and stores nothing.
Without `SMEE_DIR` the relay is measured alone and no smee figure is printed. The bare-ASGI
ceiling (verify the HMAC, answer 200) is measured in the same run on the same core; the relay's
webhook POST bypasses that ASGI layer (relay/edge.py's fast path), so it can exceed it. The
relays run with their default limits, so a 429 from the per-IP refusal budget would show.
`RELAY_BENCH_PARTS=ceiling,side,rate,sweep` picks parts (all by default). Figures on a shared
machine are noisy; this benchmark never fails on a number.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import websockets

from app.sync.consumer import STREAM_COMPRESSION
from app.tiktok.signing import verify_webhook, webhook_signature

APP_KEY = "benchkey"
APP_SECRET = "benchsecret"
SHOP = "7495540735365777507"
DURATION = 4
WARMUP = 1
ROUNDS = int(os.environ.get("RELAY_BENCH_ROUNDS", "2"))
# RELAY_BENCH_CONCURRENCY=1,16, RELAY_BENCH_SYNC=normal and RELAY_BENCH_ROUNDS=4 shape the
# side-by-side part.
CONCURRENCY = tuple(int(c) for c in os.environ.get("RELAY_BENCH_CONCURRENCY", "1,16,64").split(","))
SYNCS = tuple(os.environ.get("RELAY_BENCH_SYNC", "full,normal").split(","))
# Issue 17: at least 2x smee.io at 16 and 64 in flight with synchronous=FULL, at least smee at
# 1 in flight (FULL, or the documented NORMAL mode), p99 POST -> subscriber <= 10 ms at 16.
TARGET_RATIO = {1: 1.0, 16: 2.0, 64: 2.0}
TARGET_P99_16_MS = 10.0
SMEE_CHANNEL = "viralstock-bench"
ROOT = Path(__file__).resolve().parents[2]

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } vs_timespec;
int clock_gettime(int clk_id, vs_timespec *tp);
]]
local ts = ffi.new("vs_timespec")
local reqs, ids, idx, out = {}, {}, 0, nil
local rate_delay, rate = 0, 0

function init(args)
  local path = args[4] or "/webhooks/tiktok"
  for line in io.lines(args[1]) do
    local id, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
    ids[#ids + 1] = id
    reqs[#reqs + 1] = wrk.format("POST", path,
      {["Authorization"] = sig, ["Content-Type"] = "application/json"}, body)
  end
  if args[2] and args[2] ~= "-" then
    out = io.open(args[2], "w")
    out:setvbuf("full")
  end
  rate_delay = tonumber(args[3] or "0")
  rate = tonumber(args[5] or "0")
end

local function now_s()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

-- With a rate (args[5], requests/s), requests follow a fixed timetable (open loop): the n-th
-- goes out at start + n/rate on whichever connection is free, however long answers take, so
-- slow answers cannot lower the offered rate (a fixed pause per connection would).
local started, scheduled = nil, 0
function delay()
  if rate <= 0 then return rate_delay end
  local now = now_s()
  if not started then started = now end
  scheduled = scheduled + 1
  local wait = (started + scheduled / rate - now) * 1000
  if wait < 0 then return 0 end
  return wait
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  if out then
    ffi.C.clock_gettime(0, ts)
    local ns = string.format("%09d", tonumber(ts.tv_nsec))
    out:write(ids[idx], " ", tonumber(ts.tv_sec), ".", ns, "\n")
  end
  return reqs[idx]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# --- the bare-ASGI ceiling -------------------------------------------------------------------


async def ceiling_app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def, type-arg]
    """The anchor's ceiling: read the body, verify the HMAC, answer 200 (nothing else)."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    auth = dict(scope["headers"]).get(b"authorization", b"").decode()
    ok = verify_webhook(APP_KEY, APP_SECRET, body, auth)
    await send(
        {
            "type": "http.response.start",
            "status": 200 if ok else 401,
            "headers": [(b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


# --- helpers ---------------------------------------------------------------------------------


def make_bodies(path: Path, prefix: str, count: int) -> None:
    """`count` signed webhooks (~620 bytes) with distinct ids, one per line for the Lua."""
    now = int(time.time())
    pad = "x" * 300
    prefix = f"{prefix}{time.monotonic_ns() % 10**9}-"  # unique across runs of one process
    with path.open("w") as out:
        for i in range(count):
            nid = f"{prefix}{i:09d}"
            body = json.dumps(
                {
                    "type": 1,
                    "tts_notification_id": nid,
                    "shop_id": SHOP,
                    "timestamp": now,
                    "data": {
                        "is_on_hold_order": False,
                        "order_id": str(576653688135258178 + i),
                        "order_status": "AWAITING_SHIPMENT",
                        "update_time": now,
                        "note": pad,
                    },
                },
                separators=(",", ":"),
            ).encode()
            sig = webhook_signature(APP_KEY, APP_SECRET, body)
            out.write(f"{nid}\t{sig}\t{body.decode()}\n")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def wrk_cmd(
    url: str,
    script: Path,
    bodies: Path,
    connections: int,
    duration: float,
    sends: Path | None,
    delay_ms: int = 0,
    cores: str = "1",
    path: str = "/webhooks/tiktok",
) -> list[str]:
    return [
        "taskset", "-c", cores, "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
        "--timeout", "10s", "-s", str(script), url + path, "--",
        str(bodies), str(sends) if sends else "-", str(delay_ms), path,
    ]  # fmt: skip


def parse_wrk(stdout: str, stderr: str = "") -> dict[str, int]:
    for line in stdout.splitlines():
        if line.startswith("WRK "):
            return {k: int(v) for k, v in (part.split("=") for part in line[4:].split())}
    raise RuntimeError("wrk failed: " + stderr[-500:] + stdout[-500:])


def run_wrk(
    url: str,
    script: Path,
    bodies: Path,
    connections: int,
    duration: float,
    sends: Path | None,
    delay_ms: int = 0,
    path: str = "/webhooks/tiktok",
) -> dict[str, int]:
    cmd = wrk_cmd(url, script, bodies, connections, duration, sends, delay_ms, path=path)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    return parse_wrk(result.stdout, result.stderr)


def read_sends(path: Path) -> dict[str, float]:
    sends: dict[str, float] = {}
    with path.open() as lines:
        for line in lines:
            nid, _, stamp = line.partition(" ")
            sends.setdefault(nid, float(stamp))
    return sends


class Subscriber:
    """One WebSocket subscriber in a background thread, recording arrival times per id."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.ws_url = ws_url
        self.token = token
        self.arrivals: dict[str, float] = {}
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Subscriber:
        self._thread.start()
        if not self.ready.wait(15):
            raise RuntimeError("subscriber did not get ready")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        marker = '"tts_notification_id":"'
        headers = {"Authorization": f"Bearer {self.token}"}
        async with websockets.connect(
            self.ws_url,
            additional_headers=headers,
            max_size=2**22,
            compression=STREAM_COMPRESSION,  # as the desktop connects
        ) as ws:
            await ws.send(json.dumps({"op": "subscribe", "shops": [SHOP]}))
            await ws.recv()
            self.ready.set()
            count = 0
            last_cursor = ""
            while not self._stop.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), 0.2)
                except TimeoutError:
                    continue
                now = time.time()
                assert isinstance(frame, str)
                start = frame.find(marker) + len(marker)
                nid = frame[start : frame.find('"', start)]
                self.arrivals.setdefault(nid, now)
                cstart = frame.find('"cursor":"') + 10
                last_cursor = frame[cstart : frame.find('"', cstart)]
                count += 1
                if count % 500 == 0:
                    await ws.send(json.dumps({"op": "ack", "shop_id": SHOP, "cursor": last_cursor}))


def relay_env() -> dict[str, str]:
    return {
        **os.environ,
        "VIRALSTOCK_RELAY_APP_KEY": APP_KEY,
        "VIRALSTOCK_RELAY_APP_SECRET": APP_SECRET,
    }


def mint(where: list[str]) -> str:
    """A token through `viralstock-relay token create` (storage options only)."""
    out = subprocess.run(
        [sys.executable, "-m", "relay", "token", "create", "--shop", SHOP, *where[:2]],
        env=relay_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def relay_process(
    where: list[str], core: int = 0, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[tuple[str, int]]:
    """`viralstock-relay serve` pinned to `core` (`env` adds to `relay_env()`), from the
    checkout `cwd` (its `relay` package wins on `python -m`); yields (base URL, pid)."""
    proc = subprocess.Popen(
        [
            "taskset",
            "-c",
            str(core),
            sys.executable,
            "-m",
            "relay",
            "serve",
            "--port",
            "0",
            "--log-level",
            "WARNING",
            *where,
        ],
        env={**relay_env(), **(env or {})},
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        wait_http(base + "/healthz")
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def ceiling_process() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-m",
            "uvicorn",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--port",
            str(port),
            "--app-dir",
            str(ROOT),
            "tests.benchmarks.bench_relay:ceiling_app",
        ],
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- smee.io beside the relay ------------------------------------------------------------


def smee_dir() -> tuple[Path | None, str]:
    """The smee.io checkout from `SMEE_DIR`, or None and why it cannot run."""
    raw = os.environ.get("SMEE_DIR", "").strip()
    if not raw:
        return None, "SMEE_DIR is not set"
    where = Path(raw).expanduser()
    if not (where / "index.js").is_file() or not (where / "lib" / "server.js").is_file():
        return None, f"SMEE_DIR={where} is not a smee.io checkout (no index.js, lib/server.js)"
    if not (where / "node_modules" / "fastify").is_dir():
        return None, f"SMEE_DIR={where} has no dependencies: run `npm ci --omit=dev` there"
    if shutil.which("node") is None:
        return None, "node is not installed"
    return where, ""


def prepare_smee(where: Path) -> str:
    """smee reads its web UI bundle at start, which `npm ci --omit=dev` does not build (webpack
    is a dev dependency): empty stand-ins let it start. The bundle is not on the measured path."""
    made = []
    for name in ("main.min.css", "main.min.js"):
        path = where / "public" / name
        if not path.exists():
            path.touch()
            made.append(name)
    return f" (created empty public/{' and '.join(made)} in it)" if made else ""


@contextlib.contextmanager
def smee_process(where: Path, core: int = 0) -> Iterator[tuple[str, int]]:
    """smee.io as its README runs it (`node index.js`, its own logger on, to /dev/null), pinned
    to `core`; yields (base URL, pid)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "NODE_ENV"}}
    env["PORT"] = str(port)
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), "node", "index.js"],
        cwd=where,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/")
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class SseSubscriber:
    """smee's subscriber: one Server-Sent Events stream read in a background thread, recording
    arrival times per notification id (the same `arrivals` as `Subscriber`)."""

    def __init__(self, base: str, channel: str) -> None:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.address = (host, int(port))
        self.channel = channel
        self.arrivals: dict[str, float] = {}
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SseSubscriber:
        self._thread.start()
        if not self.ready.wait(15):
            raise RuntimeError("SSE subscriber did not get ready")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        marker = b'"tts_notification_id":"'
        with socket.create_connection(self.address, timeout=0.2) as sock:
            sock.sendall(
                f"GET /{self.channel} HTTP/1.1\r\nHost: bench\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            buffer = b""
            while not self._stop.is_set():
                try:
                    data = sock.recv(1 << 16)
                except TimeoutError:
                    continue
                if not data:
                    return
                now = time.time()
                buffer += data
                if not self.ready.is_set() and b"event: ready" in buffer:
                    self.ready.set()
                start = 0
                while True:
                    found = buffer.find(marker, start)
                    if found < 0:
                        break
                    begin = found + len(marker)
                    end = buffer.find(b'"', begin)
                    if end < 0:
                        break
                    self.arrivals.setdefault(buffer[begin:end].decode(), now)
                    start = end
                # Keep only what may hold the start of an id split across reads.
                buffer = buffer[max(start, len(buffer) - 256) :]


# --- one measurement of one server -------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One concurrency point of one server."""

    accepted: float  # 200s per second
    delivered: float  # arrivals at the subscriber per second
    p50: float  # POST -> subscriber, ms
    p99: float
    refused: int  # non-200 answers
    errors: int  # socket errors and timeouts
    lost: int  # answered 200 but never seen by the subscriber
    per_commit: float | None = None  # relay only: webhooks per group commit (SQLite)
    rate_limited: int | None = None  # relay only: 429s by the per-IP limit during the run


@dataclasses.dataclass
class Target:
    """A server under test: how to post to it and who listens."""

    label: str
    base: str
    path: str
    sub: Subscriber | SseSubscriber
    metrics: Callable[[], dict[str, float]] | None = None


def scrape(base: str) -> dict[str, float]:
    """The relay's /metrics as {series: value} (labels kept in the name)."""
    values: dict[str, float] = {}
    for line in httpx.get(base + "/metrics", timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def measure_point(work: Path, target: Target, conns: int, tag: str) -> Run:
    script = work / "load.lua"
    bodies = work / f"bodies-{tag}.txt"
    make_bodies(bodies, tag, 60000 if conns > 1 else 30000)
    sends_path = work / f"sends-{tag}.txt"
    sub = target.sub
    before = len(sub.arrivals)
    metrics_before = target.metrics() if target.metrics else {}
    res = run_wrk(target.base, script, bodies, conns, DURATION, sends_path, path=target.path)
    seconds = res["duration_us"] / 1e6
    ok = res["requests"] - res["non2xx"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        n = len(sub.arrivals)
        time.sleep(0.3)
        if len(sub.arrivals) == n and n - before >= ok:
            break
    sends = read_sends(sends_path)
    arrivals = sub.arrivals
    lat = [(arrivals[nid] - sent) * 1000 for nid, sent in sends.items() if nid in arrivals]
    last = max((arrivals[n] for n in sends if n in arrivals), default=0.0)
    first = min(sends.values(), default=0.0)
    span = max(last - first, seconds)
    run = Run(
        accepted=ok / seconds,
        delivered=len(lat) / span,
        p50=pct(lat, 0.5),
        p99=pct(lat, 0.99),
        refused=res["non2xx"],
        errors=res["errors"],
        lost=max(0, ok - len(lat)),
    )
    if target.metrics:
        after = target.metrics()
        commits = after.get("relay_storage_commits", 0) - metrics_before.get(
            "relay_storage_commits", 0
        )
        stored = after.get("relay_webhooks_accepted_total", 0) - metrics_before.get(
            "relay_webhooks_accepted_total", 0
        )
        limited = 'relay_webhooks_rejected_total{reason="rate_limited"}'
        run.per_commit = stored / commits if commits else None
        run.rate_limited = int(after.get(limited, 0) - metrics_before.get(limited, 0))
    return run


def describe(run: Run) -> str:
    text = (
        f"accepted {run.accepted:6.0f}/s, delivered {run.delivered:6.0f}/s, POST->subscriber "
        f"p50 {run.p50:5.1f} ms p99 {run.p99:6.1f} ms"
    )
    if run.per_commit is not None:
        text += f", {run.per_commit:4.1f} webhooks/commit"
    problems = []
    if run.refused:
        problems.append(f"{run.refused} non-200")
    if run.rate_limited:
        problems.append(f"{run.rate_limited} of them 429 by the per-IP limit")
    if run.errors:
        problems.append(f"{run.errors} socket errors")
    if run.lost:
        problems.append(f"{run.lost} answered 200 but not delivered")
    return text + (f" [{', '.join(problems)}]" if problems else "")


def measure_side_by_side(work: Path) -> None:
    """The relay (FULL, and NORMAL: the explicit weaker mode) and smee.io when a checkout is
    given: every server up at once on core 0 (idle ones cost nothing), each concurrency point
    run ROUNDS times, the order of the servers reversed every round."""
    where_smee, why = smee_dir()
    with contextlib.ExitStack() as stack:
        targets: list[Target] = []
        # RELAY_BENCH_BASELINE=<another checkout> adds its relay (label "... base") beside
        # this one, for a before/after in one run.
        checkouts = [("", ROOT)]
        if os.environ.get("RELAY_BENCH_BASELINE"):
            checkouts.append((" base", Path(os.environ["RELAY_BENCH_BASELINE"])))
        for (suffix, checkout), sync in [(c, s) for c in checkouts for s in SYNCS]:
            where = ["--db", str(work / f"relay-{sync}{suffix.strip()}.sqlite3"), "--sync", sync]
            token = mint(where)
            base, _pid = stack.enter_context(relay_process(where, cwd=checkout))
            ws_url = base.replace("http://", "ws://") + "/v1/stream"
            sub = stack.enter_context(Subscriber(ws_url, token))
            label = ("relay FULL" if sync == "full" else "relay NORMAL") + suffix
            targets.append(
                Target(label, base, "/webhooks/tiktok", sub, lambda b=base: scrape(b))  # type: ignore[misc]
            )
        if where_smee is not None:
            note = prepare_smee(where_smee)
            base, _pid = stack.enter_context(smee_process(where_smee))
            sse = stack.enter_context(SseSubscriber(base, SMEE_CHANNEL))
            targets.append(Target("smee.io", base, "/" + SMEE_CHANNEL, sse))
            print(f"  smee.io from {where_smee}{note}: no verify, no storage, SSE subscriber")
        else:
            print(f"  smee.io not run: {why}; no smee figure is printed (see this module's doc)")
        script = work / "load.lua"
        for i, target in enumerate(targets):
            warm = work / f"warm-{i}.txt"
            make_bodies(warm, f"warm{i}", 8000)
            run_wrk(target.base, script, warm, 16, WARMUP, None, path=target.path)
        runs: dict[tuple[str, int], list[Run]] = {}
        for conns in CONCURRENCY:
            for round_ in range(ROUNDS):
                order = targets if round_ % 2 == 0 else targets[::-1]
                for target in order:
                    tag = "".join(c for c in target.label if c.isalnum()) + f"c{conns}r{round_}"
                    run = measure_point(work, target, conns, tag)
                    runs.setdefault((target.label, conns), []).append(run)
                    print(
                        f"  {conns:>2} in flight, round {round_ + 1}, {target.label:12}: "
                        + describe(run),
                        flush=True,
                    )
    summary(targets, runs, where_smee is not None)


def summary(targets: list[Target], runs: dict[tuple[str, int], list[Run]], smee: bool) -> None:
    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    print("  Summary (mean of the rounds; ratio = relay accepted / smee accepted in this run):")
    for conns in CONCURRENCY:
        smee_rate = mean([r.accepted for r in runs[("smee.io", conns)]]) if smee else None
        for target in targets:
            got = runs[(target.label, conns)]
            rate = mean([r.accepted for r in got])
            line = (
                f"    {conns:>2} in flight  {target.label:12} {rate:6.0f}/s "
                f"(rounds {' / '.join(f'{r.accepted:.0f}' for r in got)}), "
                f"p50 {mean([r.p50 for r in got]):5.1f} ms, p99 {mean([r.p99 for r in got]):6.1f} ms"
            )
            if smee_rate and target.label != "smee.io" and conns in TARGET_RATIO:
                want = TARGET_RATIO[conns]
                line += f", x{rate / smee_rate:.2f} smee (target >= x{want:.0f}"
                line += " with FULL)" if conns > 1 else ", FULL or NORMAL)"
            if conns == 16 and target.label != "smee.io":
                line += f" (target p99 <= {TARGET_P99_16_MS:.0f} ms)"
            print(line, flush=True)


def measure_rate(work: Path) -> None:
    """p99 POST-to-200 at ~500/s offered: 4 connections, each pausing 7 ms per request."""
    script = work / "load.lua"
    for sync in ("full", "normal"):
        where = ["--db", str(work / f"rate-{sync}.sqlite3"), "--sync", sync]
        with relay_process(where) as (base, _pid):
            warm = work / f"warm-rate-{sync}.txt"
            make_bodies(warm, f"wrate{sync}", 4000)
            run_wrk(base, script, warm, 4, WARMUP, None)
            bodies = work / f"bodies-{sync}-rate.txt"
            make_bodies(bodies, f"{sync}rate", 20000)
            res = run_wrk(base, script, bodies, 4, DURATION, None, delay_ms=7)
            seconds = res["duration_us"] / 1e6
            print(
                f"  ~500/s offered     [{sync:6}]: achieved {res['requests'] / seconds:5.0f}/s, "
                f"POST->200 p50 {res['p50_us'] / 1000:.2f} ms, p99 {res['p99_us'] / 1000:.2f} ms "
                f"(target p99 < 10 ms)",
                flush=True,
            )


def measure_ceiling(work: Path) -> None:
    script = work / "load.lua"
    bodies = work / "ceiling.txt"
    make_bodies(bodies, "ceil", 20000)
    with ceiling_process() as base:
        run_wrk(base, script, bodies, 16, 1, None)
        for conns in CONCURRENCY:
            res = run_wrk(base, script, bodies, conns, 3, None)
            rate = (res["requests"] - res["non2xx"]) / (res["duration_us"] / 1e6)
            print(
                f"  {conns:>2} in flight: bare ASGI + HMAC {rate:7.0f}/s",
                flush=True,
            )


@contextlib.contextmanager
def redis_server(work: Path) -> Iterator[tuple[str, int]]:
    """A throwaway redis-server with production durability (AOF, fsync always)."""
    import redis

    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work),
         "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, socket_timeout=1).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def drain(subs: list[Subscriber], expected: int, before: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        counts = [len(s.arrivals) for s in subs]
        time.sleep(0.2)
        if [len(s.arrivals) for s in subs] == counts and all(
            c - b >= expected for c, b in zip(counts, before, strict=True)
        ):
            return


# Offered-load sweep (issue 9): (level, connections, pause per request in ms). wrk has no rate
# control, so each connection pauses `delay` ms after every answer: the offered rate is
# connections / (pause + answer time), which is what "accepted" shows until the relay saturates
# (nominally 500, 1,000 and 2,000/s; lower when answers slow down), then 16 in flight unpaced.
SWEEP: tuple[tuple[str, int, int], ...] = (
    ("4 conn, 8 ms pause", 4, 8),
    ("8 conn, 8 ms pause", 8, 8),
    ("16 conn, 8 ms pause", 16, 8),
    ("16 conn, no pause", 16, 0),
)
SWEEP_SECONDS = 3


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def own_cpu() -> tuple[float, float]:
    """(this process incl. the subscriber threads, reaped children such as wrk) CPU seconds."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


@dataclasses.dataclass
class Point:
    """One sweep level of one setup."""

    accepted: float  # 200s per second, all processes together
    delivered: float  # per second to each subscriber (the slowest one)
    p50: float
    p99: float
    relay_cpu: list[float]  # CPU s per 1,000 delivered, per relay process
    redis_cpu: float | None  # the same for redis-server
    wrk_cpu: float
    subscriber_cpu: float
    busy: float  # machine cores busy on average (of 2), all jobs on the machine included

    @property
    def relays(self) -> float:
        return sum(self.relay_cpu)


def sweep_level(
    work: Path,
    tag: str,
    bases: list[str],
    subs: list[Subscriber],
    watched: list[int],
    conns: int,
    delay_ms: int,
) -> Point:
    """Load the relays at one offered rate (connections split over `bases`) and measure."""
    script = work / "load.lua"
    bodies = [work / f"b-{tag}-{i}.txt" for i in range(len(bases))]
    sends = [work / f"s-{tag}-{i}.txt" for i in range(len(bases))]
    for i, path in enumerate(bodies):
        make_bodies(path, f"{tag}{i}n", 20000)
    per = max(1, conns // len(bases))
    before = [len(s.arrivals) for s in subs]
    cpu_before = [cpu_seconds(p) for p in watched]
    busy_before = machine_busy()
    self_before, kids_before = own_cpu()
    procs = [
        subprocess.Popen(wrk_cmd(b, script, body, per, SWEEP_SECONDS, snd, delay_ms, "0,1"),
                         stdout=subprocess.PIPE, text=True)
        for b, body, snd in zip(bases, bodies, sends, strict=True)
    ]  # fmt: skip
    results = [parse_wrk(proc.communicate(timeout=SWEEP_SECONDS + 60)[0]) for proc in procs]
    accepted = sum(r["requests"] - r["non2xx"] for r in results)
    seconds = max(r["duration_us"] for r in results) / 1e6
    drain(subs, accepted, before)
    cpu_after = [cpu_seconds(p) for p in watched]
    busy_after = machine_busy()
    self_after, kids_after = own_cpu()
    sent: dict[str, float] = {}
    for path in sends:
        sent.update(read_sends(path))
    first = min(sent.values(), default=0.0)
    rates = []
    lat: list[float] = []
    for sub in subs:
        got = [n for n in sent if n in sub.arrivals]
        last = max((sub.arrivals[n] for n in got), default=first)
        rates.append(len(got) / max(last - first, seconds))
        lat += [(sub.arrivals[n] - sent[n]) * 1000 for n in got]
    delivered = min(rates)
    thousands = max(delivered * seconds, 1.0) / 1000
    per_1000 = [(a - b) / thousands for a, b in zip(cpu_after, cpu_before, strict=True)]
    relays = len(bases)
    elapsed = busy_after[1] - busy_before[1]
    return Point(
        accepted=accepted / seconds,
        delivered=delivered,
        p50=pct(lat, 0.5),
        p99=pct(lat, 0.99),
        relay_cpu=per_1000[:relays],
        redis_cpu=per_1000[relays] if len(watched) > relays else None,
        wrk_cpu=(kids_after - kids_before) / thousands,
        subscriber_cpu=(self_after - self_before) / thousands,
        busy=(busy_after[0] - busy_before[0]) / max(elapsed, 1e-9) * (os.cpu_count() or 2),
    )


def sweep(
    work: Path, label: str, bases: list[str], pids: list[int], redis_pid: int | None, token: str
) -> list[Point]:
    """The whole offered-load sweep against one setup, one subscriber per relay process."""
    tag = "".join(ch for ch in label if ch.isalnum())
    subs = [Subscriber(b.replace("http://", "ws://") + "/v1/stream", token) for b in bases]
    watched = [*pids, redis_pid] if redis_pid else list(pids)
    points: list[Point] = []
    with contextlib.ExitStack() as stack:
        for sub in subs:
            stack.enter_context(sub)
        warm = [work / f"warm-{tag}-{i}.txt" for i in range(len(bases))]
        for i, path in enumerate(warm):
            make_bodies(path, f"w{tag}{i}", 5000)
        procs = [
            subprocess.Popen(wrk_cmd(b, work / "load.lua", w, 8 // len(bases), 1, None,
                                     cores="0,1"), stdout=subprocess.PIPE, text=True)
            for b, w in zip(bases, warm, strict=True)
        ]  # fmt: skip
        for proc in procs:
            proc.communicate(timeout=60)
        for index, (offered, conns, delay_ms) in enumerate(SWEEP):
            point = sweep_level(work, f"{tag}{index}", bases, subs, watched, conns, delay_ms)
            points.append(point)
            relay_text = " + ".join(f"{c:.2f}" for c in point.relay_cpu)
            redis_text = f", redis-server {point.redis_cpu:.2f}" if point.redis_cpu else ""
            print(
                f"  {label:20} {offered:19}: accepted {point.accepted:5.0f}/s, "
                f"delivered {point.delivered:5.0f}/s to each subscriber, "
                f"p50 {point.p50:6.1f} ms, p99 {point.p99:7.1f} ms | CPU s per 1,000 "
                f"delivered: relay {relay_text}{redis_text}; wrk {point.wrk_cpu:.2f}, "
                f"subscribers {point.subscriber_cpu:.2f}; machine {point.busy:.1f}/2 cores busy",
                flush=True,
            )
    return points


def measure_shared(work: Path) -> None:
    where = ["--db", str(work / "shared-sqlite.sqlite3")]
    token = mint(where)
    with relay_process(where, core=0) as (base, pid):
        sqlite = sweep(work, "one process, SQLite", [base], [pid], None, token)
    if shutil.which("redis-server") is None:
        print("  (redis-server not installed: Redis runs skipped)")
        return
    with redis_server(work) as (url, redis_pid):
        where = ["--bus", url]
        token = mint(where)
        with relay_process(where, core=0) as (base, pid):
            one = sweep(work, "one process, Redis", [base], [pid], redis_pid, token)
        with relay_process(where, core=0) as (a, pa), relay_process(where, core=1) as (b, pb):
            two = sweep(work, "two processes, Redis", [a, b], [pa, pb], redis_pid, token)
    print("  Summary per offered load (targets: Redis/SQLite relay CPU per webhook <= 1.5; "
          "two/one delivered >= 1, >= 1.6 only with a free core per process):")  # fmt: skip
    for (offered, _, _), s, o, t in zip(SWEEP, sqlite, one, two, strict=True):
        with_redis = o.relays + (o.redis_cpu or 0.0)
        print(
            f"    {offered:19}: relay CPU Redis/SQLite x{o.relays / max(s.relays, 1e-9):.2f} "
            f"(x{with_redis / max(s.relays, 1e-9):.2f} counting redis-server); "
            f"delivered two/one x{t.delivered / max(o.delivered, 1e-9):.2f} "
            f"({t.delivered:.0f} vs {o.delivered:.0f}/s)",
            flush=True,
        )
    top_one, top_two = one[-1], two[-1]
    print(
        "  Where the time went at max load (CPU s per 1,000 delivered; 2 cores = 2 CPU-s/s):\n"
        f"    one process : relay {top_one.relays:.2f}, redis-server {top_one.redis_cpu or 0:.2f},"
        f" wrk {top_one.wrk_cpu:.2f}, subscribers {top_one.subscriber_cpu:.2f}; "
        f"machine {top_one.busy:.1f}/2 cores busy\n"
        f"    two process : relays {top_two.relays:.2f}, redis-server {top_two.redis_cpu or 0:.2f},"
        f" wrk {top_two.wrk_cpu:.2f}, subscribers {top_two.subscriber_cpu:.2f}; "
        f"machine {top_two.busy:.1f}/2 cores busy\n"
        "    With one relay the second core holds wrk, redis-server and the subscribers; with two"
        " relays\n    those share both cores with them, so the second relay gets what is left "
        "of a core, not a core\n    (and every other job on this shared machine takes its cut).",
        flush=True,
    )


def main() -> None:
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("bench_relay: needs wrk and taskset (apt-get install wrk util-linux); skipped")
        return
    if (os.cpu_count() or 1) < 2:
        print("bench_relay: needs two cores to pin server and load apart; skipped")
        return
    os.sched_setaffinity(0, {1})  # the subscriber thread shares core 1 with wrk
    print(
        "Relay benchmark: relay on core 0, wrk + subscriber on core 1, ~620-byte signed bodies.\n"
        "NOTE: the machine is shared with other jobs right now; figures are noisy."
    )
    # RELAY_BENCH_PARTS=side,rate runs only some parts (all by default).
    parts = set(os.environ.get("RELAY_BENCH_PARTS", "ceiling,side,rate,sweep").split(","))
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        work = Path(tmp)
        (work / "load.lua").write_text(LUA)
        if "ceiling" in parts:
            print("Bare-ASGI ceiling (same run, same core):")
            measure_ceiling(work)
        if "side" in parts:
            print(
                "Relay beside smee.io: relay FULL (the default: a 200 survives power loss), relay "
                "NORMAL\n(`--sync normal`: a 200 survives a killed relay, not an OS crash or power "
                "loss), smee.io (nothing stored):"
            )
            measure_side_by_side(work)
        if "rate" in parts:
            print("Relay, p99 POST -> 200 at a paced load:")
            measure_rate(work)
        if "sweep" in parts:
            print(
                "Offered-load sweep (issue 9): one relay on SQLite (FULL), one on Redis, two"
                " sharing Redis\n(AOF, appendfsync always); relays pinned to core 0 (and 1), wrk"
                " unpinned; one subscriber per relay"
            )
            measure_shared(work)


if __name__ == "__main__":
    main()
