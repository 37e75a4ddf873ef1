"""Counters and one latency histogram, rendered in the Prometheus text format by hand.

Plain attributes and integer increments on the event loop: the ingest hot path pays one
attribute add per counter, nothing more.
"""

from __future__ import annotations

import bisect
from collections import Counter

__all__ = ["Histogram", "Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """A cumulative-bucket histogram of seconds."""

    def __init__(self, bounds: tuple[float, ...] = _LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds
        self.count += 1

    def render(self, name: str, help_text: str) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
        running += self.counts[-1]
        lines.append(f'{name}_bucket{{le="+Inf"}} {running}')
        lines.append(f"{name}_sum {self.total:.6f}")
        lines.append(f"{name}_count {self.count}")
        return lines


class Metrics:
    """What `/metrics` reports."""

    def __init__(self) -> None:
        self.received = 0
        self.accepted = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        # Accepted webhooks whose owner maps to no paired shop, by topic number.
        self.unrouted: Counter[str] = Counter()
        self.delivered = 0
        # Stored rows removed by retention (events and dedupe keys).
        self.trimmed = 0
        self.subscribers = 0
        self.sign_requests = 0
        self.sign_refused: Counter[str] = Counter()
        self.latency = Histogram()
        # The TCP edge (relay/edge.py).
        self.connections_open = 0
        self.connections_accepted = 0
        self.connections_shed: Counter[str] = Counter()
        self.edge_timeouts: Counter[str] = Counter()
        self.edge_refused: Counter[str] = Counter()

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines = [
            "# HELP relay_webhooks_received_total Webhook POSTs received.",
            "# TYPE relay_webhooks_received_total counter",
            f"relay_webhooks_received_total {self.received}",
            "# HELP relay_webhooks_accepted_total Webhooks verified and stored.",
            "# TYPE relay_webhooks_accepted_total counter",
            f"relay_webhooks_accepted_total {self.accepted}",
            "# HELP relay_webhooks_duplicate_total Webhooks acknowledged as already stored.",
            "# TYPE relay_webhooks_duplicate_total counter",
            f"relay_webhooks_duplicate_total {self.duplicates}",
            "# HELP relay_webhooks_rejected_total Webhooks refused, by reason.",
            "# TYPE relay_webhooks_rejected_total counter",
        ]
        for reason in sorted(self.rejected):
            count = self.rejected[reason]
            lines.append(f'relay_webhooks_rejected_total{{reason="{reason}"}} {count}')
        lines += [
            "# HELP relay_webhooks_unrouted_total Webhooks stored in the unrouted bucket: their"
            " seller_open_id or creator_open_id maps to no paired shop, by topic.",
            "# TYPE relay_webhooks_unrouted_total counter",
        ]
        for kind in sorted(self.unrouted, key=int):
            count = self.unrouted[kind]
            lines.append(f'relay_webhooks_unrouted_total{{type="{kind}"}} {count}')
        lines += [
            "# HELP relay_events_delivered_total Event frames sent to subscribers.",
            "# TYPE relay_events_delivered_total counter",
            f"relay_events_delivered_total {self.delivered}",
            "# HELP relay_rows_trimmed_total Stored rows removed by retention.",
            "# TYPE relay_rows_trimmed_total counter",
            f"relay_rows_trimmed_total {self.trimmed}",
            "# HELP relay_subscribers_connected WebSocket subscribers connected now.",
            "# TYPE relay_subscribers_connected gauge",
            f"relay_subscribers_connected {self.subscribers}",
            "# HELP relay_sign_requests_total Signatures made for vendor-mode desktops.",
            "# TYPE relay_sign_requests_total counter",
            f"relay_sign_requests_total {self.sign_requests}",
            "# HELP relay_sign_refused_total Signing requests refused, by reason.",
            "# TYPE relay_sign_refused_total counter",
        ]
        for reason in sorted(self.sign_refused):
            count = self.sign_refused[reason]
            lines.append(f'relay_sign_refused_total{{reason="{reason}"}} {count}')
        lines += self._edge()
        lines += self.latency.render(
            "relay_delivery_latency_seconds",
            "From webhook receipt to the event frame being written to a subscriber.",
        )
        for name, value in (extra or {}).items():
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"

    def _edge(self) -> list[str]:
        lines = [
            "# HELP relay_connections_open TCP connections held now (HTTP and WebSocket).",
            "# TYPE relay_connections_open gauge",
            f"relay_connections_open {self.connections_open}",
            "# HELP relay_connections_accepted_total TCP connections admitted.",
            "# TYPE relay_connections_accepted_total counter",
            f"relay_connections_accepted_total {self.connections_accepted}",
            "# HELP relay_connections_shed_total Connections refused at accept with 503, by "
            "limit (per_address, total).",
            "# TYPE relay_connections_shed_total counter",
        ]
        for reason in ("per_address", "total"):
            lines.append(
                f'relay_connections_shed_total{{limit="{reason}"}} {self.connections_shed[reason]}'
            )
        lines += [
            "# HELP relay_client_timeouts_total Connections closed for being too slow, by "
            "phase (headers, body).",
            "# TYPE relay_client_timeouts_total counter",
        ]
        for phase in ("headers", "body"):
            lines.append(
                f'relay_client_timeouts_total{{phase="{phase}"}} {self.edge_timeouts[phase]}'
            )
        lines += [
            "# HELP relay_requests_refused_total Requests refused at the edge, by reason.",
            "# TYPE relay_requests_refused_total counter",
            'relay_requests_refused_total{reason="headers_too_large"} '
            f"{self.edge_refused['headers_too_large']}",
        ]
        return lines
