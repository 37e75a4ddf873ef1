"""Webhook wire module (issue 14): CPU per webhook for the relay's envelope check and for the
desktop's typed parse, over the fixture corpus (every documented topic).

Run: `.venv/bin/python -m tests.benchmarks webhooks`. Best of 5 runs of N calls each, in one
process, so the figures compare with each other; the machine is shared: expect noise.
Anchor: the relay's whole ingest path (HTTP, HMAC, durable append) costs tens of microseconds
per webhook, so the envelope check should stay a small part of it (target < 10 us).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from app.tiktok.webhooks import parse_envelope, parse_webhook
from tests.tiktok.corpus import webhook_fixture
from tests.tiktok.test_corpus import TOPICS

CALLS = 20_000


def _best_us(fn: Callable[[bytes], object], arg: bytes, calls: int = CALLS) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            fn(arg)
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


def main() -> None:
    bodies = {kind: webhook_fixture(kind) for kind in TOPICS}
    plain = [_best_us(json.loads, body) for body in bodies.values()]
    envelope = [_best_us(parse_envelope, body) for body in bodies.values()]
    typed = [_best_us(parse_webhook, body) for body in bodies.values()]
    print(f"corpus: {len(bodies)} topics, {min(map(len, bodies.values()))}-"
          f"{max(map(len, bodies.values()))} bytes per body")  # fmt: skip
    print(f"json.loads (anchor)            mean {sum(plain) / len(plain):6.2f} us")
    print(
        f"relay envelope check           mean {sum(envelope) / len(envelope):6.2f} us, "
        f"max {max(envelope):6.2f} us   (target < 10 us, set by issue 14)"
    )
    print(f"desktop typed parse            mean {sum(typed) / len(typed):6.2f} us, "
          f"max {max(typed):6.2f} us")  # fmt: skip


if __name__ == "__main__":
    main()
