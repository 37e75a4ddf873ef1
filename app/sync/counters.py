"""Mutable counters of the sync path, turned into the published `SyncMetrics`."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.sync.latency import LatencyRecorder
from app.sync.state import SyncMetrics

__all__ = ["SyncCounters"]


@dataclass
class SyncCounters:
    webhooks_received: int = 0
    webhooks_applied: int = 0
    duplicates_ignored: int = 0
    # Recorded as processed with an error: TikTok refused their re-read for good.
    webhooks_failed: int = 0
    reconciled: int = 0
    resyncs: int = 0
    reconnects: int = 0
    last_sync_at: float | None = None
    latency: LatencyRecorder = field(default_factory=LatencyRecorder)

    def metrics(
        self, api_requests: int, api_429s: int, queue_depth: int, apply_failures: int = 0
    ) -> SyncMetrics:
        p50, p99 = self.latency.percentiles(50, 99)
        return SyncMetrics(
            webhooks_received=self.webhooks_received,
            webhooks_applied=self.webhooks_applied,
            duplicates_ignored=self.duplicates_ignored,
            webhooks_failed=self.webhooks_failed,
            apply_failures=apply_failures,
            reconciled=self.reconciled,
            api_requests=api_requests,
            api_429s=api_429s,
            webhook_to_store_ms_p50=p50,
            webhook_to_store_ms_p99=p99,
            resyncs=self.resyncs,
            reconnects=self.reconnects,
            queue_depth=queue_depth,
            last_sync_at=self.last_sync_at,
        )
