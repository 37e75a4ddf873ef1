"""Fixtures for the relay suite: a real relay on loopback (uvicorn in a thread, real SQLite
file), signed webhooks, and a small WebSocket client built on the `websockets` package."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets

from app.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from app.tiktok.models import loads
from app.tiktok.relay_frames import RELAY_FRAMES
from app.tiktok.signing import webhook_signature
from relay.config import RelayConfig
from relay.server import RunningRelay, run_relay

APP_KEY = "relaytestkey"
APP_SECRET = "relay-test-secret"
SHOP_A = "7495540735365777507"
SHOP_B = "7495540735365777508"


def body(
    nid: str | None,
    shop: str = SHOP_A,
    *,
    stamp: float | None = None,
    kind: int = 1,
    data: dict[str, Any] | None = None,
) -> bytes:
    envelope: dict[str, Any] = {"type": kind}
    if nid is not None:
        envelope["tts_notification_id"] = nid
    envelope["shop_id"] = shop
    envelope["timestamp"] = int(time.time() if stamp is None else stamp)
    envelope["data"] = (
        data if data is not None else {"order_id": nid or "1", "order_status": "UNPAID"}
    )
    return json.dumps(envelope, separators=(",", ":")).encode()


def sign(raw: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Authorization": webhook_signature(APP_KEY, secret, raw)}


def make_config(tmp_path: Path, **changes: Any) -> RelayConfig:
    base = RelayConfig(
        db=str(tmp_path / "relay.sqlite3"),
        host="127.0.0.1",
        port=0,
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        ip_refusal_rate=0,
        ws_ping_interval=5.0,
        ws_ping_timeout=5.0,
        sqlite_sync="NORMAL",
    )
    return base.with_(**changes)


class RedisServer:
    """A real redis-server on a free loopback port, durable like production (AOF, fsync
    always), in a temporary directory; stopped at the end of the session."""

    def __init__(self, directory: Path, password: str | None = None) -> None:
        self.port = _free_port()
        self.directory = directory
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--protected-mode",
                "yes",
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, password=self.password, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def kill_and_restart(self) -> None:
        """SIGKILL the server (no chance to flush anything more) and start it again on the
        same port and directory: what a crash and a supervisor restart look like."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None
        self.start()

    def flush(self) -> None:
        redis.Redis(port=self.port, password=self.password, socket_timeout=5).flushall()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):  # CI installs it: a missing server there is a broken install
            pytest.fail("redis-server is not on PATH, but .ci/run should have installed it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def relay_config(request: pytest.FixtureRequest, tmp_path: Path) -> RelayConfig:
    """Each test that takes this runs on both backends."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        return make_config(tmp_path, bus=server.url)
    return make_config(tmp_path)


@pytest.fixture
def relay(relay_config: RelayConfig) -> Iterator[RunningRelay]:
    with run_relay(relay_config) as running:
        yield running


@pytest.fixture
def http(relay: RunningRelay) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=relay.base_url, timeout=10.0) as client:
        yield client


def post(client: httpx.Client, raw: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(
        "/webhooks/tiktok", content=raw, headers=headers if headers is not None else sign(raw)
    )


class Subscriber:
    """A WebSocket client speaking the relay protocol, with timeouts on every wait."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, url: str, token: str | None, **kwargs: Any) -> Subscriber:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        ws = await asyncio.wait_for(
            websockets.connect(url, additional_headers=headers, open_timeout=5, **kwargs), 10
        )
        return cls(ws)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame as JSON; every frame a test reads must also be one of the typed
        frames the desktop's consumer knows (`app.tiktok.relay_frames`), code and all."""
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        # Read as the consumer reads it (Python's JSON, exact numbers): a webhook may carry
        # escapes (a lone surrogate) that pydantic's own JSON parser refuses.
        RELAY_FRAMES.validate_python(loads(raw))
        frame = json.loads(raw)
        assert isinstance(frame, dict)
        return frame

    async def subscribe(
        self, shops: list[str], after: dict[str, str] | None = None
    ) -> dict[str, Any]:
        frame: dict[str, Any] = {"op": "subscribe", "shops": shops}
        if after is not None:
            frame["after"] = after
        await self.send(frame)
        return await self.recv()

    async def events(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(got) < n:
            remaining = deadline - asyncio.get_running_loop().time()
            frame = await self.recv(max(remaining, 0.01))
            assert frame["op"] == "event", frame
            got.append(frame)
        return got

    async def silence(self, seconds: float = 0.5) -> None:
        """Assert that nothing arrives for a while."""
        try:
            frame = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {frame!r}")

    async def ack(self, shop: str, cursor: str) -> None:
        await self.send({"op": "ack", "shop_id": shop, "cursor": cursor})

    async def close(self) -> None:
        await self.ws.close()


def nids(frames: list[dict[str, Any]]) -> list[str]:
    return [f["webhook"]["tts_notification_id"] for f in frames]


# --- vendor mode: the sandbox as TikTok, a relay holding its app secret ----------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox(SandboxConfig(seed=7, shops=2, products=5, qps=0)) as running:
        yield running


def vendor_config(sandbox: RunningSandbox, tmp_path: Path, **changes: Any) -> RelayConfig:
    """A relay whose app is the sandbox's, signing for vendor-mode desktops."""
    settings: dict[str, Any] = {"sign_rate": 1.0, "sign_burst": 10.0, **changes}
    return make_config(
        tmp_path,
        app_key=sandbox.app_key,
        app_secret=sandbox.app_secret,
        tiktok_api=sandbox.base_url,
        tiktok_auth=sandbox.base_url,
        **settings,
    )


@pytest.fixture
def vendor_relay(sandbox: RunningSandbox, tmp_path: Path) -> Iterator[RunningRelay]:
    with run_relay(vendor_config(sandbox, tmp_path)) as running:
        yield running


@pytest.fixture
def api(vendor_relay: RunningRelay) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=vendor_relay.base_url, timeout=15) as client:
        yield client


def oauth(
    api: httpx.Client, sandbox: RunningSandbox, shops: list[str] | None = None
) -> dict[str, Any]:
    """Authorize (for `shops`, default all) and pair through `/v1/oauth/token`."""
    response = api.post("/v1/oauth/token", json={"code": sandbox.authorize_code(shop_ids=shops)})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def sign_with(api: httpx.Client, token: str, payload: dict[str, Any]) -> httpx.Response:
    return api.post("/v1/sign", json=payload, headers={"Authorization": f"Bearer {token}"})
