"""The headless command lines, run as a user would (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]

SKU_KEYS = {
    "sku_id",
    "product_id",
    "product_name",
    "available",
    "velocity_per_hour",
    "hours_left",
    "alert_level",
    "reorder_quantity",
    "viral_video_id",
    "first_critical_at",
    "first_critical_hours_left",
}
SYNC_KEYS = {
    "webhooks_received",
    "webhooks_applied",
    "duplicates_ignored",
    "reconciled",
    "api_requests",
    "api_429s",
    "webhook_to_store_ms_p50",
    "webhook_to_store_ms_p99",
}


def _run(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_demo_headless_report_matches_the_sandbox_truth(tmp_path: Path) -> None:
    report_path, truth_path = tmp_path / "report.json", tmp_path / "truth.json"
    result = _run(
        "--demo",
        "--headless",
        "--run-for",
        "8",
        "--demo-speed",
        "900",
        "--seed",
        "2",
        "--report",
        str(report_path),
        "--sandbox-truth",
        str(truth_path),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    truth = json.loads(truth_path.read_text())
    assert set(report) == {"shops", "skus", "orders", "sync", "forecast_check"}
    assert report["shops"] and set(report["shops"][0]) == {"id", "name"}
    assert report["skus"] and all(set(sku) == SKU_KEYS for sku in report["skus"])
    assert set(report["orders"]) == {"count", "revenue", "viral_revenue_share"}
    assert set(report["sync"]) == SYNC_KEYS
    assert {s["sku_id"]: s["available"] for s in report["skus"]} == {
        s["sku_id"]: s["available"] for s in truth["skus"]
    }
    # Every SKU that turned critical has its first critical forecast checked against the truth.
    alerted = {s["sku_id"] for s in report["skus"] if s["first_critical_at"] is not None}
    assert {c["sku_id"] for c in report["forecast_check"]} <= alerted
    stockouts = {s["sku_id"]: s["stockout_at"] for s in truth["skus"]}
    for check in report["forecast_check"]:
        out = stockouts[check["sku_id"]]
        if out is None or out < check["critical_at"]:
            assert check["error"] is None
        else:
            actual = (out - check["critical_at"]) / 3600
            assert check["actual_hours"] == pytest.approx(actual, abs=1e-3)
            expected = abs(check["predicted_hours"] - actual) / max(actual, 1.0)
            assert check["error"] == pytest.approx(expected, abs=1e-3)
    assert report["orders"]["count"] == truth["orders"]["count"] > 0
    assert report["sync"]["webhooks_applied"] > 0
    assert report["sync"]["api_requests"] > 0
    # Secrets never reach the report or the output.
    text = report_path.read_text() + result.stdout + result.stderr
    assert "sandbox-demo-secret" not in text


def test_sync_without_stored_credentials_says_so_and_exits_2(tmp_path: Path) -> None:
    result = _run("sync", "--data-dir", str(tmp_path), "--run-for", "1", timeout=60)
    assert result.returncode == 2
    assert "viralstock sync:" in result.stdout
    assert "credentials" in result.stdout.lower() or "keyring" in result.stdout.lower()


def test_demo_headless_needs_run_for_and_report() -> None:
    result = _run("--demo", "--headless", timeout=60)
    assert result.returncode == 2
    assert "--run-for" in result.stderr
