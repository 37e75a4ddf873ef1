"""The relay's TCP edge over real sockets: slow clients are closed, oversize headers get 431,
connections over a limit get a clean 503 with Retry-After while accepted ones keep working,
and /metrics counts all of it (relay/edge.py)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relay.server import RunningRelay, run_relay
from tests.relay.conftest import SHOP_A, Subscriber, body, make_config, sign

TIMEOUT = 1.0  # the deadlines the tests configure; production defaults are 5 s and 10 s


@pytest.fixture
def edge_relay(tmp_path: Path) -> Iterator[RunningRelay]:
    config = make_config(
        tmp_path,
        header_timeout=TIMEOUT,
        body_timeout=TIMEOUT,
        max_connections_per_ip=20,
        max_connections=60,
        shed_retry_after=7,
    )
    with run_relay(config) as running:
        yield running


def _address(relay: RunningRelay) -> tuple[str, int]:
    host, port = relay.base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def connect(relay: RunningRelay, source: str = "127.0.0.1") -> socket.socket:
    """A raw TCP connection, from `source` (any 127/8 address works on Linux loopback, so one
    machine can play several senders)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(_address(relay))
    return sock


def read_until_closed(sock: socket.socket, limit: float = 10.0) -> tuple[bytes, float]:
    """Everything the relay sends until it closes the connection, and how long that took."""
    start = time.monotonic()
    chunks: list[bytes] = []
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - start


def dribble_until_closed(sock: socket.socket, pieces: Iterator[bytes], every: float) -> float:
    """Send a piece every `every` seconds until the relay closes the socket; seconds taken."""
    start = time.monotonic()
    sock.settimeout(every)
    for piece in pieces:
        if time.monotonic() - start > 20:
            break
        try:
            sock.sendall(piece)
            if sock.recv(65536) == b"":
                break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
    return time.monotonic() - start


def forever(piece: bytes) -> Iterator[bytes]:
    while True:
        yield piece


def metric(relay: RunningRelay, line_start: str) -> float:
    text = httpx.get(relay.base_url + "/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in /metrics")


def test_a_connection_that_sends_nothing_is_closed(edge_relay: RunningRelay) -> None:
    with connect(edge_relay) as sock:
        data, took = read_until_closed(sock)
    assert data == b""  # nothing was asked, nothing is answered
    assert took < TIMEOUT + 2
    assert metric(edge_relay, 'relay_client_timeouts_total{phase="headers"}') >= 1


def test_headers_that_never_end_are_closed(edge_relay: RunningRelay) -> None:
    with connect(edge_relay) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n")
        took = dribble_until_closed(sock, forever(b"X-Slow: 1\r\n"), every=0.2)
    assert took < TIMEOUT + 2  # a byte a second does not keep a socket alive


def test_slow_headers_are_answered_408(edge_relay: RunningRelay) -> None:
    with connect(edge_relay) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Half: ")
        data, took = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert took < TIMEOUT + 2


def test_a_chunked_body_that_never_ends_is_closed(edge_relay: RunningRelay) -> None:
    with connect(edge_relay) as sock:
        sock.sendall(
            b"POST /webhooks/tiktok HTTP/1.1\r\nHost: relay\r\n"
            b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        )
        took = dribble_until_closed(sock, forever(b"1\r\n{\r\n"), every=0.2)
    assert took < TIMEOUT + 2
    assert metric(edge_relay, 'relay_client_timeouts_total{phase="body"}') >= 1


def test_a_body_shorter_than_its_content_length_is_closed(edge_relay: RunningRelay) -> None:
    raw = body("short-1")
    headers = "".join(f"{k}: {v}\r\n" for k, v in sign(raw).items())
    with connect(edge_relay) as sock:
        sock.sendall(
            b"POST /webhooks/tiktok HTTP/1.1\r\nHost: relay\r\n"
            + headers.encode()
            + f"Content-Length: {len(raw) + 100}\r\n\r\n".encode()
            + raw
        )
        data, took = read_until_closed(sock)
    assert took < TIMEOUT + 2
    assert b" 200 " not in data  # never stored, never acknowledged
    assert metric(edge_relay, "relay_webhooks_accepted_total") == 0


def test_a_one_megabyte_header_gets_431(edge_relay: RunningRelay) -> None:
    with connect(edge_relay) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Big: ")
        # The relay answers and stops reading midway, as it should: the send may fail.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"a" * (1024 * 1024) + b"\r\n\r\n")
        data, _ = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431 ")
    assert metric(edge_relay, 'relay_requests_refused_total{reason="headers_too_large"}') == 1


def test_ten_thousand_headers_get_431(edge_relay: RunningRelay) -> None:
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(10_000))
    with connect(edge_relay) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n" + many + b"\r\n")
        data, _ = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431 ")


def test_101_small_headers_get_431_but_100_pass(edge_relay: RunningRelay) -> None:
    def status(count: int) -> int:
        headers = {f"X-H{i}": "1" for i in range(count - 1)}  # plus Host
        with httpx.Client(base_url=edge_relay.base_url, timeout=5) as client:
            return client.get("/healthz", headers=headers).status_code

    # httpx adds Accept, Accept-Encoding, Connection and User-Agent: 4 more.
    assert status(100 - 4) == 200
    assert status(101 - 4) == 431


def test_ordinary_requests_still_work(edge_relay: RunningRelay) -> None:
    """Keep-alive, a header just under the budget, a big body in one write: all as before."""
    with httpx.Client(base_url=edge_relay.base_url, timeout=5) as client:
        for i in range(3):
            raw = body(f"ok-{i}")
            assert (
                client.post("/webhooks/tiktok", content=raw, headers=sign(raw)).status_code == 200
            )
        assert client.get("/healthz", headers={"X-Pad": "p" * 15_000}).status_code == 200
        big = body("big-1", data={"pad": "x" * 600_000})
        assert client.post("/webhooks/tiktok", content=big, headers=sign(big)).status_code == 200
        time.sleep(TIMEOUT + 0.5)  # idle keep-alive within its own (longer) timeout
        assert client.get("/healthz").status_code == 200


def test_over_the_limit_connections_get_503_and_accepted_ones_keep_working(
    edge_relay: RunningRelay,
) -> None:
    # TikTok's sender connects first; then a flood from another address fills its quota.
    webhook = connect(edge_relay, "127.0.0.2")
    flood = [connect(edge_relay, "127.0.0.3") for _ in range(20)]
    try:
        with connect(edge_relay, "127.0.0.3") as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
            refused, took = read_until_closed(extra, 5)
        assert refused.startswith(b"HTTP/1.1 503 ")
        assert b"\r\nretry-after: 7\r\n" in refused.lower()
        assert took < 3
        # The accepted connection is not hurt: a valid signed webhook gets 200.
        raw = body("kept-1")
        headers = "".join(f"{k}: {v}\r\n" for k, v in sign(raw).items())
        webhook.sendall(
            b"POST /webhooks/tiktok HTTP/1.1\r\nHost: relay\r\n"
            + headers.encode()
            + f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
            + raw
        )
        webhook.settimeout(5)
        assert webhook.recv(65536).startswith(b"HTTP/1.1 200 ")
        # Other addresses still get in until the total is reached.
        with httpx.Client(base_url=edge_relay.base_url, timeout=5) as client:
            assert client.get("/healthz").status_code == 200
        assert metric(edge_relay, 'relay_connections_shed_total{limit="per_address"}') == 1
    finally:
        for sock in flood:
            sock.close()
        webhook.close()


def test_the_total_limit_sheds_new_connections_with_503(edge_relay: RunningRelay) -> None:
    held = [connect(edge_relay, f"127.0.1.{i // 15 + 1}") for i in range(60)]
    try:
        time.sleep(0.2)
        with connect(edge_relay, "127.0.2.1") as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
            refused, _ = read_until_closed(extra, 5)
        assert refused.startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()
    # Held connections time out (they sent nothing); then there is room again.
    deadline = time.monotonic() + TIMEOUT + 5
    while time.monotonic() < deadline:
        try:
            if httpx.get(edge_relay.base_url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    assert metric(edge_relay, 'relay_connections_shed_total{limit="total"}') >= 1
    assert metric(edge_relay, "relay_connections_open") <= 2


async def test_websocket_streams_count_as_connections_and_release_them(
    edge_relay: RunningRelay,
) -> None:
    token = edge_relay.create_token([SHOP_A])
    subs = [await Subscriber.connect(edge_relay.ws_url, token) for _ in range(3)]
    for sub in subs:
        assert (await sub.subscribe([SHOP_A]))["op"] == "ready"
    # A stream lives past the header and body deadlines: it finished its request long ago.
    time.sleep(TIMEOUT + 0.5)
    async with httpx.AsyncClient(base_url=edge_relay.base_url, timeout=5) as client:
        raw = body("ws-1")
        assert (
            await client.post("/webhooks/tiktok", content=raw, headers=sign(raw))
        ).status_code == 200
        for sub in subs:
            assert [f["op"] for f in await sub.events(1)] == ["event"]
        text = (await client.get("/metrics")).text
    assert "relay_connections_open 4" in text  # 3 streams + this client
    for sub in subs:
        await sub.close()
    deadline = time.monotonic() + 5
    while metric(edge_relay, "relay_connections_open") > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(edge_relay, "relay_connections_open") == 1


# --- the webhook POST's fast path (answered by the edge, not through ASGI) -----------------


def _post_bytes(raw: bytes, *, extra: str = "", version: str = "1.1", signature: str = "") -> bytes:
    auth = signature or sign(raw)["Authorization"]
    return (
        f"POST /webhooks/tiktok HTTP/{version}\r\nHost: relay\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\nAuthorization: {auth}\r\n{extra}\r\n"
    ).encode() + raw


def _responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """`count` HTTP responses read off one connection, in the order they came."""
    data = b""
    out: list[tuple[int, dict[str, str], bytes]] = []
    sock.settimeout(10)
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(out)} responses: {data!r}"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        out.append((int(lines[0].split()[1]), headers, data[:length]))
        data = data[length:]
    return out


async def test_pipelined_requests_are_answered_in_order(edge_relay: RunningRelay) -> None:
    """Two webhook POSTs, a forged one, a GET and another POST in one write: five answers in
    request order, and the stored webhooks reach the subscriber in order."""
    token = edge_relay.create_token([SHOP_A])
    sub = await Subscriber.connect(edge_relay.ws_url, token)
    await sub.subscribe([SHOP_A])
    first, second, third = body("pipe-1"), body("pipe-2"), body("pipe-3")
    forged = body("pipe-forged")
    with contextlib.closing(connect(edge_relay)) as sock:
        sock.sendall(
            _post_bytes(first)
            + _post_bytes(second)
            + _post_bytes(forged, signature="0" * 64)
            + b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n"
            + _post_bytes(third)
        )
        answers = _responses(sock, 5)
    assert [status for status, _, _ in answers] == [200, 200, 401, 200, 200]
    assert answers[0][2] == answers[1][2] == answers[2][2] == b""
    assert b'"status"' in answers[3][2]  # the health JSON sits where the GET was
    events = await sub.events(3)
    assert [e["webhook"]["tts_notification_id"] for e in events] == ["pipe-1", "pipe-2", "pipe-3"]
    await sub.close()


def test_connection_close_and_http_1_0_are_honoured(edge_relay: RunningRelay) -> None:
    with contextlib.closing(connect(edge_relay)) as sock:
        sock.sendall(_post_bytes(body("close-1"), extra="Connection: close\r\n"))
        data, _ = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in data.lower()
    with contextlib.closing(connect(edge_relay)) as sock:
        sock.sendall(_post_bytes(body("close-2"), version="1.0"))
        data, _ = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_oversize_declared_body_is_refused_and_the_connection_stays_usable(
    edge_relay: RunningRelay,
) -> None:
    """413 at the headers (the body is read and dropped, not stored), then the next request on
    the same keep-alive connection is answered normally."""
    big = b"x" * (1024 * 1024 + 10)
    good = body("after-413")
    with contextlib.closing(connect(edge_relay)) as sock:
        sock.sendall(_post_bytes(big) + _post_bytes(good))
        (refused, headers, payload), (ok, _, _) = _responses(sock, 2)
    assert (refused, payload, ok) == (413, b'{"error":"too_large"}', 200)
    assert headers["content-type"] == "application/json"


def test_an_idle_keep_alive_connection_closes_after_its_timeout_and_a_busy_one_stays(
    tmp_path: Path,
) -> None:
    """One keep-alive timer per idle period (relay/edge.py): requests every 1.2 s keep a
    connection with a 2 s idle timeout open well past 2 s; once they stop, it is closed about
    2 s after the last answer, not earlier and not never."""
    with run_relay(make_config(tmp_path, keepalive_timeout=2.0)) as relay:
        sock = connect(relay)
        started = time.monotonic()
        for i in range(4):
            raw = body(f"alive-{i}")
            headers = "".join(f"{k}: {v}\r\n" for k, v in sign(raw).items())
            sock.sendall(
                b"POST /webhooks/tiktok HTTP/1.1\r\nHost: relay\r\n"
                + headers.encode()
                + f"Content-Length: {len(raw)}\r\n\r\n".encode()
                + raw
            )
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            if i < 3:
                time.sleep(1.2)
        assert time.monotonic() - started > 3.5  # past the timeout twice over, still open
        rest, idle = read_until_closed(sock, 10)
        sock.close()
    assert rest == b""
    assert 1.5 < idle < 4.0
