"""The relay's TCP edge: what a stranger on the internet can do to a socket before any handler runs.

uvicorn on its own never closes a client that is slow on purpose (headers that never end, a
chunked body that never ends, a Content-Length larger than what is sent, a connection that sends
nothing), accepts any number and size of headers, and accepts connections until the process runs
out of file descriptors, after which TikTok's webhooks and desktops' streams are reset. This
module subclasses uvicorn's httptools and sans-I/O WebSocket protocols to add:

- deadlines: the request line and headers must arrive within `header_timeout` of the connection
  (or of the first byte of a keep-alive request), the body within `body_timeout` of the headers;
  absolute deadlines, so a byte a second does not keep a socket alive;
- a header budget: more than `max_header_bytes` before the blank line, or more than
  `max_headers` fields, is answered 431 and closed, before uvicorn buffers any of it;
- connection limits per source address and in total, checked at accept: a connection over a
  limit is answered at once with 503 and `Retry-After` (TikTok retries; desktops back off) and
  closed cleanly (FIN after the answer, the request drained), never a reset of an accepted one.

It also carries the webhook POST's fast path: a `POST /webhooks/tiktok` (exact path, no
`Expect`, nothing else in flight on the connection) is read here and handed to
`Ingest.handle` with its raw pieces, and the answer is written from a callback once the backend
has committed. That skips uvicorn's per-request ASGI machinery (scope, cycle object, task,
receive/send coroutines and message dicts), which cost more CPU than the webhook's own work.
Everything else, and a pipelined request behind a pending one, goes the ordinary ASGI way; the
pending fast request stands in uvicorn's `cycle` slot so that pipelining keeps the order.

All counters go to `relay.metrics.Metrics` (open connections, timeouts by phase, shed load by
reason, 431s). One `Edge` is shared by every connection of a server; it lives on the event loop,
so plain integers suffice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import TYPE_CHECKING, Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

from relay.config import RelayConfig
from relay.logs import log
from relay.metrics import Metrics

if TYPE_CHECKING:
    from relay.ingest import Ingest, Outcome

__all__ = ["SEND_MANY", "Edge", "EdgeLimits"]

_logger = logging.getLogger("relay.edge")

# How long a refused connection may linger after its answer, draining what the client sent so
# that closing it does not turn into a reset that hides the answer.
_LINGER_SECONDS = 2.0
_WEBHOOK_PATH = b"/webhooks/tiktok"
# File descriptors kept back from connections: the store, Redis, upstream TikTok calls, logs.
FD_RESERVE = 256


class _HeadersTooLarge(Exception):
    """Raised from a parser callback to stop parsing a request whose headers break the budget."""


def _plain(status: bytes, text: bytes, extra: bytes = b"") -> bytes:
    return b"".join(
        [
            b"HTTP/1.1 ",
            status,
            b"\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ",
            str(len(text)).encode(),
            b"\r\n",
            extra,
            b"connection: close\r\n\r\n",
            text,
        ]
    )


class _Waker:
    """Stands in for the asyncio.Event uvicorn sets on its cycle; nobody waits on it."""

    __slots__ = ()

    def set(self) -> None:
        return None


_WAKER = _Waker()


class _FastCycle:
    """A webhook POST on the fast path, in uvicorn's `cycle` slot while it is read and until
    it is answered (uvicorn reads `response_complete`, `disconnected`, `keep_alive`, `body`,
    `more_body` and `message_event` of whatever sits there)."""

    __slots__ = (
        "answered",
        "authorization",
        "body",
        "disconnected",
        "ip",
        "keep_alive",
        "more_body",
        "response_complete",
    )

    message_event = _WAKER

    def __init__(self, ip: str, authorization: bytes | None, keep_alive: bool) -> None:
        self.ip = ip
        self.authorization = authorization
        self.keep_alive = keep_alive
        self.body = bytearray()
        self.more_body = True
        self.disconnected = False
        self.response_complete = False
        self.answered = False


class EdgeLimits:
    """The numbers the edge enforces, taken from the config once."""

    def __init__(self, config: RelayConfig, max_connections: int | None = None) -> None:
        self.header_timeout = config.header_timeout
        self.body_timeout = config.body_timeout
        self.max_header_bytes = config.max_header_bytes
        self.max_headers = config.max_headers
        self.max_connections = (
            config.max_connections if max_connections is None else max_connections
        )
        self.max_per_address = config.max_connections_per_ip
        self.retry_after = config.shed_retry_after


class Edge:
    """Connection accounting shared by all protocols of one server."""

    def __init__(
        self, config: RelayConfig, metrics: Metrics, max_connections: int | None = None
    ) -> None:
        self.limits = EdgeLimits(config, max_connections)
        self.metrics = metrics
        # Behind a reverse proxy every connection comes from the proxy: the per-address limit
        # would throttle everyone at once, so trusted proxies count only towards the total.
        self._exempt: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        if config.proxy_headers:
            for entry in config.trusted_proxies:
                if entry.strip() == "*":
                    self._exempt = [
                        ipaddress.ip_network("0.0.0.0/0"),
                        ipaddress.ip_network("::/0"),
                    ]
                    break
                self._exempt.append(ipaddress.ip_network(entry.strip(), strict=False))
        # The webhook POST's fast path (set by server.build_server); None: ASGI only.
        self.ingest: Ingest | None = None
        self.per_address: dict[str, int] = {}
        self._held: dict[int, str] = {}
        self.lingering = 0
        self.shed_503 = _plain(
            b"503 Service Unavailable",
            b"over capacity, retry later\n",
            b"retry-after: " + str(self.limits.retry_after).encode() + b"\r\n",
        )
        self.header_431 = _plain(
            b"431 Request Header Fields Too Large", b"request headers too large\n"
        )
        self.timeout_408 = _plain(b"408 Request Timeout", b"request timeout\n")

    # --- accounting ----------------------------------------------------------------------

    def _exempted(self, address: str) -> bool:
        if not self._exempt:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._exempt)

    def admit(self, key: int, address: str) -> str | None:
        """Count a new connection; the reason it must be refused, or None if it may stay."""
        limits = self.limits
        if len(self._held) >= limits.max_connections:
            return "total"
        if not self._exempted(address) and self.per_address.get(address, 0) >= (
            limits.max_per_address
        ):
            return "per_address"
        self._held[key] = address
        self.per_address[address] = self.per_address.get(address, 0) + 1
        self.metrics.connections_open = len(self._held)
        self.metrics.connections_accepted += 1
        return None

    def release(self, key: int) -> None:
        """Forget a connection (idempotent: HTTP and WebSocket protocols both call it)."""
        address = self._held.pop(key, None)
        if address is None:
            return
        left = self.per_address.get(address, 1) - 1
        if left <= 0:
            self.per_address.pop(address, None)
        else:
            self.per_address[address] = left
        self.metrics.connections_open = len(self._held)

    @property
    def open_connections(self) -> int:
        return len(self._held)

    # --- protocol classes ------------------------------------------------------------------

    def http_protocol(self) -> type[asyncio.Protocol]:
        """uvicorn's httptools protocol bound to this edge (uvicorn.Config(http=...))."""
        return type("EdgeHttpProtocol", (EdgeHttpProtocol,), {"edge": self})

    def ws_protocol(self) -> type[asyncio.Protocol]:
        """uvicorn's sans-I/O WebSocket protocol bound to this edge (uvicorn.Config(ws=...))."""
        return type("EdgeWebSocketProtocol", (EdgeWebSocketProtocol,), {"edge": self})


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


class EdgeHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with deadlines, a header budget and admission control."""

    edge: Edge

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._refused = False
        self._upgraded = False
        self._in_request = False
        # Keep-alive: when the connection last became idle (None: a request is under way). One
        # timer per idle period, not one per response (see on_response_complete).
        self._idle_since: float | None = None

    # --- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        reason = self.edge.admit(id(transport), _peer(transport))
        if reason is not None:
            self.edge.metrics.connections_shed[reason] += 1
            self._refuse(self.edge.shed_503)
            return
        self._arm(self.edge.limits.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        if self._refused:
            self.edge.lingering -= 1
            self._refused = False
        self.edge.release(id(self.transport))
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:  # type: ignore[override]
        if self._refused:
            self.transport.close()
        return None

    # --- deadlines -------------------------------------------------------------------------

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._refused:  # the linger after a refusal is over
            self.transport.abort()
            return
        self.edge.metrics.edge_timeouts[phase] += 1
        if (
            phase == "headers"
            and self._header_bytes
            and (self.cycle is None or self.cycle.response_complete)
        ):
            self.transport.write(self.edge.timeout_408)
        log(_logger, logging.DEBUG, "client too slow", phase=phase)
        self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        """Answer, send FIN, drain whatever the client still sends, close after a moment."""
        self._disarm()
        self._refused = True
        self.edge.lingering += 1
        transport = self.transport
        transport.write(answer)
        if transport.can_write_eof():
            transport.write_eof()
        self._deadline = self.loop.call_later(_LINGER_SECONDS, self._expired, "linger")

    # --- parsing ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused or self._upgraded:
            return
        self._unset_keepalive_if_required()
        try:
            self._feed(data)
            # Deadlines are armed only for a request still unfinished when this data is used
            # up (the first byte of a keep-alive request's headers, or its headers, arrived
            # just now: the same moment): a request that came whole costs no timer at all.
            if self._in_request and self._deadline is None and not self._refused:
                if self._reading_headers:
                    self._arm(self.edge.limits.header_timeout, "headers")
                else:
                    self._arm(self.edge.limits.body_timeout, "body")
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadersTooLarge):
                self._headers_too_large()
            else:
                self.send_400_response("Invalid HTTP request received.")
        except _HeadersTooLarge:
            self._headers_too_large()
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self._upgraded = True
                self._disarm()
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
                if self._deadline is None:
                    self._arm(self.edge.limits.body_timeout, "body")

    def _feed(self, data: bytes) -> None:
        """Feed the parser, never more than one byte past the header budget while headers are
        still being read (llhttp and httptools would buffer an endless header line)."""
        limit = self.edge.limits.max_header_bytes
        reading = self._reading_headers
        if not reading or self._header_bytes + len(data) <= limit:
            # The common case, a whole request well within the budget: no copy, one feed.
            if reading:
                self._header_bytes += len(data)
            self.parser.feed_data(data)
            return
        while data:
            if not self._reading_headers:
                self.parser.feed_data(data)
                return
            piece = data[: limit - self._header_bytes + 1]
            data = data[len(piece) :]
            self._header_bytes += len(piece)
            self.parser.feed_data(piece)
            if self._reading_headers and self._header_bytes > limit:
                raise _HeadersTooLarge

    def _headers_too_large(self) -> None:
        self.edge.metrics.edge_refused["headers_too_large"] += 1
        self._refuse(self.edge.header_431)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.edge.limits.max_headers:
            raise _HeadersTooLarge
        # uvicorn's on_header, inline (one Python call per header instead of two): lower-case
        # names, no trailing whitespace in values (RFC 9110 5.5), note `Expect: 100-continue`.
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_message_begin(self) -> None:
        # uvicorn's on_message_begin without its ASGI scope, which only a request that goes
        # the ASGI way needs: `_asgi_scope` builds it at the headers (not for a webhook POST).
        self._in_request = True
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def _asgi_scope(self) -> None:
        """uvicorn's per-request scope, as its on_message_begin makes it."""
        self.scope = {  # type: ignore[typeddict-item]
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,  # type: ignore[typeddict-item]
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._disarm()  # the body's deadline is armed by data_received if the body is not here
        if not self._fast_start():
            self._asgi_scope()
            super().on_headers_complete()

    # --- keep-alive --------------------------------------------------------------------------

    def _unset_keepalive_if_required(self) -> None:
        # Bytes arrived: not idle. The timer, if armed, stays (cancelling and re-creating one
        # per request cost more than the request's parsing); it re-checks when it fires.
        self._idle_since = None

    def on_response_complete(self) -> None:
        """uvicorn's, with one keep-alive timer per idle period: a busy connection's responses
        only note the time, and the timer closes the connection `timeout_keep_alive` after
        the last one (re-arming itself for the rest when the connection was busy meanwhile)."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._idle_since = None
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self._keep_alive_due
            )

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        since = self._idle_since
        if since is None:
            return  # a request is under way; its response arms the timer again
        left = since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_due)
            return
        self.timeout_keep_alive_handler()

    def on_body(self, body: bytes) -> None:
        cycle: object = self.cycle
        if type(cycle) is _FastCycle and not cycle.answered:
            cycle.body += body
            assert self.edge.ingest is not None
            if len(cycle.body) > self.edge.ingest.config.max_body:
                self._fast_answer(cycle, self.edge.ingest.too_large(cycle.ip))
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_request = False
        self._reading_headers = True
        self._header_bytes = 0
        self._header_count = 0
        cycle: object = self.cycle
        if type(cycle) is _FastCycle:
            cycle.more_body = False
            if not cycle.answered:
                ingest = self.edge.ingest
                assert ingest is not None
                body = bytes(cycle.body)
                cycle.body = bytearray()
                ingest.handle(
                    cycle.ip,
                    cycle.authorization,
                    body,
                    lambda outcome: self._fast_answer(cycle, outcome),
                )
            return
        super().on_message_complete()

    # --- the webhook POST's fast path --------------------------------------------------------

    def _fast_start(self) -> bool:
        """Take a webhook POST onto the fast path (at its headers); False: the ASGI way."""
        ingest = self.edge.ingest
        if (
            ingest is None
            or self.url != _WEBHOOK_PATH
            or self.expect_100_continue
            or (self.cycle is not None and not self.cycle.response_complete)
            or self.parser.get_method() != b"POST"
            or self.parser.should_upgrade()
        ):
            return False
        authorization: bytes | None = None
        declared: bytes | None = None
        for name, value in self.headers:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                declared = value
        ip = ingest.client_address.address(self.client, self.headers)
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        cycle = _FastCycle(ip, authorization, keep_alive)
        self.cycle = cycle  # type: ignore[assignment]
        early = ingest.admit(ip, declared)
        if early is not None:
            self._fast_answer(cycle, early)
        return True

    def _fast_answer(self, cycle: _FastCycle, outcome: Outcome) -> None:
        """Write the answer (once), then let uvicorn start a pipelined request or arm the
        keep-alive timeout, as it does after an ASGI response."""
        if cycle.answered:
            return
        cycle.answered = True
        cycle.response_complete = True
        transport = self.transport
        if cycle.disconnected or transport.is_closing():
            return
        assert self.edge.ingest is not None
        # Answered before the body ended (413, 429): as uvicorn does, the rest of the body is
        # read and dropped (under the body deadline) and the connection stays usable.
        transport.write(self.edge.ingest.render(outcome, cycle.keep_alive))
        if not cycle.keep_alive:
            transport.close()
        self.on_response_complete()

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        super().send_400_response(msg)


# ASGI scope extension offered to WebSocket apps: a "websocket.send" message may carry
# "texts", a list of text frames written with one socket write (relay/stream.py delivers a
# group-committed batch of events this way: one syscall per batch, not per event).
SEND_MANY = "viralstock.send_many"


class EdgeWebSocketProtocol(WebSocketsSansIOProtocol):
    """The WebSocket protocol an upgraded connection hands over to: it releases the
    connection's slot when the socket closes (the HTTP protocol never hears of it again), and
    writes several text frames at once (`SEND_MANY`)."""

    edge: Edge

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.scope["extensions"][SEND_MANY] = {}  # before the app runs

    async def send(self, message: Any) -> None:
        texts = message.get("texts") if message["type"] == "websocket.send" else None
        if texts is None:
            await super().send(message)
            return
        await self.writable.wait()
        if self.disconnected or self.close_sent or not self.handshake_complete:
            raise ClientDisconnected
        try:
            for text in texts:
                self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected from None
        self.transport.write(b"".join(self.conn.data_to_send()))

    def connection_lost(self, exc: Exception | None) -> None:
        self.edge.release(id(self.transport))
        super().connection_lost(exc)
