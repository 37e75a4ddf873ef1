"""OAuth as TikTok's auth host does it, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from app.sandbox import RunningSandbox
from tests.sandbox.helpers import Api, assert_refused, get_token

TOKEN_GET = "/api/v2/token/get"
TOKEN_REFRESH = "/api/v2/token/refresh"
SHOPS = "/authorization/202309/shops"


def _authorize(sandbox: RunningSandbox, client: httpx.Client, **extra: str) -> httpx.Response:
    params = {
        "service_id": sandbox.service_id,
        "state": "csrf-123",
        "redirect_uri": "https://seller.example/cb?from=tts",
    }
    params.update(extra)
    return client.get(sandbox.base_url + "/open/authorize", params=params)


def _exchange(
    sandbox: RunningSandbox, client: httpx.Client, code: str, **extra: str
) -> httpx.Response:
    params = {
        "app_key": sandbox.app_key,
        "app_secret": sandbox.app_secret,
        "auth_code": code,
        "grant_type": "authorized_code",
    }
    params.update(extra)
    return client.get(sandbox.base_url + TOKEN_GET, params=params)


def test_authorize_redirects_with_code_and_state(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    response = _authorize(sandbox, client)
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert location.host == "seller.example"
    assert location.params["from"] == "tts"
    assert location.params["state"] == "csrf-123"
    assert location.params["code"]


def test_authorize_refuses_a_wrong_service_id_or_redirect(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    assert_refused(
        _authorize(sandbox, client, service_id=sandbox.app_key), 400, 36009004, "service_id"
    )
    assert_refused(
        _authorize(sandbox, client, redirect_uri="nowhere"), 400, 36009004, "redirect_uri"
    )


def test_token_data_has_absolute_expiry_times(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    now = sandbox.clock.now()
    data = get_token(sandbox, client)
    assert data["access_token_expire_in"] == int(now + 7 * 86_400)
    assert data["refresh_token_expire_in"] == int(now + 365 * 86_400)
    assert data["user_type"] == 0
    assert data["open_id"] and data["seller_name"] and data["seller_base_region"] == "US"
    assert "seller.order.info" in data["granted_scopes"]


def test_codes_are_single_use(sandbox: RunningSandbox, client: httpx.Client) -> None:
    code = sandbox.authorize_code()
    assert _exchange(sandbox, client, code).json()["code"] == 0
    assert_refused(_exchange(sandbox, client, code), 400, 36004004)


def test_codes_expire_after_30_simulated_minutes(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    fresh, stale = sandbox.authorize_code(), sandbox.authorize_code()
    sandbox.clock.advance(29 * 60)
    assert _exchange(sandbox, client, fresh).json()["code"] == 0
    sandbox.clock.advance(61)
    assert_refused(_exchange(sandbox, client, stale), 400, 36004004)


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token", ""])
def test_token_get_needs_grant_type_authorized_code(
    sandbox: RunningSandbox, client: httpx.Client, grant_type: str
) -> None:
    response = _exchange(sandbox, client, sandbox.authorize_code(), grant_type=grant_type)
    assert_refused(response, 400, 36004002)


def test_token_get_checks_app_key_and_secret(sandbox: RunningSandbox, client: httpx.Client) -> None:
    code = sandbox.authorize_code()
    assert_refused(_exchange(sandbox, client, code, app_secret="wrong"), 400, 36004003)
    assert_refused(_exchange(sandbox, client, code, app_key="wrong"), 400, 36004003)
    assert_refused(client.post(sandbox.base_url + TOKEN_GET), 405, 36009010)


def test_refresh_and_access_token_expiry(sandbox: RunningSandbox, client: httpx.Client) -> None:
    data = get_token(sandbox, client)
    api = Api(sandbox, client, data["access_token"])
    assert api.call("GET", SHOPS, cipher=None).status_code == 200
    sandbox.clock.advance(7 * 86_400 + 1)
    assert_refused(api.call("GET", SHOPS, cipher=None), 401, 105002, "expired")

    params = {
        "app_key": sandbox.app_key,
        "app_secret": sandbox.app_secret,
        "refresh_token": data["refresh_token"],
        "grant_type": "authorized_code",
    }
    assert_refused(client.get(sandbox.base_url + TOKEN_REFRESH, params=params), 400, 36004002)
    params["grant_type"] = "refresh_token"
    response = client.get(sandbox.base_url + TOKEN_REFRESH, params=params)
    assert response.status_code == 200
    fresh = response.json()["data"]
    assert fresh["access_token"] != data["access_token"]
    assert fresh["access_token_expire_in"] == int(sandbox.clock.now() + 7 * 86_400)
    assert fresh["refresh_token_expire_in"] == data["refresh_token_expire_in"]
    api.token = fresh["access_token"]
    assert api.call("GET", SHOPS, cipher=None).status_code == 200

    params["refresh_token"] = "TTP_forged"
    assert_refused(client.get(sandbox.base_url + TOKEN_REFRESH, params=params), 400, 36004005)


def test_refresh_token_expires(sandbox: RunningSandbox, client: httpx.Client) -> None:
    data = get_token(sandbox, client)
    sandbox.clock.advance(366 * 86_400)
    params = {
        "app_key": sandbox.app_key,
        "app_secret": sandbox.app_secret,
        "refresh_token": data["refresh_token"],
        "grant_type": "refresh_token",
    }
    assert_refused(client.get(sandbox.base_url + TOKEN_REFRESH, params=params), 400, 36004005)


def test_revoked_shop_refuses_its_tokens(
    sandbox: RunningSandbox, client: httpx.Client, api: Api
) -> None:
    search = "/order/202309/orders/search"
    assert api.call("POST", search, {"page_size": "5"}).status_code == 200
    assert sandbox.revoke(sandbox.shops[0]["id"])
    assert_refused(api.call("POST", search, {"page_size": "5"}), 401, 105001, "deauthorized")
    assert_refused(api.call("GET", SHOPS, cipher=None), 401, 105001, "deauthorized")
    # Authorizing again gives a working token.
    again = Api(sandbox, client, get_token(sandbox, client)["access_token"])
    assert again.call("POST", search, {"page_size": "5"}).status_code == 200
