"""Fault injection through the in-process API and the `/_sandbox/faults` control path."""

from __future__ import annotations

import time

import httpx

from app.sandbox import RunningSandbox
from tests.sandbox.helpers import Api, assert_refused

SHOPS = "/authorization/202309/shops"


def test_error_rate_answers_5xx_with_internal_error(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.faults.error_rate = 1.0
    assert_refused(api.call("GET", SHOPS, cipher=None), 503, 36009003)
    sandbox.faults.error_rate = 0.5
    statuses = [api.call("GET", SHOPS, cipher=None).status_code for _ in range(40)]
    assert 200 in statuses and 503 in statuses
    sandbox.faults.error_rate = 0.0
    assert api.call("GET", SHOPS, cipher=None).status_code == 200
    assert sandbox.stats()["errors_injected"] >= 2


def test_burst_of_429(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.faults.burst_429(3)
    for _ in range(3):
        assert_refused(api.call("GET", SHOPS, cipher=None), 429, 36009002)
    assert api.call("GET", SHOPS, cipher=None).status_code == 200
    assert sandbox.stats()["rate_limited"] == 3


def test_added_latency(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.faults.latency = 0.3
    started = time.monotonic()
    assert api.call("GET", SHOPS, cipher=None).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_faults_over_http(api: Api, sandbox: RunningSandbox, client: httpx.Client) -> None:
    url = sandbox.base_url + "/_sandbox/faults"
    answer = client.post(url, json={"error_rate": 1.0, "burst_429": 1})
    assert answer.status_code == 200 and answer.json()["pending_429"] == 1
    assert_refused(api.call("GET", SHOPS, cipher=None), 429, 36009002)
    assert_refused(api.call("GET", SHOPS, cipher=None), 503, 36009003)
    client.post(url, json={"error_rate": 0})
    assert api.call("GET", SHOPS, cipher=None).status_code == 200
    assert client.post(url, json={"latency": -1}).status_code == 400
    assert client.post(url, content=b"[1]").status_code == 400
