"""Sandbox throughput: signed Open API requests per second (target >= 1,000 on 2 cores).

The sandbox runs as its own process (`python -m app.sandbox`, rate limit off); the load comes
from another process, so server and load generator do not share a GIL:
- `wrk` (when installed; CI installs it) replaying a signed request, which stays valid for the
  5-minute timestamp window: the server still checks app_key, timestamp, HMAC, token and shop on
  every call;
- a lean Python generator (keep-alive `http.client`, 2 processes) that signs every request
  afresh, as a real client does.
Secrets go to wrk through a script file, never its command line. Numbers on a shared machine are
noisy; the benchmark prints them and never fails on them.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from app.sandbox.config import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SERVICE_ID
from app.tiktok.signing import sign_request

TARGET = 1_000.0
DURATION = 10.0
SHOPS_PATH = "/authorization/202309/shops"
SEARCH_PATH = "/order/202309/orders/search"


def _start_sandbox() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.sandbox", "--port", "0", "--qps", "0", "--scenario", "viral"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def authorize_code(base_url: str) -> str:
    """The seller authorizes the app on a sandbox in its own process: an auth code."""
    with httpx.Client(timeout=10, trust_env=False) as client:
        redirect = client.get(
            base_url + "/open/authorize",
            params={"service_id": DEFAULT_SERVICE_ID, "redirect_uri": "https://bench.example/cb"},
        )
        return str(httpx.URL(redirect.headers["location"]).params["code"])


def _token(base_url: str) -> tuple[str, str]:
    code = authorize_code(base_url)
    with httpx.Client(timeout=10, trust_env=False) as client:
        data = client.get(
            base_url + "/api/v2/token/get",
            params={
                "app_key": DEFAULT_APP_KEY,
                "app_secret": DEFAULT_APP_SECRET,
                "auth_code": code,
                "grant_type": "authorized_code",
            },
        ).json()["data"]
        token = str(data["access_token"])
        shops = _signed(client, base_url, token, "GET", SHOPS_PATH, {}, b"")
        cipher = str(shops["data"]["shops"][0]["cipher"])
    return token, cipher


def _signed(
    client: httpx.Client,
    base_url: str,
    token: str,
    method: str,
    path: str,
    query: dict[str, str],
    body: bytes,
) -> Any:
    params = {"app_key": DEFAULT_APP_KEY, "timestamp": str(int(time.time())), **query}
    params["sign"] = sign_request(DEFAULT_APP_SECRET, path, params, body)
    headers = {"x-tts-access-token": token, "content-type": "application/json"}
    response = client.request(method, base_url + path, params=params, content=body, headers=headers)
    return response.json()


def _signed_target(path: str, query: dict[str, str], body: bytes) -> str:
    params = {"app_key": DEFAULT_APP_KEY, "timestamp": str(int(time.time())), **query}
    params["sign"] = sign_request(DEFAULT_APP_SECRET, path, params, body)
    return path + "?" + urlencode(params)


def _wrk(base_url: str, token: str, method: str, target: str, body: bytes) -> tuple[float, str]:
    script = (
        f'wrk.method = "{method}"\n'
        f'wrk.headers["x-tts-access-token"] = "{token}"\n'
        'wrk.headers["content-type"] = "application/json"\n'
        + (f"wrk.body = {json.dumps(body.decode())}\n" if body else "")
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "request.lua"
        path.write_text(script)
        path.chmod(0o600)
        result = subprocess.run(
            ["wrk", "-t1", "-c32", f"-d{int(DURATION)}s", "-s", str(path), base_url + target],
            capture_output=True,
            text=True,
            check=False,
            timeout=DURATION + 30,
        )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    note = f"non-2xx: {errors.group(1)}" if errors else "all 2xx"
    return (float(match.group(1)) if match else 0.0), note


def _python_worker(args: tuple[str, str, str, float]) -> tuple[int, int]:
    base_url, token, cipher, duration = args
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    body = b'{"order_status":"AWAITING_SHIPMENT"}'
    ok = failed = 0
    deadline = time.monotonic() + duration
    count = 0
    while time.monotonic() < deadline:
        count += 1
        if count % 2:
            target = _signed_target(SHOPS_PATH, {}, b"")
            connection.request("GET", target, headers={"x-tts-access-token": token})
        else:
            query = {"shop_cipher": cipher, "page_size": "1"}
            target = _signed_target(SEARCH_PATH, query, body)
            headers = {"x-tts-access-token": token, "content-type": "application/json"}
            connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status == 200 and payload.startswith(b'{"code":0,'):
            ok += 1
        else:
            failed += 1
    connection.close()
    return ok, failed


def _python_load(base_url: str, token: str, cipher: str, workers: int) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        started = time.monotonic()
        results = pool.map(_python_worker, [(base_url, token, cipher, DURATION)] * workers)
        elapsed = time.monotonic() - started
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    return ok / elapsed, failed


def main() -> None:
    print(f"cores: {os.cpu_count()}; machine shared with other jobs: figures are noisy")
    process, base_url = _start_sandbox()
    try:
        token, cipher = _token(base_url)
        if shutil.which("wrk"):
            rate, note = _wrk(base_url, token, "GET", _signed_target(SHOPS_PATH, {}, b""), b"")
            print(f"wrk GET {SHOPS_PATH}: {rate:,.0f} req/s (target >= {TARGET:,.0f}; {note})")
            body = b'{"order_status":"AWAITING_SHIPMENT"}'
            target = _signed_target(SEARCH_PATH, {"shop_cipher": cipher, "page_size": "1"}, body)
            rate, note = _wrk(base_url, token, "POST", target, body)
            print(
                f"wrk POST {SEARCH_PATH} page_size=1: {rate:,.0f} req/s "
                f"(target >= {TARGET:,.0f}; {note})"
            )
        else:
            print("wrk not installed: only the Python generator runs")
        rate, failed = _python_load(base_url, token, cipher, workers=2)
        print(
            f"python generator, fresh signature per request, 2 processes: {rate:,.0f} req/s "
            f"(target >= {TARGET:,.0f}; failures: {failed}; the generator's own signing and "
            "HTTP parsing share the 2 cores)"
        )
    finally:
        process.terminate()
        process.wait(timeout=15)


if __name__ == "__main__":
    main()
