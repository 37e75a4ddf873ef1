"""`viralstock-sandbox`: the sandbox as a command (also `python -m app.sandbox`).

With `--port 0` the first line of output is the base URL, flushed at once, so scripts can read
it from a file. Credentials come only from VIRALSTOCK_SANDBOX_APP_KEY / _APP_SECRET (fixed demo
values otherwise), never from flags. The truth file is written on SIGTERM / SIGINT and on
`GET /_sandbox/truth`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from app.sandbox.config import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_SPEED,
    SCENARIOS,
    SandboxConfig,
)
from app.sandbox.server import run_sandbox

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="viralstock-sandbox", description="A simulated TikTok Shop on loopback."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8686, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", choices=SCENARIOS, default="steady")
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"simulated seconds per real second (default {DEFAULT_SPEED:g})",
    )
    parser.add_argument("--qps", type=float, default=50.0, help="per app x shop; 0 disables")
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--truth-file", type=Path, default=None)
    parser.add_argument(
        "--start-time",
        default=None,
        help="simulated epoch seconds at start, or 'now' for the wall clock "
        "(default: a fixed moment, so that a seed reproduces a run exactly)",
    )
    parser.add_argument("--shops", type=int, default=1)
    parser.add_argument("--products", type=int, default=40)
    parser.add_argument("--orders-per-hour", type=float, default=8.0, help="per shop, steady")
    parser.add_argument(
        "--viral-peak", type=float, default=60.0, help="viral scenario: orders/hour at the peak"
    )
    parser.add_argument("--shop-id", default=None, help="the first shop's id (default: drawn)")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--error-rate", type=float, default=0.0, help="share of 5xx answers")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added per answer")
    faults.add_argument(
        "--malformed-rate", type=float, default=0.0, help="share of answers replaced by HTML junk"
    )
    faults.add_argument(
        "--truncate-rate", type=float, default=0.0, help="share of answers cut in half"
    )
    faults.add_argument(
        "--retry-after", default=None, help="Retry-After header value on injected 429s"
    )
    faults.add_argument(
        "--burst-429", type=int, default=0, help="answer the first N Open API calls with 429"
    )
    faults.add_argument("--webhook-drop-rate", type=float, default=0.0)
    faults.add_argument("--webhook-duplicate-rate", type=float, default=0.0)
    faults.add_argument("--webhook-reorder-rate", type=float, default=0.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    start_time: float | None = None
    if args.start_time == "now":
        start_time = float(int(time.time()))
    elif args.start_time is not None:
        try:
            start_time = float(args.start_time)
        except ValueError:
            parser.error("--start-time takes epoch seconds or 'now'")
    config = SandboxConfig(
        seed=args.seed,
        scenario=args.scenario,
        speed=args.speed,
        qps=args.qps,
        webhook_url=args.webhook_url,
        truth_file=args.truth_file,
        app_key=os.environ.get("VIRALSTOCK_SANDBOX_APP_KEY") or DEFAULT_APP_KEY,
        app_secret=os.environ.get("VIRALSTOCK_SANDBOX_APP_SECRET") or DEFAULT_APP_SECRET,
        shops=args.shops,
        products=args.products,
        start_time=start_time,
        orders_per_hour=args.orders_per_hour,
        viral_peak_orders_per_hour=args.viral_peak,
        shop_id=args.shop_id,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with run_sandbox(config, host=args.host, port=args.port) as sandbox:
        sandbox.faults.update(
            {
                "error_rate": args.error_rate,
                "latency": args.latency,
                "malformed_rate": args.malformed_rate,
                "truncate_rate": args.truncate_rate,
                "retry_after": args.retry_after,
                "burst_429": args.burst_429,
                "webhook_drop_rate": args.webhook_drop_rate,
                "webhook_duplicate_rate": args.webhook_duplicate_rate,
                "webhook_reorder_rate": args.webhook_reorder_rate,
            }
        )
        print(sandbox.base_url, flush=True)
        shop = sandbox.shops[0]
        print(
            f"scenario={config.scenario} seed={config.seed} speed={config.speed:g} "
            f"shop={shop['id']} service_id={config.service_id}",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
