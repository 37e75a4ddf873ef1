"""The `/v1/sign` budget a shop's desktops share (the keyed buckets are `app.tiktok.buckets`)."""

from __future__ import annotations

from typing import Protocol

from app.tiktok.buckets import Buckets

__all__ = ["Budget", "LocalBudget"]


class Budget(Protocol):
    """A budget several keys draw on together (the `/v1/sign` budget per shop)."""

    async def take(self, keys: list[str]) -> float:
        """Take one from each key and return 0, or take none and return the seconds until
        every key has one again."""
        ...


class LocalBudget:
    """`Budget` in this process's memory: right for one relay process (SQLite)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.buckets = Buckets(rate, burst)

    async def take(self, keys: list[str]) -> float:
        if self.buckets.allow_all(keys):
            return 0.0
        return max(self.buckets.retry_after(key) for key in keys)
