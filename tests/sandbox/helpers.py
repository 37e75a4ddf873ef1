"""Hand-made TikTok requests for the sandbox tests: httpx plus app.tiktok.signing, no client.

Deliberately low level, so each test can break exactly one rule and see the refusal.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from app.sandbox import RunningSandbox
from app.tiktok.signing import sign_request

DEFAULT = object()
TIMEOUT = httpx.Timeout(10.0)


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def get_token(
    sandbox: RunningSandbox, client: httpx.Client, shop_ids: str | None = None
) -> dict[str, Any]:
    """The whole OAuth dance over HTTP: authorize redirect, then token/get."""
    params = {
        "service_id": sandbox.service_id,
        "state": "st4te",
        "redirect_uri": "https://seller.example/callback",
    }
    if shop_ids:
        params["shop_id"] = shop_ids
    redirect = client.get(sandbox.base_url + "/open/authorize", params=params)
    assert redirect.status_code == 302, redirect.text
    location = httpx.URL(redirect.headers["location"])
    assert location.params["state"] == "st4te"
    response = client.get(
        sandbox.base_url + "/api/v2/token/get",
        params={
            "app_key": sandbox.app_key,
            "app_secret": sandbox.app_secret,
            "auth_code": location.params["code"],
            "grant_type": "authorized_code",
        },
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


class Api:
    """Signs and sends one Open API request the way TikTok expects, unless told otherwise."""

    def __init__(self, sandbox: RunningSandbox, client: httpx.Client, token: str) -> None:
        self.sandbox = sandbox
        self.client = client
        self.token = token
        self.cipher = sandbox.shops[0]["cipher"]

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        *,
        cipher: Any = DEFAULT,
        token: Any = DEFAULT,
        timestamp: int | None = None,
        content_type: str | None = "application/json",
        raw_body: bytes | None = None,
        sign_body: bytes | None = None,
        sign: str | None = None,
        app_key: str | None = None,
        drop: tuple[str, ...] = (),
    ) -> httpx.Response:
        params: dict[str, str] = {
            "app_key": app_key or self.sandbox.app_key,
            "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        }
        chosen = self.cipher if cipher is DEFAULT else cipher
        if chosen is not None:
            params["shop_cipher"] = str(chosen)
        params.update(query or {})
        for name in drop:
            params.pop(name, None)
        data = raw_body if raw_body is not None else (compact(body) if body is not None else b"")
        params["sign"] = sign or sign_request(
            self.sandbox.app_secret, path, params, data if sign_body is None else sign_body
        )
        if "sign" in drop:
            del params["sign"]
        headers: dict[str, str] = {}
        chosen_token = self.token if token is DEFAULT else token
        if chosen_token is not None:
            headers["x-tts-access-token"] = str(chosen_token)
        if data and content_type is not None:
            headers["content-type"] = content_type
        return self.client.request(
            method, self.sandbox.base_url + path, params=params, content=data, headers=headers
        )

    def ok(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        response = self.call(method, path, query, body)
        assert response.status_code == 200, response.text
        envelope = response.json()
        assert envelope["code"] == 0, envelope
        return envelope["data"]


def assert_refused(response: httpx.Response, status: int, code: int, message: str = "") -> None:
    """A TikTok refusal: the status, the code, `data: null` and a request_id."""
    assert response.status_code == status, (response.status_code, response.text)
    envelope = response.json()
    assert list(envelope) == ["code", "message", "request_id", "data"]
    assert envelope["code"] == code, envelope
    assert envelope["data"] is None
    assert envelope["request_id"]
    assert message in envelope["message"], envelope["message"]


def find_nulls(value: Any, where: str = "") -> list[str]:
    """Paths of every null in a JSON value (TikTok omits absent fields instead)."""
    if value is None:
        return [where or "<root>"]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in find_nulls(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in find_nulls(item, f"{where}[{i}]")]
    return []
