"""Desktop wiring tests: Qt offscreen, one qasync loop over pytest-qt's app, the real sandbox and
relay in-process (`app.main.demo_world`), real SQLite files, and an in-memory keyring backend.

pytest-qt has no asyncio hook, so coroutines run as tasks on a qasync loop created with
`already_running=True`; tests wait on them with `qtbot.waitUntil` (which spins Qt's loop, and
with it asyncio's) through the `drive` helper.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend

from app.main import demo_world

# Simulated seconds per real second: the viral surge within a few real seconds.
FAST = 600.0


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict (tests only)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def drive(qtbot: Any, coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    """Run a coroutine on the qasync loop until it finishes (Qt events keep flowing)."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Any]:
    """The sandbox (viral scenario, fast clock) and the relay on loopback."""
    with demo_world(seed=3, speed=FAST, relay_dir=tmp_path) as w:
        yield w


ROOT = Path(__file__).resolve().parents[2]


def desktop_args(data_dir: Path) -> argparse.Namespace:
    """The parsed command line of a plain `viralstock --data-dir DIR` (no demo, no checks)."""
    return argparse.Namespace(
        demo=False,
        screenshot=None,
        self_test=False,
        run_for=None,
        no_browser=True,
        seed=1,
        demo_speed=60.0,
        theme="dark",
        data_dir=data_dir,
        log_level="WARNING",
        size=(1440, 960),
    )


def run_app(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """`python -m app ARGS` from the project's root, offscreen unless `env` says otherwise."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env if env is not None else {**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
