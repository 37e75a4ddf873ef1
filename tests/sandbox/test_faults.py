"""Fault injection through the in-process API and the `/_sandbox/faults` control path."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from app.sandbox import RunningSandbox
from app.sandbox.faults import JUNK
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


def test_garbled_and_truncated_answers(api: Api, sandbox: RunningSandbox) -> None:
    good = api.call("GET", SHOPS, cipher=None)
    assert good.status_code == 200 and good.json()["code"] == 0
    sandbox.faults.burst_malformed(1)
    sandbox.faults.burst_truncated(1)
    junk = api.call("GET", SHOPS, cipher=None)
    assert junk.status_code == 200 and junk.content == JUNK
    cut = api.call("GET", SHOPS, cipher=None)
    assert cut.status_code == 200 and 0 < len(cut.content) < len(good.content)
    assert int(cut.headers["content-length"]) == len(cut.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    assert api.call("GET", SHOPS, cipher=None).json()["code"] == 0  # the bursts are used up
    sandbox.faults.malformed_rate = 0.5
    bodies = [api.call("GET", SHOPS, cipher=None).content for _ in range(40)]
    assert JUNK in bodies and any(body != JUNK for body in bodies)
    sandbox.faults.malformed_rate = 0.0
    sandbox.faults.truncate_rate = 1.0
    assert len(api.call("GET", SHOPS, cipher=None).content) < len(good.content)
    assert sandbox.stats()["garbled_injected"] >= 4


def test_injected_429_carries_the_configured_retry_after(
    api: Api, sandbox: RunningSandbox, client: httpx.Client
) -> None:
    sandbox.faults.burst_429(1)
    assert "retry-after" not in api.call("GET", SHOPS, cipher=None).headers  # none by default
    url = sandbox.base_url + "/_sandbox/faults"
    answer = client.post(url, json={"burst_429": 2, "retry_after": "inf"})
    assert answer.json()["retry_after"] == "inf" and answer.json()["pending_429"] == 2
    refused = api.call("GET", SHOPS, cipher=None)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "inf"
    answer = client.post(url, json={"retry_after": 2.5, "burst_malformed": 1})
    assert answer.json()["pending_malformed"] == 1
    refused = api.call("GET", SHOPS, cipher=None)  # the garbling hits any answer, a 429 too
    assert refused.headers["retry-after"] == "2.5" and refused.content == JUNK
    assert api.call("GET", SHOPS, cipher=None).json()["code"] == 0
    assert client.post(url, json={"retry_after": "1\r\nx-evil: 1"}).status_code == 400
    assert client.post(url, json={"truncate_rate": -0.1}).status_code == 400
