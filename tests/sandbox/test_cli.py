"""The `viralstock-sandbox` command: base URL first, credentials from the environment, truth at
exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def test_command_serves_and_writes_truth_on_sigterm(tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.json"
    env = dict(os.environ)
    env["VIRALSTOCK_SANDBOX_APP_KEY"] = "envkey123"
    env["VIRALSTOCK_SANDBOX_APP_SECRET"] = "envsecret456"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.sandbox",
            "--port",
            "0",
            "--seed",
            "4",
            "--scenario",
            "viral",
            "--speed",
            "600",
            "--qps",
            "100",
            "--truth-file",
            str(truth_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client(timeout=10, trust_env=False) as client:
            stats = client.get(base_url + "/_sandbox/stats").json()
            assert stats["speed"] == 600 and "requests" in stats
            code = httpx.URL(
                client.get(
                    base_url + "/open/authorize",
                    params={
                        "service_id": "7495100000000000001",
                        "redirect_uri": "https://x.example/cb",
                    },
                ).headers["location"]
            ).params["code"]
            token = client.get(
                base_url + "/api/v2/token/get",
                params={
                    "app_key": "envkey123",
                    "app_secret": "envsecret456",
                    "auth_code": code,
                    "grant_type": "authorized_code",
                },
            ).json()
            assert token["code"] == 0
            live = client.get(base_url + "/_sandbox/truth").json()
            assert truth_file.exists()  # written on demand too
            assert set(live) >= {"skus", "videos", "orders", "counters"}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    truth = json.loads(truth_file.read_text())
    assert len(truth["skus"]) > 80
    assert {"sku_id", "product_id", "available", "units_sold", "stockout_at"} <= set(
        truth["skus"][0]
    )
    assert {"count", "revenue"} <= set(truth["orders"])
    assert {
        "requests",
        "rate_limited",
        "bad_signatures",
        "webhooks_sent",
        "webhooks_retried",
        "webhooks_dropped",
    } <= set(truth["counters"])
    assert truth["counters"]["requests"] >= 2
    assert "envsecret456" not in truth_file.read_text()


def test_fault_flags_reach_the_running_sandbox() -> None:
    flags = ["--burst-429", "1", "--retry-after", "7", "--malformed-rate", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "app.sandbox", "--port", "0", *flags, "--truncate-rate", "0.25"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        with httpx.Client(timeout=10, trust_env=False) as client:
            faults = client.get(base_url + "/_sandbox/faults").json()
        assert faults["pending_429"] == 1 and faults["retry_after"] == "7"
        assert faults["malformed_rate"] == 1.0 and faults["truncate_rate"] == 0.25
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
