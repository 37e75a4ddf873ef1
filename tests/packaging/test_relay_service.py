"""The relay's service files: the systemd unit waits for READY=1 and lifts the open-file
limit; the container's HEALTHCHECK command, run as written, passes against a serving relay and
fails once it is gone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.relay.procs import RelayProcess

PACKAGING = Path(__file__).resolve().parents[2] / "packaging" / "relay"


def _unit() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (PACKAGING / "viralstock-relay.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_unit_waits_for_ready_and_allows_many_connections() -> None:
    unit = _unit()
    assert unit["Type"] == ["notify"]
    assert unit["LimitNOFILE"] == ["65536"]
    # sd_notify is a datagram on a unix socket: the sandbox must allow it.
    assert "AF_UNIX" in unit["RestrictAddressFamilies"][0].split()


def _healthcheck() -> list[str]:
    text = (PACKAGING / "Containerfile").read_text()
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])\s*$", text, re.MULTILINE | re.DOTALL)
    assert match, "no HEALTHCHECK in the Containerfile"
    command = json.loads(match.group(1).replace("\\\n", ""))
    assert isinstance(command, list)
    return [sys.executable, *command[1:]]  # the image's python is ours here


def test_the_container_healthcheck_follows_the_relay(tmp_path: Path) -> None:
    command = _healthcheck()
    with RelayProcess("--db", str(tmp_path / "relay.sqlite3")) as relay:
        port = relay.base_url.rsplit(":", 1)[1]
        env = {**os.environ, "VIRALSTOCK_RELAY_PORT": port}
        assert subprocess.run(command, env=env, timeout=10, check=False).returncode == 0
        relay.stop()
        gone = subprocess.run(command, env=env, timeout=10, capture_output=True, check=False)
        assert gone.returncode != 0
