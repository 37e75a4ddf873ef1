"""Fixtures: a sandbox per test with its clock paused, an httpx client and a signed-in Api."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from tests.sandbox.helpers import TIMEOUT, Api, get_token

MakeSandbox = Callable[..., contextlib.AbstractContextManager[RunningSandbox]]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT, trust_env=False) as http:
        yield http


@pytest.fixture
def make_sandbox() -> MakeSandbox:
    """Start a sandbox from config keywords; its clock is paused so tests step it exactly."""

    @contextlib.contextmanager
    def factory(paused: bool = True, **options: Any) -> Iterator[RunningSandbox]:
        with run_sandbox(SandboxConfig(**options)) as sandbox:
            if paused:
                sandbox.clock.pause()
            yield sandbox

    return factory


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Iterator[RunningSandbox]:
    with make_sandbox() as running:
        yield running


@pytest.fixture
def api(sandbox: RunningSandbox, client: httpx.Client) -> Api:
    return Api(sandbox, client, get_token(sandbox, client)["access_token"])
