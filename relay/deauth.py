"""SELLER_DEAUTHORIZATION (webhook type 6): after it, a shop's events stop flowing to the
tokens paired before it (relay/PROTOCOL.md, "Deauthorization"). The event itself is still
delivered, so the desktop can show the shop as deauthorized; a new pairing (a token created
after the event) streams the shop again."""

from __future__ import annotations

import json
import re

from app.tiktok.webhooks import WebhookType

__all__ = ["DEAUTHORIZATION", "is_deauthorization"]

DEAUTHORIZATION = WebhookType.SELLER_DEAUTHORIZATION
_MAYBE = re.compile(r'"type"\s*:\s*6\s*[,}]')


def is_deauthorization(body: str) -> bool:
    """Whether a stored webhook body is a type-6 event (a cheap pattern first, then JSON)."""
    if _MAYBE.search(body) is None:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == DEAUTHORIZATION
