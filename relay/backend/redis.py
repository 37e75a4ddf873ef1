"""The shared backend: Redis Streams, for any number of relay processes behind one balancer.

Layout (hash tags keep each shop's keys in one cluster slot):
- `vs:{shop}:ev`  the shop's event stream; cursor = stream id (fields `r` received_at, `b` body);
- `vs:{shop}:dd:<key>`  a dedupe id, `SET NX` with the dedupe retention as expiry;
- `vs:{shop}:tr`  the newest id that retention trimmed (for `gap`);
- `vs:shops`  every shop with a stream (what the trimmer walks);
- `vs:ack:<token hash>`  hash shop -> acknowledged cursor;  `vs:tok:<token hash>`  shops (JSON);
- `vs:cipher`  hash shop -> its `shop_cipher` (what `/v1/sign` checks);
- `vs:{shop}:sign`  the shop's `/v1/sign` token bucket (tokens, time), expiring when full;
- `vs:schema`  the layout version (2: cursors bound to shops);  `vs:legacy`  hash shop -> its
  newest stream id at the migration to version 2.

Appending is one Lua script per batch: dedupe check, XADD, SADD and PUBLISH run atomically, so
a dedupe id never exists without its event (a retry after a failed write is not mistaken for a
duplicate) and the notification order on `vs:events` is the commit order. Every process learns
of every new event from that channel (its own included), so a subscriber connected anywhere
gets it at once without polling. Pub/sub is at-most-once: when the listener reconnects, the
hub is reset and subscribers re-read the streams, so a missed notification delays but never
loses an event.

"A 200 means it is stored" needs Redis to persist every write before answering: `appendonly
yes` and `appendfsync always`. `start()` checks both and logs a clear warning otherwise.

Cursors are the stream ids zero-padded (`0001700000000000-0000000003`) so that string order and
numeric order agree for clients that compare them, behind the shop's tag (`base.bind_cursor`).
Stream ids are per shop (the relay's clock and a counter within the millisecond), so a cursor
says nothing about other shops. A store from before the tag is migrated at start
(`vs:schema` < 2): `vs:legacy` keeps each shop's newest id at that moment, the last bare cursor
it issued, so a desktop holding one still resumes. Streams, acks and ids are unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from relay.backend.base import (
    ASCII_NUMBER,
    Backend,
    BackendError,
    CommittedListener,
    Incoming,
    ShopPosition,
    StoredEvent,
    TokenRecord,
    bind_cursor,
    split_cursor,
)
from relay.logs import log
from relay.ratelimit import Budget, LocalBudget

__all__ = ["RedisBackend", "format_cursor", "parse_cursor"]

_logger = logging.getLogger("relay.backend.redis")

CHANNEL = "vs:events"
SHOPS = "vs:shops"
CIPHERS = "vs:cipher"  # hash shop id -> shop_cipher, learned at pairing
SCHEMA = "vs:schema"
LEGACY = "vs:legacy"
SCHEMA_VERSION = 2

# Migration to shop-bound cursors, atomic: record every shop's newest id (or the newest one
# trimmed), then the version. Returns the number of shops recorded, -1 when already done.
_MIGRATE = """
local version = tonumber(redis.call('GET', 'vs:schema') or '1')
if version >= tonumber(ARGV[1]) then
  return -1
end
local shops = redis.call('SMEMBERS', 'vs:shops')
for _, shop in ipairs(shops) do
  local last = redis.call('XREVRANGE', 'vs:{' .. shop .. '}:ev', '+', '-', 'COUNT', 1)
  local head = false
  if #last > 0 then
    head = last[1][1]
  else
    head = redis.call('GET', 'vs:{' .. shop .. '}:tr')
  end
  if head then
    redis.call('HSETNX', 'vs:legacy', shop, head)
  end
end
redis.call('SET', 'vs:schema', ARGV[1])
return #shops
"""

# A batch of appends in one atomic script. For event i: KEYS[2i-1] its dedupe key, KEYS[2i] its
# stream; ARGV[1] the dedupe ttl, then (received_at, body, shop) per event. Returns one stream id
# per event ("" for a duplicate) and publishes the stored ones, in order, as one message.
_APPEND = """
local ttl = ARGV[1]
local out = {}
local published = {}
local n = (#ARGV - 1) / 3
for i = 1, n do
  local received = ARGV[3 * i - 1]
  local body = ARGV[3 * i]
  local shop = ARGV[3 * i + 1]
  if redis.call('SET', KEYS[2 * i - 1], '1', 'NX', 'EX', ttl) then
    local id = redis.call('XADD', KEYS[2 * i], '*', 'r', received, 'b', body)
    redis.call('SADD', 'vs:shops', shop)
    out[i] = id
    published[#published + 1] = {shop, id, received, body}
  else
    out[i] = ''
  end
end
if #published > 0 then
  redis.call('PUBLISH', 'vs:events', cjson.encode(published))
end
return out
"""

# KEYS: ack hash. ARGV: shop, ms, seq. Moves the ack forward only.
_ACK = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local dash = string.find(old, '-')
  local oms = tonumber(string.sub(old, 1, dash - 1))
  local oseq = tonumber(string.sub(old, dash + 1))
  local ms = tonumber(ARGV[2])
  local seq = tonumber(ARGV[3])
  if oms > ms or (oms == ms and oseq >= seq) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '-' .. ARGV[3])
return 1
"""

# KEYS: stream, trimmed key. ARGV: min id to keep. Records the newest removed id, then trims.
_TRIM = """
local last = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1], '-', 'COUNT', 1)
if #last == 0 then
  return 0
end
redis.call('SET', KEYS[2], last[1][1])
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
"""


# The `/v1/sign` budget: a token bucket per shop in Redis, shared by every relay process.
# KEYS: `vs:{shop}:sign` per shop; ARGV: rate, burst. Takes one from each bucket or none;
# returns "0" or the seconds to wait (as a string: Lua numbers become integer replies).
_SIGN_BUDGET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(v[1]) or burst
  local at = tonumber(v[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  levels[i] = tokens
  if tokens < 1 then
    wait = math.max(wait, (1 - tokens) / rate)
  end
end
if wait > 0 then
  return tostring(wait)
end
local ttl = math.ceil(burst / rate) + 1
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'tokens', tostring(levels[i] - 1), 'at', tostring(now))
  redis.call('EXPIRE', key, ttl)
end
return '0'
"""


class _RedisBudget:
    """`Budget` in Redis: all processes on one Redis draw on the same bucket per shop."""

    def __init__(self, script: Any, rate: float, burst: float) -> None:
        self._script = script
        self._rate = rate
        self._burst = max(burst, 1.0)

    async def take(self, keys: list[str]) -> float:
        if self._rate <= 0:
            return 0.0
        try:
            wait = await self._script(
                keys=[f"vs:{{{key}}}:sign" for key in keys], args=[self._rate, self._burst]
            )
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return float(_text(wait))


_Pending = tuple[Incoming, float, "asyncio.Future[StoredEvent | None]"]


def parse_cursor(cursor: str) -> tuple[int, int]:
    """(ms, seq) of a cursor (bound or bare) or stream id; ValueError for anything else,
    full-width digits included."""
    _, position = split_cursor(cursor)
    ms, dash, seq = position.partition("-")
    if not dash or not ASCII_NUMBER.fullmatch(ms) or not ASCII_NUMBER.fullmatch(seq):
        raise ValueError("not a cursor")
    return int(ms), int(seq)


def format_cursor(stream_id: str | bytes) -> str:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, seq = parse_cursor(text)
    return f"{ms:016d}-{seq:010d}"


def _cursor(shop_id: str, stream_id: str | bytes) -> str:
    return bind_cursor(shop_id, format_cursor(stream_id))


def _redis_id(cursor: str) -> str:
    ms, seq = parse_cursor(cursor)
    return f"{ms}-{seq}"


def _stream(shop: str) -> str:
    return f"vs:{{{shop}}}:ev"


class RedisBackend(Backend):
    """Event log, dedupe, acks and tokens in Redis, shared by every relay process."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        event_retention: float,
        dedupe_retention: float,
        max_connections: int = 64,
    ) -> None:
        self.url = url
        self.event_retention = event_retention
        self.dedupe_retention = dedupe_retention
        # Typed as Any: redis-py's stubs return unions for every reply type.
        # A blocking pool: beyond `max_connections` commands in flight (thousands of desktops
        # reconnecting after a restart each ask for their token) a command waits for a free
        # connection instead of failing with "Too many connections".
        self._redis: Any = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=5,
                socket_timeout=5,
                socket_connect_timeout=5,
                health_check_interval=1,
            )
        )
        self._append: Any = self._redis.register_script(_APPEND)
        self._ack_script: Any = self._redis.register_script(_ACK)
        self._trim_script: Any = self._redis.register_script(_TRIM)
        self._migrate_script: Any = self._redis.register_script(_MIGRATE)
        self._budget_script: Any = self._redis.register_script(_SIGN_BUDGET)
        self._listener: asyncio.Task[None] | None = None
        self._on_committed: CommittedListener = lambda events: None
        self._on_reset: Callable[[], None] = lambda: None
        self._listening = asyncio.Event()
        self.durability_warning: str | None = None
        self.resets = 0
        self.max_batch = 256
        self._pending: list[_Pending] = []
        self._busy = False
        self._flush_scheduled = False
        self._batches: set[asyncio.Task[None]] = set()

    def sign_budget(self, rate: float, burst: float) -> Budget:
        if rate <= 0:
            return LocalBudget(rate, burst)
        return _RedisBudget(self._budget_script, rate, burst)

    def on_reset(self, callback: Callable[[], None]) -> None:
        """Called when notifications may have been missed (the hub drops its rings)."""
        self._on_reset = callback

    async def start(self, on_committed: CommittedListener) -> None:
        self._on_committed = on_committed
        try:
            await self._redis.ping()
            await self._check_durability()
            await self._migrate()
        except RedisError as exc:
            raise BackendError(f"redis unavailable: {exc.__class__.__name__}") from None
        self._listening = asyncio.Event()
        self._listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._listening.wait(), 10)

    async def _migrate(self) -> None:
        """Bring an older layout up to `SCHEMA_VERSION` (once; any process may do it). All
        processes of a relay should be upgraded together: an old one still running would go
        on issuing bare cursors that the migration did not record."""
        shops = int(await self._migrate_script(keys=[], args=[SCHEMA_VERSION]))
        if shops >= 0:
            log(_logger, logging.INFO, "redis layout migrated", version=SCHEMA_VERSION, shops=shops)

    async def _check_durability(self) -> None:
        config = await self._redis.config_get("append*")
        appendonly = _text(config.get(b"appendonly", config.get("appendonly", b"")))
        fsync = _text(config.get(b"appendfsync", config.get("appendfsync", b"")))
        if appendonly != "yes" or fsync != "always":
            self.durability_warning = (
                f"Redis has appendonly={appendonly or '?'} appendfsync={fsync or '?'}: a 200 "
                "does not guarantee the webhook survives a Redis crash. Set `appendonly yes` "
                "and `appendfsync always`."
            )
            log(_logger, logging.WARNING, self.durability_warning)

    async def _listen(self) -> None:
        """Forward every notification to the hub; on any reconnection, reset the hub.

        The channel has its own client without redis-py's silent retries: a reconnect that
        went unnoticed would let the hub serve events after a hole. A health-check PING finds
        a dead connection within seconds even when no event is flowing.
        """
        first = True
        while True:
            client: Any = aioredis.Redis.from_url(
                self.url,
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=5,
                health_check_interval=2,
            )
            pubsub = client.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(CHANNEL)
                # Wait for the confirmation: everything published from now on reaches us.
                while True:
                    message = await pubsub.get_message(timeout=5)
                    if message is not None and message.get("type") == "subscribe":
                        break
                if not first:
                    self.resets += 1
                    self._on_reset()
                first = False
                self._listening.set()
                while True:
                    message = await pubsub.get_message(timeout=1)
                    if message is None or message.get("type") != "message":
                        continue
                    self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log(_logger, logging.WARNING, "redis notifications lost", kind=type(exc).__name__)
                await asyncio.sleep(0.1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    def _deliver(self, data: bytes) -> None:
        try:
            events = [
                StoredEvent(shop, _cursor(shop, stream_id), float(received), body)
                for shop, stream_id, received, body in json.loads(data)
            ]
        except (ValueError, TypeError):
            log(_logger, logging.ERROR, "unreadable notification")
            return
        self._on_committed(events)

    async def close(self) -> None:
        for _ in range(200):  # let acknowledged-to-be work finish
            if not self._pending and not self._busy:
                break
            await asyncio.sleep(0.01)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        await self._redis.aclose()

    # --- Backend API ---------------------------------------------------------------------

    def append_soon(self, item: Incoming, received_at: float) -> asyncio.Future[StoredEvent | None]:
        future: asyncio.Future[StoredEvent | None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, received_at, future))
        if not self._busy and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return future

    # Group commit, as for SQLite: while one pipeline is out, new appends wait and go as the
    # next pipeline, so one round trip (and one AOF fsync on the server) covers many webhooks.

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._busy or not self._pending:
            return
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._run_batch(batch))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run_batch(self, batch: list[_Pending]) -> None:
        try:
            keys: list[str] = []
            args: list[str | int] = [max(1, int(self.dedupe_retention))]
            for item, received_at, _ in batch:
                keys += [f"vs:{{{item.shop_id}}}:dd:{item.dedupe_key}", _stream(item.shop_id)]
                args += [repr(received_at), item.body, item.shop_id]
            results = await self._append(keys=keys, args=args)
            for (item, received_at, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if not result:
                    future.set_result(None)
                else:
                    future.set_result(
                        StoredEvent(
                            item.shop_id, _cursor(item.shop_id, result), received_at, item.body
                        )
                    )
        except (RedisError, OSError) as exc:
            failure = BackendError(f"storage failed: {exc.__class__.__name__}")
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(failure)
        finally:
            self._busy = False
            if self._pending:
                self._flush()

    async def read(self, shop_id: str, after: str | None, limit: int) -> list[StoredEvent]:
        start = "-" if after is None else "(" + _redis_id(after)
        try:
            rows = await self._redis.xrange(_stream(shop_id), min=start, max="+", count=limit)
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        events = []
        for stream_id, fields in rows:
            events.append(
                StoredEvent(
                    shop_id,
                    _cursor(shop_id, stream_id),
                    float(fields[b"r"]),
                    fields[b"b"].decode("utf-8"),
                )
            )
        return events

    async def position(self, shop_id: str) -> ShopPosition:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xrevrange(_stream(shop_id), max="+", min="-", count=1)
                pipe.get(f"vs:{{{shop_id}}}:tr")
                newest, trimmed = await pipe.execute()
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        head = _cursor(shop_id, newest[0][0]) if newest else None
        trimmed_cursor = _cursor(shop_id, trimmed) if trimmed else None
        if head is None and trimmed_cursor is not None:
            head = trimmed_cursor  # everything was trimmed: the newest id is the trimmed one
        return ShopPosition(head, trimmed_cursor)

    def cursor_key(self, cursor: str) -> tuple[int, ...]:
        return parse_cursor(cursor)

    def canonical(self, position: str) -> str:
        return format_cursor(_redis_id(position))

    async def legacy_head(self, shop_id: str) -> str | None:
        try:
            value = await self._redis.hget(LEGACY, shop_id)
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return None if value is None else format_cursor(value)

    async def ack(self, token_hash: str, shop_id: str, cursor: str) -> None:
        ms, seq = parse_cursor(cursor)
        try:
            await self._ack_script(keys=[f"vs:ack:{token_hash}"], args=[shop_id, ms, seq])
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None

    async def acked(self, token_hash: str, shop_id: str) -> str | None:
        try:
            value = await self._redis.hget(f"vs:ack:{token_hash}", shop_id)
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return None if value is None else _cursor(shop_id, value)

    async def add_token(self, token_hash: str, shops: Sequence[str]) -> None:
        try:
            record = {"shops": list(shops), "created_at": time.time()}
            await self._redis.set(f"vs:tok:{token_hash}", json.dumps(record))
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None

    async def token_shops(self, token_hash: str) -> frozenset[str] | None:
        try:
            value = await self._redis.get(f"vs:tok:{token_hash}")
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return None if value is None else _token_record(token_hash, value).shops

    async def list_tokens(self) -> list[TokenRecord]:
        try:
            records = []
            async for key in self._redis.scan_iter(match="vs:tok:*", count=500):
                name = key.decode() if isinstance(key, bytes) else str(key)
                value = await self._redis.get(name)
                if value is not None:
                    records.append(_token_record(name[len("vs:tok:") :], value))
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return sorted(records, key=lambda r: r.created_at or 0.0)

    async def token_created(self, token_hash: str) -> float | None:
        try:
            value = await self._redis.get(f"vs:tok:{token_hash}")
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return None if value is None else _token_record(token_hash, value).created_at

    async def record_shop_ciphers(self, ciphers: Mapping[str, str]) -> None:
        if not ciphers:
            return
        try:
            await self._redis.hset(CIPHERS, mapping=dict(ciphers))
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None

    async def shop_ciphers(self, shops: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(shops))
        if not wanted:
            return {}
        try:
            values = await self._redis.hmget(CIPHERS, wanted)
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return {shop: _text(v) for shop, v in zip(wanted, values, strict=True) if v is not None}

    async def mark_deauthorized(self, shop_id: str, cursor: str, at: float) -> None:
        try:
            await self._redis.hset("vs:deauth", shop_id, json.dumps([cursor, at]))
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None

    async def deauthorized(self, shop_id: str) -> tuple[str, float] | None:
        try:
            value = await self._redis.hget("vs:deauth", shop_id)
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        if value is None:
            return None
        cursor, at = json.loads(value)
        return str(cursor), float(at)

    async def map_owner(self, open_id: str, shops: Sequence[str]) -> None:
        try:
            await self._redis.hset("vs:owners", open_id, json.dumps(sorted(set(shops))))
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None

    async def owner_shops(self, open_id: str) -> frozenset[str] | None:
        try:
            value = await self._redis.hget("vs:owners", open_id)
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return None if value is None else frozenset(str(s) for s in json.loads(value))

    async def revoke_token(self, token_hash: str) -> bool:
        try:
            gone = await self._redis.delete(f"vs:tok:{token_hash}", f"vs:ack:{token_hash}")
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return bool(gone)

    async def trim(self, now: float) -> int:
        """XTRIM MINID per shop. Dedupe ids expire by themselves (SET ... EX)."""
        minid = f"{int((now - self.event_retention) * 1000)}-0"
        removed = 0
        try:
            async for raw in self._redis.sscan_iter(SHOPS, count=500):
                shop = raw.decode()
                removed += int(
                    await self._trim_script(keys=[_stream(shop), f"vs:{{{shop}}}:tr"], args=[minid])
                )
        except RedisError as exc:
            raise BackendError(f"storage failed: {exc.__class__.__name__}") from None
        return removed

    async def healthy(self) -> bool:
        try:
            await self._redis.ping()
        except RedisError:
            return False
        return self._listener is not None and not self._listener.done()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _token_record(token_hash: str, value: Any) -> TokenRecord:
    """A `vs:tok:` value: {"shops": [...], "created_at": t}, or a bare shop list (older)."""
    data = json.loads(value)
    if isinstance(data, list):
        return TokenRecord(token_hash, frozenset(data), None)
    return TokenRecord(token_hash, frozenset(data["shops"]), data.get("created_at"))
