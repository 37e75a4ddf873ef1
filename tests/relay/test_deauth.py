"""SELLER_DEAUTHORIZATION (type 6) over real sockets and real storage, on both backends: the
event itself is delivered (the desktop shows "deauthorized"), then nothing more of that shop
reaches tokens paired before it, live or after a reconnect; other shops are untouched, and a
new pairing streams the shop again."""

from __future__ import annotations

import httpx

from relay.server import RunningRelay
from tests.relay.conftest import SHOP_A, SHOP_B, Subscriber, body, nids, post


async def test_deauthorization_is_delivered_then_the_shop_goes_quiet(
    relay: RunningRelay, http: httpx.Client
) -> None:
    token = relay.create_token([SHOP_A, SHOP_B])
    offline = relay.create_token([SHOP_A])  # a desktop that is not connected at the time
    live = await Subscriber.connect(relay.ws_url, token)
    assert (await live.subscribe([SHOP_A, SHOP_B]))["op"] == "ready"

    assert post(http, body("a-1", SHOP_A)).status_code == 200
    assert post(http, body("deauth-a", SHOP_A, kind=6, data={})).status_code == 200
    assert post(http, body("a-2", SHOP_A)).status_code == 200
    assert post(http, body("b-1", SHOP_B)).status_code == 200
    frames = await live.events(3)
    assert [n for n, f in zip(nids(frames), frames, strict=True) if f["shop_id"] == SHOP_A] == [
        "a-1",
        "deauth-a",
    ]
    assert "b-1" in nids(frames)
    deauth_cursor = next(f["cursor"] for f in frames if f["webhook"]["type"] == 6)
    await live.silence(0.5)  # a-2 is never streamed on this token
    assert post(http, body("b-2", SHOP_B)).status_code == 200
    assert nids(await live.events(1)) == ["b-2"]  # the other shop keeps flowing
    await live.close()

    # Offline at the time: on connecting it still gets everything up to the type-6 event.
    late = await Subscriber.connect(relay.ws_url, offline)
    assert (await late.subscribe([SHOP_A]))["op"] == "ready"
    assert nids(await late.events(2)) == ["a-1", "deauth-a"]
    await late.silence(0.5)
    await late.close()

    # Reconnecting after the type-6 event (its cursor acknowledged): silence, even for new events.
    again = await Subscriber.connect(relay.ws_url, token)
    assert (await again.subscribe([SHOP_A], after={SHOP_A: deauth_cursor}))["op"] == "ready"
    assert post(http, body("a-3", SHOP_A)).status_code == 200
    await again.silence(0.5)
    await again.close()

    # A new pairing after the deauthorization streams the shop again, history included.
    fresh = await Subscriber.connect(relay.ws_url, relay.create_token([SHOP_A]))
    assert (await fresh.subscribe([SHOP_A]))["op"] == "ready"
    assert nids(await fresh.events(4)) == ["a-1", "deauth-a", "a-2", "a-3"]
    await fresh.close()
