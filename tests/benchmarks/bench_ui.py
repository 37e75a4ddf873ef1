"""Dashboard frame time: `MainWindow.apply` + chart flush + Qt painting what changed, offscreen.

120 SKUs with 30 days of sale-by-sale stock history (insight computed by app.insight), and one
SKU with a 200,000-point history selected in the stock-flow chart to exercise clip-to-view and
peak downsampling. Each frame applies a different snapshot (stock moved, insight recomputed), as
the live path does. Target: p95 < 16 ms. Figures only; nothing fails on a number. The machine is
shared, so numbers are noisy.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QSettings

from app.insight.shop import compute_shop_insight
from app.sync.dashboard_data import StockSeries
from app.ui.application import create_app
from app.ui.main_window import MainWindow
from app.ui.theme import ThemeManager, ThemeMode
from app.ui.viewmodel import DashboardViewModel
from tests.ui import synthetic

SKUS = 120
DAYS = 30.0
FRAMES = 120
LONG_POINTS = 200_000


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def _variants(base: DashboardViewModel, count: int) -> list[DashboardViewModel]:
    """Snapshots a few minutes apart: insight recomputed at each `now`, histories extended."""
    sim = synthetic.shop(SKUS, DAYS)
    out = []
    for k in range(count):
        now = synthetic.NOW + 60.0 * (k + 1)
        insight = compute_shop_insight(sim.history, now, default=base.default_settings)
        out.append(
            dataclasses.replace(
                base, insights=insight.skus, now=now, projector=insight.projected_stock
            )
        )
    return out


def main() -> None:
    started = time.perf_counter()
    app = create_app([])
    settings = QSettings(os.devnull, QSettings.Format.IniFormat)
    theme = ThemeManager(app, settings)
    theme.set_mode(ThemeMode.DARK)
    t0 = time.perf_counter()
    window = MainWindow(theme, settings)
    window.resize(1440, 960)
    window.show()
    app.processEvents()
    build_s = time.perf_counter() - t0
    base = synthetic.viewmodel(SKUS, DAYS)
    top = base.insights[0].sku_id
    n = LONG_POINTS
    times = np.linspace(synthetic.NOW - DAYS * 86400, synthetic.NOW, n)
    stock = np.abs(np.cumsum(np.random.default_rng(1).normal(0, 3, n))) + 50
    histories = dict(base.histories)
    histories[top] = StockSeries(top, times, stock)
    base = dataclasses.replace(base, histories=histories)
    total_points = sum(len(h.times) for h in histories.values())
    variants = _variants(base, 6)
    t0 = time.perf_counter()
    window.apply(base)
    window.flush_charts()
    window.repaint()
    app.processEvents()
    first_paint = time.perf_counter() - t0
    frames, applies = [], []
    for i in range(FRAMES):
        vm = variants[i % len(variants)]
        t0 = time.perf_counter()
        window.apply(vm)
        t1 = time.perf_counter()
        window.flush_charts()
        app.processEvents()  # Qt paints what changed, as in the running app
        t2 = time.perf_counter()
        applies.append((t1 - t0) * 1000)
        frames.append((t2 - t0) * 1000)
    full = []
    for _ in range(20):
        t0 = time.perf_counter()
        window.repaint()
        full.append((time.perf_counter() - t0) * 1000)
    # Event bursts between repaint ticks: apply only (the timer coalesces the drawing).
    bursts = []
    for i in range(FRAMES):
        t0 = time.perf_counter()
        window.apply(variants[i % len(variants)])
        bursts.append((time.perf_counter() - t0) * 1000)
    window.flush_charts()
    print(
        f"SKUs {SKUS}, history points {total_points:,} (one SKU {LONG_POINTS:,}), frames {FRAMES}"
    )
    print(f"window build                          {build_s * 1000:8.1f} ms")
    print(f"first apply + paint                   {first_paint * 1000:8.1f} ms")
    print(
        f"dashboard frame (apply+flush+paint)   p50 {statistics.median(frames):6.1f} ms"
        f"   p95 {_p(frames, 95):6.1f} ms   target p95 < 16 ms"
    )
    print(
        f"apply only (per snapshot)             p50 {statistics.median(applies):6.1f} ms"
        f"   p95 {_p(applies, 95):6.1f} ms"
    )
    print(
        f"apply between ticks (burst)           p50 {statistics.median(bursts):6.1f} ms"
        f"   p95 {_p(bursts, 95):6.1f} ms"
    )
    print(
        f"full-window repaint (worst case)      p50 {statistics.median(full):6.1f} ms"
        f"   p95 {_p(full, 95):6.1f} ms"
    )
    print(f"repaint timer                         {window.scheduler.interval_ms} ms (<= 10 Hz)")
    print(f"total {time.perf_counter() - started:.1f} s (shared 2-core machine: noisy)")
    window.close()


if __name__ == "__main__":
    main()
