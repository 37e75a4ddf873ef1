"""Running the relay: `run_relay` in-process (demo, tests) and `build_server` for the CLI.

`run_relay(config)` starts uvicorn on its own event loop in a background thread, bound to the
configured host and port (127.0.0.1:0 picks a free port), waits until it accepts connections,
and stops it on exit. It works from sync code, asyncio tests and the Qt (qasync) app alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import uvicorn

from relay.app import Relay
from relay.config import RelayConfig
from relay.edge import FD_RESERVE, Edge

__all__ = ["RelayServer", "RunningRelay", "build_server", "raise_file_limit", "run_relay"]

# Soft limit asked for when the hard limit is unlimited (the kernel refuses RLIM_INFINITY).
_UNLIMITED_FILES = 1 << 20


def raise_file_limit() -> tuple[int, int, int]:
    """Raise the soft open-file limit to the hard one (systemd's default soft limit is 1,024:
    about a thousand desktops). Returns (soft before, soft now, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft, now, hard


def connection_budget(config: RelayConfig) -> int:
    """Connections the relay holds at once: the configured total, but never so many that
    accepting one more would fail for want of a file descriptor."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return config.max_connections
    return max(1, min(config.max_connections, soft - FD_RESERVE))


def notify_systemd(state: str) -> bool:
    """Tell systemd (`Type=notify`) about our state, e.g. "READY=1", by one datagram to
    $NOTIFY_SOCKET: the sd_notify protocol, without a dependency. False when not under systemd
    or when the datagram cannot be sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    if address[0] == "@":  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True


class RelayServer(uvicorn.Server):
    """uvicorn.Server that reports readiness once it truly is ready: the lifespan has opened
    the store and the listening socket accepts connections."""

    def __init__(self, config: uvicorn.Config, edge: Edge) -> None:
        super().__init__(config)
        self.edge = edge
        self.on_ready: Callable[[], None] | None = None
        self.on_stopping: Callable[[], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.on_ready is not None:
            self.on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Before draining: uvicorn re-raises SIGTERM once it is done, so nothing after runs.
        if self.on_stopping is not None:
            self.on_stopping()
        await super().shutdown(sockets=sockets)


def build_server(relay: Relay, config: RelayConfig) -> RelayServer:
    """A uvicorn server tuned for the relay: httptools, uvloop, no access log, and the TCP
    edge of relay/edge.py (deadlines, header budget, connection limits)."""
    edge = Edge(config, relay.metrics, connection_budget(config))
    edge.ingest = relay.ingest  # the webhook POST's fast path
    uv_config = uvicorn.Config(
        relay,
        host=config.host,
        port=config.port,
        loop="uvloop",
        http=edge.http_protocol(),
        ws=edge.ws_protocol(),
        lifespan="on",
        access_log=False,
        # The relay reads X-Forwarded-For itself, only when asked to (relay/proxy.py).
        proxy_headers=False,
        log_config=None,
        ws_ping_interval=config.ws_ping_interval,
        ws_ping_timeout=config.ws_ping_timeout,
        ws_max_size=64 * 1024,
        ws_per_message_deflate=config.ws_compression,
        timeout_keep_alive=max(1, round(config.keepalive_timeout)),
        backlog=2048,
        server_header=False,
        date_header=False,
    )
    return RelayServer(uv_config, edge)


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@dataclass
class RunningRelay:
    """A relay serving in a background thread."""

    relay: Relay
    base_url: str
    ws_url: str
    loop: asyncio.AbstractEventLoop

    def create_token(self, shops: Sequence[str], timeout: float = 10.0) -> str:
        """Mint a subscriber token through the running relay (thread-safe)."""
        future = asyncio.run_coroutine_threadsafe(self.relay.create_token(list(shops)), self.loop)
        return future.result(timeout)


@contextlib.contextmanager
def run_relay(
    config: RelayConfig,
    *,
    start_timeout: float = 15.0,
    clock: Callable[[], float] = time.time,
) -> Iterator[RunningRelay]:
    """Serve `config` in a background thread; yields once the socket accepts connections.
    `clock` is the relay's event clock (`Relay`)."""
    relay = Relay(config, clock=clock)
    server = build_server(relay, config)
    sock = bind_socket(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    loop_box: list[asyncio.AbstractEventLoop] = []
    failure: list[BaseException] = []

    def serve() -> None:
        import uvloop

        loop = uvloop.new_event_loop()
        loop_box.append(loop)
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=serve, name=f"relay-{port}", daemon=True)
    thread.start()
    deadline = start_timeout
    step = 0.01
    while not server.started and thread.is_alive() and deadline > 0:
        threading.Event().wait(step)
        deadline -= step
    if not server.started:
        server.should_exit = True
        thread.join(5)
        sock.close()
        raise RuntimeError("relay did not start") from (failure[0] if failure else None)
    try:
        base = f"http://{shown}:{port}"
        yield RunningRelay(relay, base, f"ws://{shown}:{port}/v1/stream", loop_box[0])
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
