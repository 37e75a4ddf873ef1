"""Run every benchmark module (`make bench`), or only those named: `python -m tests.benchmarks api relay`.

Benchmarks print figures next to their targets; they never fail on a number (DESIGN.md 6).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

import tests.benchmarks as package
from app.main import prepare_process


def main(argv: list[str]) -> int:
    prepare_process()  # what `python -m app` does first (the client's per-request costs)
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.name.startswith("bench_")
    )
    wanted = [name for name in names if not argv or any(arg in name for arg in argv)]
    failures = 0
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"tests.benchmarks.{name}").main()
        except Exception:
            failures += 1
            traceback.print_exc()
        print(f"--- {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
