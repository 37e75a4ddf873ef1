"""The sync start/stop works from an asyncio test, with an async client on the same loop."""

from __future__ import annotations

import time

import httpx

from app.sandbox import SandboxConfig, run_sandbox
from app.tiktok.signing import sign_request


async def test_sandbox_from_an_async_test() -> None:
    with run_sandbox(SandboxConfig(seed=2)) as sandbox:
        async with httpx.AsyncClient(
            base_url=sandbox.base_url, timeout=10, trust_env=False
        ) as client:
            token = await client.get(
                "/api/v2/token/get",
                params={
                    "app_key": sandbox.app_key,
                    "app_secret": sandbox.app_secret,
                    "auth_code": sandbox.authorize_code(state="async"),
                    "grant_type": "authorized_code",
                },
            )
            access = token.json()["data"]["access_token"]
            path = "/authorization/202309/shops"
            params = {"app_key": sandbox.app_key, "timestamp": str(int(time.time()))}
            params["sign"] = sign_request(sandbox.app_secret, path, params)
            response = await client.get(path, params=params, headers={"x-tts-access-token": access})
            assert response.json()["data"]["shops"][0]["id"] == sandbox.shops[0]["id"]
