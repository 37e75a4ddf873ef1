"""The parts of OAuth that need no TikTok: the link, the state check, the loopback catcher."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.tiktok.errors import AuthorizationDenied, OAuthStateMismatch
from app.tiktok.oauth import LoopbackRedirectCatcher, authorization_url, new_state, parse_redirect

pytestmark = pytest.mark.timeout(20)


def test_state_is_random_and_in_the_link() -> None:
    first, second = new_state(), new_state()
    assert first != second and len(first) >= 32
    url = authorization_url(
        "svc1", first, authorize_url="http://h/open/authorize", redirect_uri="http://127.0.0.1:9/cb"
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "service_id": ["svc1"],
        "state": [first],
        "redirect_uri": ["http://127.0.0.1:9/cb"],
    }


def test_parse_redirect_checks_state() -> None:
    state = new_state()
    assert parse_redirect(f"http://127.0.0.1:1/cb?code=C0DE&state={state}", state) == "C0DE"
    assert parse_redirect(f"  code=C0DE&state={state} ", state) == "C0DE"
    assert parse_redirect("C0DE-bare", state) == "C0DE-bare"
    with pytest.raises(OAuthStateMismatch):
        parse_redirect("http://127.0.0.1:1/cb?code=C0DE&state=forged", state)
    with pytest.raises(OAuthStateMismatch):
        parse_redirect("http://127.0.0.1:1/cb?code=C0DE", state)
    with pytest.raises(AuthorizationDenied):
        parse_redirect(f"http://x/cb?code=null&error=auth_denied&state={state}", state)
    with pytest.raises(AuthorizationDenied):
        parse_redirect("", state)


async def test_loopback_catcher_ignores_forged_state_and_returns_code() -> None:
    state = new_state()
    catcher = await LoopbackRedirectCatcher(state).start()
    uri = catcher.redirect_uri
    assert uri.startswith("http://127.0.0.1:")
    waiter = asyncio.create_task(catcher.wait(5))
    async with httpx.AsyncClient(timeout=5) as http:
        forged = await http.get(uri, params={"code": "EVIL", "state": "forged"})
        assert forged.status_code == 400
        assert not waiter.done()
        good = await http.get(uri, params={"code": "REAL", "state": state})
        assert good.status_code == 200
    assert await waiter == "REAL"


async def test_loopback_catcher_reports_denial() -> None:
    state = new_state()
    async with LoopbackRedirectCatcher(state) as catcher:
        waiter = asyncio.create_task(catcher.wait(5))
        async with httpx.AsyncClient(timeout=5) as http:
            forged = {"code": "null", "error": "auth_denied", "state": "forged"}
            assert (await http.get(catcher.redirect_uri, params=forged)).status_code == 400
            assert not waiter.done()
            denied = {"code": "null", "error": "auth_denied", "state": state}
            await http.get(catcher.redirect_uri, params=denied)
        with pytest.raises(AuthorizationDenied):
            await waiter
