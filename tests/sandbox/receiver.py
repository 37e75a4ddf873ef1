"""A tiny real HTTP webhook receiver on 127.0.0.1 for the webhook tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    body: bytes
    authorization: str | None
    content_type: str | None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Answer 500 when this returns True for (decoded body, attempt number of that notification).
    fail: Callable[[dict[str, Any], int], bool] = lambda body, attempt: False
    attempts: dict[str, int] = field(default_factory=dict)
    # Requests wait on this before answering (clear it to stall the receiver).
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.received)):
                    return True
            time.sleep(0.01)
        return False

    def of_type(self, kind: int) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.json["type"] == kind]


@contextmanager
def run_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")
    receiver.gate.set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            decoded = json.loads(body)
            with receiver.lock:
                receiver.received.append(
                    Received(
                        body, self.headers.get("authorization"), self.headers.get("content-type")
                    )
                )
                key = str(decoded.get("tts_notification_id"))
                receiver.attempts[key] = receiver.attempts.get(key, 0) + 1
                attempt = receiver.attempts[key]
            receiver.gate.wait(timeout=5)
            status = 500 if receiver.fail(decoded, attempt) else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/tiktok"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        receiver.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
