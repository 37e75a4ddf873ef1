"""API call metrics: one row per Open API call, for the sync-performance panel.

Only the path is kept, never the query string, so a row can never hold a signature, an app
key or a token; `error_kind` is a short code ("timeout", "http_429"), never exception text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.store.schema import ApiCallRow

__all__ = ["ApiCall", "ApiStats", "api_call_stats", "prune_api_calls", "record_api_calls"]

RATE_LIMITED_CODE = 36009002


@dataclass(frozen=True, slots=True)
class ApiCall:
    at: float
    method: str
    path: str
    duration_ms: float
    http_status: int | None = None
    api_code: int | None = None
    shop_id: str | None = None
    priority: str = "normal"
    attempt: int = 1
    error_kind: str | None = None


@dataclass(frozen=True, slots=True)
class ApiStats:
    calls: int
    ok: int
    failed: int
    rate_limited: int
    mean_ms: float | None
    max_ms: float | None

    @property
    def success_rate(self) -> float | None:
        return self.ok / self.calls if self.calls else None


def _clean_path(path: str) -> str:
    return path.split("?", 1)[0].split("#", 1)[0]


def record_api_calls(session: Session, calls: Iterable[ApiCall]) -> int:
    """Append calls (the client buffers them and flushes in batches); returns the count."""
    rows = [{**asdict(call), "path": _clean_path(call.path)} for call in calls]
    if rows:
        session.execute(insert(ApiCallRow), rows)
    return len(rows)


def api_call_stats(session: Session, since: float, shop_id: str | None = None) -> ApiStats:
    """Counts and timings of calls made at or after `since`. A call is ok when it got HTTP 2xx
    and TikTok code 0 (or no code); rate limited on HTTP 429 or code 36009002."""
    ok = (ApiCallRow.http_status >= 200) & (ApiCallRow.http_status < 300)
    ok &= func.coalesce(ApiCallRow.api_code, 0) == 0
    limited = (ApiCallRow.http_status == 429) | (ApiCallRow.api_code == RATE_LIMITED_CODE)
    query = select(
        func.count(),
        func.coalesce(func.sum(func.iif(ok, 1, 0)), 0),
        func.coalesce(func.sum(func.iif(limited, 1, 0)), 0),
        func.avg(ApiCallRow.duration_ms),
        func.max(ApiCallRow.duration_ms),
    ).where(ApiCallRow.at >= since)
    if shop_id is not None:
        query = query.where(ApiCallRow.shop_id == shop_id)
    calls, good, rate_limited, mean, longest = session.execute(query).one()
    return ApiStats(calls, good, calls - good, rate_limited, mean, longest)


def prune_api_calls(session: Session, before: float) -> int:
    """Drop metrics older than `before` (the panel shows recent hours); returns rows deleted."""
    result = session.execute(delete(ApiCallRow).where(ApiCallRow.at < before))
    return int(getattr(result, "rowcount", 0) or 0)
