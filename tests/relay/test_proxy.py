"""`serve --proxy-headers`: behind the TLS reverse proxy the per-IP limit keys on the address
the proxy vouches for in X-Forwarded-For, and only a configured proxy is believed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from relay.cli import _config, _parser
from relay.proxy import ClientAddress
from relay.server import run_relay
from tests.relay.conftest import body, make_config, sign
from tests.relay.procs import cli


def _scope(peer: str, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 40000), "headers": [(b"host", b"relay"), *headers]}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        # A client-written entry on the left is not believed: the proxy appended the real one.
        ("127.0.0.1", ["6.6.6.6, 203.0.113.7"], "203.0.113.7"),
        # Several headers are one list, in order.
        ("127.0.0.1", ["6.6.6.6", "203.0.113.7"], "203.0.113.7"),
        # Chained trusted proxies are skipped from the right.
        ("127.0.0.1", ["203.0.113.7, 10.0.0.5, 127.0.0.1"], "203.0.113.7"),
        # Garbage where the proxy should have written an address: the peer stands.
        ("127.0.0.1", ["203.0.113.7, not-an-ip"], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.7,"], "127.0.0.1"),
        # An untrusted peer's header is ignored entirely.
        ("198.51.100.9", ["203.0.113.7"], "198.51.100.9"),
        ("::1", ["2001:db8::1"], "2001:db8::1"),
        ("127.0.0.1", ["2001:DB8:0:0::1"], "2001:db8::1"),  # one spelling per address
    ],
)
def test_resolution(peer: str, forwarded: list[str], expected: str) -> None:
    resolver = ClientAddress(True, ["127.0.0.1", "::1", "10.0.0.0/8"])
    assert resolver.resolve(_scope(peer, *forwarded)) == expected


def test_off_means_the_tcp_peer() -> None:
    assert ClientAddress(False).resolve(_scope("127.0.0.1", "203.0.113.7")) == "127.0.0.1"


def test_padding_cannot_make_the_relay_walk_far() -> None:
    padded = ", ".join(["127.0.0.1"] * 10_000)
    assert ClientAddress(True).resolve(_scope("127.0.0.1", padded)) == "127.0.0.1"


def test_bad_trusted_address_is_refused() -> None:
    with pytest.raises(ValueError):
        ClientAddress(True, ["not-an-ip"])


def _codes(http: httpx.Client, prefix: str, forwarded: str | None, n: int) -> list[int]:
    """`n` forged webhooks (the per-IP budget counts refusals): 401 until it is spent, then
    429."""
    codes = []
    for i in range(n):
        raw = body(f"{prefix}-{i}")
        headers = sign(raw, "not-the-secret")
        if forwarded is not None:
            headers["X-Forwarded-For"] = forwarded
        codes.append(http.post("/webhooks/tiktok", content=raw, headers=headers).status_code)
    return codes


def test_limit_per_forwarded_address_behind_a_trusted_proxy(tmp_path: Path) -> None:
    config = make_config(tmp_path, ip_refusal_rate=0.01, ip_refusal_burst=2.0, proxy_headers=True)
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as http:
        assert _codes(http, "a", "203.0.113.1", 3) == [401, 401, 429]
        # Another sender behind the same proxy has its own bucket ...
        assert _codes(http, "b", "203.0.113.2", 2) == [401, 401]
        # ... and a sender cannot escape its bucket by writing its own header to the left.
        assert _codes(http, "c", "198.51.100.1, 203.0.113.1", 1) == [429]
        metrics = http.get("/metrics").text
        assert 'relay_webhooks_rejected_total{reason="rate_limited"} 2' in metrics


def test_header_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        ip_refusal_rate=0.01,
        ip_refusal_burst=2.0,
        proxy_headers=True,
        trusted_proxies=("10.9.9.9",),
    )
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as http:
        # 127.0.0.1 is not a configured proxy: every address it claims is still 127.0.0.1.
        assert _codes(http, "a", "203.0.113.1", 1) == [401]
        assert _codes(http, "b", "203.0.113.2", 1) == [401]
        assert _codes(http, "c", "203.0.113.3", 1) == [429]


def test_without_the_option_the_header_is_ignored(tmp_path: Path) -> None:
    config = make_config(tmp_path, ip_refusal_rate=0.01, ip_refusal_burst=2.0)
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as http:
        assert _codes(http, "a", "203.0.113.1", 1) == [401]
        assert _codes(http, "b", "203.0.113.2", 1) == [401]
        assert _codes(http, "c", "203.0.113.3", 1) == [429]


def test_cli_options() -> None:
    args = _parser().parse_args(
        ["serve", "--proxy-headers", "--trusted-proxy", "10.0.0.1", "--trusted-proxy",
         "192.168.0.0/16,::1"]
    )  # fmt: skip
    config = _config(args)
    assert config.proxy_headers is True
    assert config.trusted_proxies == ("10.0.0.1", "192.168.0.0/16", "::1")
    default = _config(_parser().parse_args(["serve"]))
    assert default.proxy_headers is False
    assert default.trusted_proxies == ("127.0.0.1", "::1")
    refused = cli("serve", "--port", "0", "--proxy-headers", "--trusted-proxy", "nonsense")
    assert refused.returncode == 2
    assert "--trusted-proxy" in refused.stderr
