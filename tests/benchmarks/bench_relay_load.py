"""Many desktops at once (issue 16): S WebSocket subscribers over K shops while wrk posts
signed webhooks at R/s for D seconds; p50/p99 webhook -> subscriber latency (wrk's clock just
before the POST to the subscriber's arrival, per delivery) and the relay's RSS. Then the same
with L slow-loris sockets held open from one address (reconnecting whenever the relay closes
them), then the Redis Streams backend with 1, 2 and 4 relay processes side by side.

The issue's scale is S=5000, K=1000, R=1000, D=60, L=500. This machine has 2 cores shared with
other work, and the subscribers' process (Python) needs a core of its own at that scale, so
the defaults are smaller; set RELAY_LOAD_SUBSCRIBERS, _SHOPS, _RATE, _SECONDS, _LORIS and
_PROCESSES ("1,2,4") for the full run. Never fails on a number.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from app.tiktok.signing import webhook_signature
from tests.benchmarks.bench_relay import (
    APP_KEY,
    APP_SECRET,
    LUA,
    ROOT,
    cpu_seconds,
    parse_wrk,
    pct,
    redis_server,
    relay_env,
    relay_process,
)
from tests.benchmarks.procmem import rss_mb

SUBSCRIBERS = int(os.environ.get("RELAY_LOAD_SUBSCRIBERS", "1000"))
SHOPS = int(os.environ.get("RELAY_LOAD_SHOPS", "200"))
RATE = int(os.environ.get("RELAY_LOAD_RATE", "300"))
SECONDS = float(os.environ.get("RELAY_LOAD_SECONDS", "15"))
LORIS = int(os.environ.get("RELAY_LOAD_LORIS", "500"))
PROCESSES = [int(p) for p in os.environ.get("RELAY_LOAD_PROCESSES", "1,2,4").split(",") if p]
# Processes the subscribers are spread over: one Python process saturates well before the
# relay does at the scale, and its queueing would count as relay latency.
CLIENTS = int(os.environ.get("RELAY_LOAD_CLIENTS", "2"))
# Extra `serve` options for every relay, e.g. "--no-ws-compression".
EXTRA = os.environ.get("RELAY_LOAD_SERVE_ARGS", "").split()
TARGET = "issue 16: 5,000 subscribers / 1,000 shops / 1,000 webhooks/s / 60 s"


def shop_ids(count: int) -> list[str]:
    return [str(7495540735365000000 + i) for i in range(count)]


def make_bodies(path: Path, shops: list[str], count: int, tag: str) -> None:
    """`count` signed webhooks round-robin over `shops`, one per line for the Lua script."""
    now = int(time.time())
    with path.open("w") as out:
        for i in range(count):
            nid = f"{tag}-{i:08d}"
            body = json.dumps(
                {
                    "type": 1,
                    "tts_notification_id": nid,
                    "shop_id": shops[i % len(shops)],
                    "timestamp": now,
                    "data": {"order_id": str(576653688135258178 + i), "order_status": "UNPAID"},
                },
                separators=(",", ":"),
            )
            sig = webhook_signature(APP_KEY, APP_SECRET, body.encode())
            out.write(f"{nid}\t{sig}\t{body}\n")


def mint_all(where: list[str], shops: list[str]) -> str:
    args = [a for shop in shops for a in ("--shop", shop)]
    out = subprocess.run(
        [sys.executable, "-m", "relay", "token", "create", *args, *where[:2]],
        env=relay_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def relays(where: list[str], count: int) -> Iterator[list[tuple[str, int]]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(relay_process([*where, *EXTRA], core=i % 2)) for i in range(count)
        ]


def wrk_paced(
    base: str, script: Path, bodies: Path, rate: float, seconds: float, sends: Path
) -> subprocess.Popen[str]:
    """wrk offering `rate` requests/s on a fixed timetable (the Lua script's open-loop mode):
    enough connections that a slow answer does not hold the next request back, and a request
    that fell behind its time goes out at once, so the offered rate is the rate asked for."""
    conns = max(8, min(400, round(rate / 4)))
    return subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base + "/webhooks/tiktok",
            "--",
            str(bodies),
            str(sends),
            "0",
            "/webhooks/tiktok",
            str(rate),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_case(work: Path, label: str, where: list[str], processes: int, loris: int) -> None:
    shops = shop_ids(SHOPS)
    token = mint_all(where, shops)
    with relays(where, processes) as running:
        bases = [base for base, _ in running]
        pids = [pid for _, pid in running]
        host, port = bases[0].removeprefix("http://").rsplit(":", 1)
        arrival_files = [work / f"arrivals-{label}-{c}.txt" for c in range(CLIENTS)]
        clients: list[subprocess.Popen[str]] = []
        stack = contextlib.ExitStack()
        share = -(-SUBSCRIBERS // CLIENTS)
        for c in range(CLIENTS):
            config = {
                "ws_urls": [b.replace("http://", "ws://") + "/v1/stream" for b in bases],
                "token": token,
                "shops": shops,
                "first": c * share,
                "subscribers": max(0, min(share, SUBSCRIBERS - c * share)),
                "loris": loris if c == 0 else 0,
                "loris_host": host,
                "loris_port": int(port),
                "arrivals": str(arrival_files[c]),
            }
            config_path = work / f"client-{label}-{c}.json"
            config_path.write_text(json.dumps(config))
            client = subprocess.Popen(
                [sys.executable, "-m", "tests.benchmarks.relay_load_client", str(config_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            stack.callback(client.kill)
            clients.append(client)
        started = time.monotonic()
        readies = []
        for client in clients:
            assert client.stdout is not None
            readies.append(json.loads(client.stdout.readline()))
        ready = {k: sum(r[k] for r in readies) for k in ("ready", "failed")}
        connect_s = time.monotonic() - started
        rss_idle = [rss_mb(p) for p in pids]
        if loris:
            time.sleep(2)  # the loris sockets connect
        script = work / "load.lua"
        script.write_text(LUA)
        per_relay = RATE / len(bases)
        # Every body signed before the clock starts: the generator only sends.
        bodies_paths = [work / f"bodies-{label}-{k}.txt" for k in range(len(bases))]
        sends_paths = [work / f"sends-{label}-{k}.txt" for k in range(len(bases))]
        for k, bodies in enumerate(bodies_paths):
            make_bodies(bodies, shops, int(per_relay * SECONDS * 1.3) + 100, f"{label}{k}")
        cpu_before = [cpu_seconds(p) for p in pids]
        client_cpu_before = sum(cpu_seconds(c.pid) for c in clients)
        wall_before = time.monotonic()
        wrks = [
            wrk_paced(base, script, bodies, per_relay, SECONDS, sends)
            for base, bodies, sends in zip(bases, bodies_paths, sends_paths, strict=True)
        ]
        peak = [0.0] * len(pids)
        while any(w.poll() is None for w in wrks):
            peak = [max(a, rss_mb(p)) for a, p in zip(peak, pids, strict=True)]
            time.sleep(0.5)
        results = [parse_wrk(*w.communicate()) for w in wrks]
        wall = time.monotonic() - wall_before
        cpu = [(cpu_seconds(p) - c) / wall for p, c in zip(pids, cpu_before, strict=True)]
        client_cpu = (sum(cpu_seconds(c.pid) for c in clients) - client_cpu_before) / wall
        tails = []
        for client in clients:
            assert client.stdin is not None and client.stdout is not None
            client.stdin.close()
        for client in clients:
            assert client.stdout is not None
            tails.append(json.loads(client.stdout.readline() or "{}"))
            client.wait(120)
        tail = tails[0]
        stack.pop_all()
    sends: dict[str, float] = {}
    for path in sends_paths:
        for line in path.read_text().splitlines():
            nid, _, stamp = line.partition(" ")
            sends.setdefault(nid, float(stamp))
    latencies = []
    for arrivals in arrival_files:
        for line in arrivals.read_text().splitlines():
            nid, _, stamp = line.partition(" ")
            if nid in sends:
                latencies.append(float(stamp) - sends[nid])
    posted = sum(r["requests"] for r in results)
    non2xx = sum(r["non2xx"] + r["errors"] for r in results)
    expected = (posted - non2xx) * SUBSCRIBERS / SHOPS
    ms = [x * 1000 for x in latencies]
    print(
        f"  {label}: {ready['ready']}/{SUBSCRIBERS} subscribers ready in {connect_s:.1f} s "
        f"({ready['failed']} failed); {posted / SECONDS:.0f} webhooks/s posted "
        f"({non2xx} not 200), {len(ms)} deliveries (~{expected:.0f} expected); "
        f"latency p50 {pct(ms, 0.5):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, max {max(ms, default=0):.0f} ms; "
        f"relay RSS idle {'/'.join(f'{r:.0f}' for r in rss_idle)} MB, "
        f"peak {'/'.join(f'{r:.0f}' for r in peak)} MB; relay CPU "
        f"{'/'.join(f'{c:.0%}' for c in cpu)} of a core, subscriber processes "
        f"({CLIENTS}) {client_cpu:.0%}",
        flush=True,
    )
    if loris:
        print(
            f"    slow loris: {loris} sockets held from one address; {tail.get('loris_connections')} "
            f"connections made, {tail.get('loris_closed_by_relay')} closed by the relay, "
            f"longest held {tail.get('loris_max_held_s')} s",
            flush=True,
        )


def main() -> None:
    print(
        f"  {SUBSCRIBERS} subscribers / {SHOPS} shops / {RATE} webhooks/s / {SECONDS:.0f} s "
        f"(target: {TARGET}); 2 shared cores, relays pinned to cores 0/1 alternately, "
        "clients unpinned: noisy figures, compare rows of one run",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="vs-load-") as tmp:
        work = Path(tmp)
        sqlite = ["--db", str(work / "relay.sqlite3"), "--sync", "normal"]
        run_case(work, "sqlite-1", sqlite, 1, 0)
        if LORIS:
            run_case(work, f"sqlite-1+loris{LORIS}", sqlite, 1, LORIS)
        if shutil.which("redis-server") is None:
            print("  (redis-server not installed: Redis runs skipped)")
            return
        with redis_server(work) as (url, _redis_pid):
            for count in PROCESSES:
                run_case(work, f"redis-{count}", ["--bus", url], count, 0)


if __name__ == "__main__":
    main()
