"""The relay <-> desktop WebSocket frames (`GET /v1/stream`, relay/PROTOCOL.md), typed once.

Both ends import these models: the relay (`relay/stream.py`, `relay/hub.py`) writes the relay's
frames and reads the client's, the desktop (`app/sync/consumer.py`) the other way round. So a
frame or an error code one side sends and the other does not know fails a test here instead of
being a silent string mismatch. They live with the protocol package because `relay/` may import
only `app/tiktok` from the app.

Unknown keys are ignored (a newer peer may add some); a known key of the wrong type is a
`ValidationError` (pydantic's lax mode, which still never turns a number into a string).
Cursors are opaque strings here: what makes one valid is the relay's storage.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "CLIENT_FRAMES",
    "MAX_SHOPS",
    "RELAY_FRAMES",
    "Ack",
    "ClientFrame",
    "ErrorCode",
    "ErrorFrame",
    "Event",
    "Gap",
    "Ready",
    "RelayFrame",
    "Subscribe",
]

#: The most shops one subscription may name.
MAX_SHOPS = 1000

ShopId = Annotated[str, Field(min_length=1)]


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- client -> relay ---------------------------------------------------------------------------


class Subscribe(_Frame):
    """Once per connection: the shops to stream, and per shop the cursor to resume after
    (without one, the relay resumes after this token's last ack for that shop)."""

    op: Literal["subscribe"] = "subscribe"
    shops: list[ShopId] = Field(min_length=1, max_length=MAX_SHOPS)
    after: dict[str, str] | None = None


class Ack(_Frame):
    """Everything of `shop_id` up to `cursor` is durably stored by the client."""

    op: Literal["ack"] = "ack"
    shop_id: str
    cursor: str


ClientFrame = Annotated[Subscribe | Ack, Field(discriminator="op")]
CLIENT_FRAMES: TypeAdapter[Subscribe | Ack] = TypeAdapter(ClientFrame)


# --- relay -> client ---------------------------------------------------------------------------


class Ready(_Frame):
    """The subscription is in place; events follow."""

    op: Literal["ready"] = "ready"
    shops: list[str]


class Event(_Frame):
    """One webhook, exactly as TikTok sent it, with its place in the shop's log.

    The relay writes this frame by hand on its hot path (`relay.hub.event_frame` splices the
    stored webhook text in without re-serialising it); `tests/relay` checks that text against
    this model. `received_at` is the relay's wall clock at arrival (epoch seconds)."""

    op: Literal["event"] = "event"
    shop_id: str
    cursor: str
    received_at: float
    webhook: dict[str, Any]


class Gap(_Frame):
    """Events the client asked for are gone: resync `shop_id` through the Open API."""

    op: Literal["gap"] = "gap"
    shop_id: str


class ErrorCode(enum.StrEnum):
    """Every code the relay sends in an `error` frame."""

    BAD_FRAME = "bad_frame"  # not a JSON text frame
    BAD_OP = "bad_op"  # neither subscribe nor ack
    BAD_SUBSCRIBE = "bad_subscribe"
    FORBIDDEN_SHOP = "forbidden_shop"  # the token does not cover a shop subscribed to
    BAD_CURSOR = "bad_cursor"
    ALREADY_SUBSCRIBED = "already_subscribed"
    BAD_ACK = "bad_ack"
    STORAGE = "storage"  # the relay's storage failed; it closes the stream (1011)


class ErrorFrame(_Frame):
    op: Literal["error"] = "error"
    code: ErrorCode
    message: str = ""


RelayFrame = Annotated[Ready | Event | Gap | ErrorFrame, Field(discriminator="op")]
RELAY_FRAMES: TypeAdapter[Ready | Event | Gap | ErrorFrame] = TypeAdapter(RelayFrame)
