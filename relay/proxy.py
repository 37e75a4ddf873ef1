"""The webhook sender's address behind a TLS reverse proxy (`serve --proxy-headers`).

Behind nginx or a cloud load balancer every POST comes from the proxy, so the per-IP limit would
throttle TikTok as a whole by one bucket. With proxy headers on, the relay reads
`X-Forwarded-For`, but only when the TCP peer is one of the configured proxies (default
127.0.0.1 and ::1): anyone else could write that header and pick their own bucket. The chain is
read from the right, skipping trusted proxies, because each proxy appends the address it saw:
the rightmost untrusted entry is the one a trusted proxy vouched for, and everything to its
left was written by the client and proves nothing.

uvicorn's own proxy-header middleware is switched off (see server.py) so this is the one place
that decides, and the hot path pays nothing when the option is off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any

__all__ = ["DEFAULT_TRUSTED_PROXIES", "ClientAddress"]

DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")

# More hops than any sane proxy chain; a longer header is client-written padding.
_MAX_HOPS = 16

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """`resolve(scope)` is the address the per-IP limit and the logs use."""

    def __init__(self, enabled: bool, trusted: Iterable[str] = DEFAULT_TRUSTED_PROXIES) -> None:
        self.enabled = enabled
        self._any = False
        self._exact: set[str] = set()
        self._networks: list[_Network] = []
        for entry in trusted:
            entry = entry.strip()
            if not entry:
                continue
            if entry == "*":
                self._any = True
            elif "/" in entry:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            else:
                self._exact.add(str(ipaddress.ip_address(entry)))  # ValueError if not an IP

    def trusted(self, address: str) -> bool:
        if self._any or address in self._exact:
            return True
        if not self._networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def resolve(self, scope: MutableMapping[str, Any]) -> str:
        return self.address(scope.get("client"), scope["headers"])

    def address(self, client: tuple[str, int] | None, headers: list[tuple[bytes, bytes]]) -> str:
        """`resolve` from the connection's peer and the request's headers (the edge's fast
        path has no ASGI scope)."""
        peer: str = client[0] if client else "-"
        if not self.enabled or not self.trusted(peer):
            return peer
        values = [value for name, value in headers if name == b"x-forwarded-for"]
        if not values:
            return peer
        hops = b",".join(values).decode("latin-1").split(",")[-_MAX_HOPS:]
        chosen = peer
        for hop in reversed(hops):
            hop = hop.strip()
            try:
                hop = str(ipaddress.ip_address(hop))
            except ValueError:
                # Garbage where a trusted proxy should have written an address: do not let it
                # name a bucket; the last address we could vouch for stands.
                return chosen
            chosen = hop
            if not self.trusted(hop):
                return hop
        return chosen
