"""The stream's frames have one typed home (`app.tiktok.relay_frames`) that both ends use: the
relay's hand-built event frame is that model's frame, every error code the relay can send is
one the desktop knows, and a frame either side does not know is refused, not guessed at."""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.tiktok.models import loads
from app.tiktok.relay_frames import (
    CLIENT_FRAMES,
    RELAY_FRAMES,
    Ack,
    ErrorCode,
    ErrorFrame,
    Event,
    Subscribe,
)
from relay.backend.base import StoredEvent
from relay.hub import event_frame

ROOT = Path(__file__).resolve().parents[2]


def test_the_relays_event_text_is_the_typed_event_frame() -> None:
    body = '{"type":1,"tts_notification_id":"n-1","shop_id":"7495","timestamp":1718300000,'
    body += '"data":{"order_id":"576653688135258178123","amount":12.990}}'
    text = event_frame(StoredEvent("7495", "00a1.17", 1718300000.125, body))
    frame = RELAY_FRAMES.validate_python(loads(text))
    assert isinstance(frame, Event)
    assert (frame.shop_id, frame.cursor, frame.received_at) == ("7495", "00a1.17", 1718300000.125)
    # The webhook arrives as TikTok sent it: big ids stay strings, decimals exact.
    assert frame.webhook["data"] == {
        "order_id": "576653688135258178123",
        "amount": Decimal("12.990"),
    }


def test_every_error_code_the_relay_sends_is_a_typed_code() -> None:
    """Every `_error(...)` call in the relay names an `ErrorCode` member (no bare strings), and
    every member is sent somewhere: the two lists cannot drift apart again."""
    tree = ast.parse((ROOT / "relay" / "stream.py").read_text(encoding="utf-8"))
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_error":
            code = node.args[0]
            assert isinstance(code, ast.Attribute), ast.unparse(node)
            assert isinstance(code.value, ast.Name) and code.value.id == "ErrorCode"
            used.add(code.attr)
    assert used == {member.name for member in ErrorCode}


@pytest.mark.parametrize(
    "raw",
    [
        '{"op": "error", "code": "invalid_token", "message": "x"}',  # never sent by the relay
        '{"op": "event", "shop_id": "s", "cursor": 7, "received_at": 1, "webhook": {}}',
        '{"op": "event", "shop_id": "s", "cursor": "1", "received_at": 1, "webhook": []}',
        '{"op": "gap"}',
        '{"op": "dance"}',
    ],
)
def test_a_frame_the_desktop_does_not_know_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        RELAY_FRAMES.validate_python(loads(raw))


def test_client_frames_round_trip_and_refuse_bad_shapes() -> None:
    subscribe = Subscribe(shops=["a", "b"], after={"a": "00a1.3"})
    assert CLIENT_FRAMES.validate_json(subscribe.model_dump_json()) == subscribe
    ack = Ack(shop_id="a", cursor="00a1.4")
    assert json.loads(ack.model_dump_json()) == {"op": "ack", "shop_id": "a", "cursor": "00a1.4"}
    for bad in (
        {"op": "subscribe", "shops": []},
        {"op": "subscribe", "shops": [""]},
        {"op": "subscribe", "shops": [7]},
        {"op": "subscribe", "shops": ["a"], "after": {"a": 3}},
        {"op": "ack", "shop_id": "a"},
    ):
        with pytest.raises(ValidationError):
            CLIENT_FRAMES.validate_python(bad)
    error = ErrorFrame(code=ErrorCode.BAD_ACK, message="no such cursor")
    assert json.loads(error.model_dump_json())["code"] == "bad_ack"
