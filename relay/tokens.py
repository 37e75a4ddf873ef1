"""Subscriber tokens: random bearer strings of which only a SHA-256 hash is ever stored.

`create_token` mints one through a running backend (the relay's `/v1/pair` and OAuth paths);
`mint_token` opens the storage named by a config for a one-off (the `token create` command, the
desktop demo, tests), and works while `serve` runs on the same database or Redis.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from relay.backend import Backend, open_backend
from relay.config import RelayConfig

__all__ = ["PREFIX", "create_token", "hash_token", "looks_like_token", "mint_token"]

PREFIX = "vsr_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str) -> bool:
    return token.startswith(PREFIX) and 20 <= len(token) <= 200 and token.isascii()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def _clean_shops(shops: Sequence[str]) -> list[str]:
    cleaned = sorted({str(s).strip() for s in shops if str(s).strip()})
    if not cleaned:
        raise ValueError("a token needs at least one shop")
    return cleaned


async def create_token(backend: Backend, shops: Sequence[str]) -> str:
    """A new token for `shops`, stored (as a hash) before it is returned."""
    token = new_token()
    await backend.add_token(hash_token(token), _clean_shops(shops))
    return token


def mint_token(config: RelayConfig, shops: Sequence[str]) -> str:
    """Synchronous one-off: open the config's storage, store a new token, close."""

    async def run() -> str:
        backend = open_backend(config)
        await backend.start(lambda events: None)
        try:
            return await create_token(backend, shops)
        finally:
            await backend.close()

    # A fresh thread has no running loop, so this works from sync code, asyncio and Qt alike.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def same_token(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
