"""`viralstock-relay serve` reports ready only when it is: the URL on stdout and READY=1 to
systemd's $NOTIFY_SOCKET come after the store is open and the socket accepts connections; the
soft open-file limit is raised to the hard one and both are logged."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.relay.conftest import SHOP_A, body, sign
from tests.relay.procs import ROOT, cli, relay_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Starts the relay under systemd's default soft limit (1,024), with the hard limit above it.
_LOW_LIMIT = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1])); "
    "os.execv(sys.executable, [sys.executable, '-m', 'relay', *sys.argv[1:]])"
)


def _serve(db: Path, port: int, notify: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _LOW_LIMIT, "serve", "--port", str(port), "--db", str(db)],
        env=relay_env(NOTIFY_SOCKET=notify),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    assert proc.stderr is not None
    return proc.stderr.read()


def test_ready_means_listening_on_a_restart_with_an_existing_database(tmp_path: Path) -> None:
    db = tmp_path / "relay.sqlite3"
    # An existing database with events in it, as after a restart.
    assert cli("token", "create", "--shop", SHOP_A, "--db", str(db)).returncode == 0
    notify_path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(20)
        for round_ in range(2):
            port = _free_port()
            proc = _serve(db, port, str(notify_path))
            try:
                message = notify.recv(4096).decode()
                assert message.startswith("READY=1\n"), message
                # No retry loop: the moment systemd hears READY=1 the port answers.
                raw = body(f"ready-{round_}")
                response = httpx.post(
                    f"http://127.0.0.1:{port}/webhooks/tiktok",
                    content=raw,
                    headers=sign(raw),
                    timeout=5,
                )
                assert response.status_code == 200
                assert proc.stdout is not None
                assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}"
                assert f"STATUS=listening on http://127.0.0.1:{port}" in message
            finally:
                logs = _stop(proc)
            assert notify.recv(4096) == b"STOPPING=1"
    limit = next(
        json.loads(line) for line in logs.splitlines() if '"msg": "open-file limit"' in line
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert limit["soft_before"] == 1024
    if hard != resource.RLIM_INFINITY:
        assert limit["soft"] == limit["hard"] == hard
    assert limit["max_connections"] == min(50_000, limit["soft"] - 256)


def test_the_url_on_stdout_answers_at_once(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "serve", "--port", "0", "--db", str(tmp_path / "r.db")],
        env=relay_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert httpx.get(url + "/healthz", timeout=5).json()["status"] == "ok"
    finally:
        _stop(proc)
