"""Helpers for tests that push signed webhooks into the real relay and inspect the real store."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.schema import OrderRow, WebhookEventRow
from app.tiktok.signing import webhook_signature
from tests.e2e.harness import World


def post_webhook(w: World, body: dict[str, Any]) -> None:
    """POST one webhook to the relay's /webhooks/tiktok, signed with the sandbox's app secret."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Authorization": webhook_signature(w.sandbox.app_key, w.sandbox.app_secret, raw),
        "content-type": "application/json",
    }
    with httpx.Client(trust_env=False, timeout=5) as http:
        response = http.post(w.relay_url + "/webhooks/tiktok", content=raw, headers=headers)
        assert response.is_success, response.status_code


def order_webhook(shop_id: str, order_id: str, tts_id: str) -> dict[str, Any]:
    return {
        "type": 1,
        "tts_notification_id": tts_id,
        "shop_id": shop_id,
        "timestamp": int(time.time()),
        "data": {"order_id": order_id, "order_status": "AWAITING_SHIPMENT", "update_time": 1},
    }


def order_ids(session: Session) -> list[str]:
    return list(session.execute(select(OrderRow.id).order_by(OrderRow.id)).scalars())


def webhook_rows(session: Session) -> dict[str, tuple[float | None, str | None]]:
    """{tts_notification_id: (processed_at, error_kind)} of every stored webhook."""
    rows = session.execute(
        select(
            WebhookEventRow.tts_notification_id,
            WebhookEventRow.processed_at,
            WebhookEventRow.error_kind,
        )
    )
    return {key: (processed, error) for key, processed, error in rows}


async def wait_for_orders(db: Any, n: int, timeout: float = 30.0, refresh: Any = None) -> list[str]:
    """Wait until the store holds at least `n` orders (the sandbox sells as its clock runs);
    `refresh()` (e.g. a reconciliation pass) is awaited between looks when there are no
    webhooks to bring them."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        if refresh is not None:
            await refresh()
        found = await db.read(order_ids)
        if len(found) >= n:
            return list(found)
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {n} orders within {timeout} s")
        await asyncio.sleep(0.2)
