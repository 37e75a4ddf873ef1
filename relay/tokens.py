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
from collections.abc import Awaitable, Callable, Sequence

from relay.backend import Backend, open_backend
from relay.backend.base import TokenRecord
from relay.config import RelayConfig

__all__ = [
    "ID_LENGTH",
    "PREFIX",
    "create_token",
    "hash_token",
    "list_tokens",
    "looks_like_token",
    "mint_token",
    "revoke_token",
    "token_id",
]

PREFIX = "vsr_"
# A token's public id: the start of its SHA-256 hash, enough to name it in `token list` and
# `token revoke` without ever showing (or being able to rebuild) the token.
ID_LENGTH = 12
_MIN_ID = 8


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(token_hash: str) -> str:
    return token_hash[:ID_LENGTH]


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


def _one_off[T](config: RelayConfig, job: Callable[[Backend], Awaitable[T]]) -> T:
    """Open the config's storage, run `job`, close; synchronous."""

    async def run() -> T:
        backend = open_backend(config)
        await backend.start(lambda events: None)
        try:
            return await job(backend)
        finally:
            await backend.close()

    # A fresh thread has no running loop, so this works from sync code, asyncio and Qt alike.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def mint_token(config: RelayConfig, shops: Sequence[str], open_ids: Sequence[str] = ()) -> str:
    """Synchronous one-off: open the config's storage, store a new token, close. `open_ids`
    (a seller's or creator's TikTok open_id) are mapped to the token's shops, as OAuth pairing
    does: the way to route seller_open_id webhooks for a desktop paired in own-app mode."""

    owners = [open_id.strip() for open_id in open_ids]
    if any(not 0 < len(open_id) <= 128 for open_id in owners):
        raise ValueError("an open_id is 1 to 128 characters")

    async def job(backend: Backend) -> str:
        token = await create_token(backend, shops)
        for open_id in owners:
            await backend.map_owner(open_id, _clean_shops(shops))
        return token

    return _one_off(config, job)


def list_tokens(config: RelayConfig) -> list[TokenRecord]:
    """Every stored token of the config's storage (hashes, never tokens)."""
    return _one_off(config, lambda backend: backend.list_tokens())


def revoke_token(config: RelayConfig, ident: str) -> TokenRecord:
    """Revoke the one token whose id (a hash prefix from `token list`) is `ident`. A running
    relay refuses it for new connections at once and closes its open streams (4401) within
    its token check interval. ValueError when no token, or more than one, matches."""
    ident = ident.strip().lower()
    if len(ident) < _MIN_ID or any(c not in "0123456789abcdef" for c in ident):
        raise ValueError(f"a token id is at least {_MIN_ID} hex digits (see `token list`)")

    async def job(backend: Backend) -> TokenRecord:
        matches = [r for r in await backend.list_tokens() if r.token_hash.startswith(ident)]
        if not matches:
            raise ValueError(f"no token with id {ident}")
        if len(matches) > 1:
            raise ValueError(f"id {ident} matches {len(matches)} tokens; give more digits")
        await backend.revoke_token(matches[0].token_hash)
        return matches[0]

    return _one_off(config, job)


def same_token(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
