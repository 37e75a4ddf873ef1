"""`/v1/sign` as a paired but hostile desktop would try it (issue #18), against the real relay
over HTTP with the sandbox as TikTok: each attack is refused with a reason, counted on
`/metrics`, and the honest request beside it is still signed and accepted by the sandbox."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sandbox import RunningSandbox
from app.tiktok.signing import string_to_sign
from relay.server import run_relay
from tests.relay.conftest import RedisServer, oauth, sign_with, vendor_config

SEARCH = "/order/202309/orders/search"


def _query(sandbox: RunningSandbox, *extra: tuple[str, str], stamp: int | None = None) -> list[Any]:
    now = int(time.time()) if stamp is None else stamp
    return [["app_key", sandbox.app_key], ["timestamp", str(now)], *map(list, extra)]


def _payload(path: str, query: list[Any]) -> dict[str, Any]:
    return {"path": path, "query": query, "body": None}


def _digits(ascii_digits: str, zero: int) -> str:
    """The same number written with another script's digits (`zero` is its digit zero)."""
    return ascii_digits.translate({ord(d): zero + int(d) for d in "0123456789"})


def _refused(answer: httpx.Response) -> str:
    assert answer.status_code == 400, answer.text
    assert "sign" not in answer.json()
    return str(answer.json()["error"])


def _refusals(api: httpx.Client) -> dict[str, int]:
    text = api.get("/metrics").text
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r'^relay_sign_refused_total\{reason="([a-z_]+)"\} (\d+)$', text, re.M)
    }


def _send(
    sandbox: RunningSandbox, path: str, query: list[Any], sign: str, access: str, raw: bytes
) -> dict[str, Any]:
    """The signed request as the desktop then sends it to TikTok (the sandbox)."""
    params = [*map(tuple, query), ("sign", sign)]
    headers = {"x-tts-access-token": access, "content-type": "application/json"}
    answer = httpx.post(sandbox.base_url + path, params=params, content=raw, headers=headers)
    result: dict[str, Any] = answer.json()
    return result


def test_full_width_digits_are_not_numbers(api: httpx.Client, sandbox: RunningSandbox) -> None:
    token = oauth(api, sandbox)["token"]
    # The version in full-width digits (U+FF10..), then in Arabic-Indic digits (U+0660..).
    for zero in (0xFF10, 0x0660):
        path = "/order/" + _digits("202309", zero) + "/orders/search"
        assert _refused(sign_with(api, token, _payload(path, _query(sandbox)))) == (
            "path_not_allowed"
        )
    wide = _digits(str(int(time.time())), 0xFF10)
    assert wide.isdigit() and abs(int(wide) - time.time()) < 60  # what Python makes of it
    query = [["app_key", sandbox.app_key], ["timestamp", wide]]
    assert _refused(sign_with(api, token, _payload(SEARCH, query))) == "bad_timestamp"
    # A trailing newline passes `^...$`; the path is matched whole.
    assert _refused(sign_with(api, token, _payload(SEARCH + "\n", _query(sandbox)))) == (
        "path_not_allowed"
    )
    assert _refusals(api) == {"path_not_allowed": 3, "bad_timestamp": 1}


def test_repeated_keys_are_refused_whatever_their_order(
    api: httpx.Client, sandbox: RunningSandbox
) -> None:
    token = oauth(api, sandbox)["token"]
    now = int(time.time())
    stale, fresh = str(now - 3600), str(now)
    orders = (
        [["app_key", sandbox.app_key], ["timestamp", stale], ["timestamp", fresh]],
        [["app_key", sandbox.app_key], ["timestamp", fresh], ["timestamp", stale]],
        [["app_key", "another-apps-key"], ["app_key", sandbox.app_key], ["timestamp", fresh]],
        [
            ["app_key", sandbox.app_key],
            ["timestamp", fresh],
            ["page_size", "1"],
            ["page_size", "2"],
        ],
    )
    for query in orders:
        answer = sign_with(api, token, _payload(SEARCH, query))
        assert _refused(answer) == "repeated_key"
        assert answer.json()["name"] in {"app_key", "timestamp", "page_size"}
    assert _refusals(api) == {"repeated_key": 4}


def test_a_cipher_is_signed_only_for_the_tokens_own_shops(
    api: httpx.Client, sandbox: RunningSandbox
) -> None:
    mine, theirs = sandbox.shops[0], sandbox.shops[1]
    hostile = oauth(api, sandbox, shops=[mine["id"]])
    # The other shop is paired too (its cipher is known to the relay), by its own seller.
    oauth(api, sandbox, shops=[theirs["id"]])
    token, access = hostile["token"], hostile["tokens"]["access_token"]
    refused = sign_with(
        api, token, _payload(SEARCH, _query(sandbox, ("shop_cipher", theirs["cipher"])))
    )
    assert _refused(refused) == "forbidden_shop_cipher"
    assert _refused(
        sign_with(api, token, _payload(SEARCH, _query(sandbox, ("shop_cipher", "GCP_unknown"))))
    ) == ("forbidden_shop_cipher")
    # Its own shop's cipher is signed, and TikTok (the sandbox) accepts the request.
    query = _query(sandbox, ("shop_cipher", mine["cipher"]), ("page_size", "5"))
    raw = json.dumps({"order_status": "AWAITING_SHIPMENT"}).encode()
    payload = {**_payload(SEARCH, query), "body": base64.b64encode(raw).decode()}
    signed = sign_with(api, token, payload)
    assert signed.status_code == 200, signed.text
    answer = _send(sandbox, SEARCH, query, signed.json()["sign"], access, raw)
    assert answer["code"] == 0, answer
    assert _refusals(api) == {"forbidden_shop_cipher": 2}


def test_a_cipher_cannot_be_smuggled_through_the_concatenation(
    api: httpx.Client, sandbox: RunningSandbox
) -> None:
    """TikTok's string to sign has no separators: a value ending in `shop_cipher<theirs>` is,
    for TikTok, a pair of its own. The relay refuses such a request."""
    mine, theirs = sandbox.shops[0], sandbox.shops[1]
    token = oauth(api, sandbox, shops=[mine["id"]])["token"]
    now = str(int(time.time()))
    asked = [
        ["app_key", sandbox.app_key],
        ["s", "hop_cipher" + theirs["cipher"]],
        ["timestamp", now],
    ]
    meant = [["app_key", sandbox.app_key], ["shop_cipher", theirs["cipher"]], ["timestamp", now]]
    # The ambiguity is real: both queries give TikTok the same bytes to sign.
    pairs = [(k, v) for k, v in asked], [(k, v) for k, v in meant]
    assert string_to_sign("k", SEARCH, pairs[0]) == string_to_sign("k", SEARCH, pairs[1])
    answer = sign_with(api, token, _payload(SEARCH, asked))
    assert _refused(answer) == "ambiguous_query"
    # A stale timestamp the same way: `...timestamp<stale>` in a value before the real one.
    stale = str(int(time.time()) - 3600)
    asked = [["app_key", sandbox.app_key], ["s", "timestamp" + stale], ["timestamp", now]]
    assert _refused(sign_with(api, token, _payload(SEARCH, asked))) == "ambiguous_query"
    # Or in the body, which follows the pairs.
    body = {"path": SEARCH, "query": _query(sandbox), "body": "eHRpbWVzdGFtcDEyMw=="}
    assert _refused(sign_with(api, token, body)) == "ambiguous_query"  # b"xtimestamp123"
    # A JSON key of that name in the body is not a pair anyone can read out of it.
    raw = json.dumps({"timestamp": 1}).encode()
    body = {"path": SEARCH, "query": _query(sandbox), "body": base64.b64encode(raw).decode()}
    assert sign_with(api, token, body).status_code == 200
    assert _refusals(api) == {"ambiguous_query": 3}


def test_other_shapes_are_refused(api: httpx.Client, sandbox: RunningSandbox) -> None:
    token = oauth(api, sandbox)["token"]
    cases: list[tuple[list[Any], str]] = [
        ([["app_key", sandbox.app_key]], "bad_timestamp"),
        ([["timestamp", str(int(time.time()))]], "bad_app_key"),
        (_query(sandbox, ("sign", "x")), "bad_query"),
        (_query(sandbox, ("access_token", "x")), "bad_query"),
        (_query(sandbox, ("page size", "1")), "bad_query"),
        (_query(sandbox, ("pagé", "1")), "bad_query"),
        (
            [["app_key", sandbox.app_key], ["timestamp", "+" + str(int(time.time()))]],
            "bad_timestamp",
        ),
        (
            [["app_key", sandbox.app_key], ["timestamp", " " + str(int(time.time()))]],
            "bad_timestamp",
        ),
        ([["app_key", sandbox.app_key], ["timestamp", 1.5]], "bad_query"),
    ]
    for query, reason in cases:
        assert _refused(sign_with(api, token, _payload(SEARCH, query))) == reason, query
    for path in ("/order/202309/../orders", "/order/202309/./orders", "/order/202309/orders%2F"):
        assert _refused(sign_with(api, token, _payload(path, _query(sandbox)))) == (
            "path_not_allowed"
        )
    # An integer timestamp has one spelling and is fine; the honest app-level call is signed.
    answer = sign_with(
        api,
        token,
        _payload(
            "/authorization/202309/shops",
            [["app_key", sandbox.app_key], ["timestamp", int(time.time())]],
        ),
    )
    assert answer.status_code == 200, answer.text


def test_a_pairing_from_before_ciphers_learns_them_on_refresh(
    vendor_relay: Any, api: httpx.Client, sandbox: RunningSandbox
) -> None:
    """A token the relay minted without TikTok's shop list (an admin's `token create`, or a
    pairing stored before the relay kept ciphers) gets no cipher signed until its first
    refresh, which asks TikTok once with the fresh access token."""
    shop = sandbox.shops[0]
    legacy = vendor_relay.create_token([shop["id"]])
    query = _query(sandbox, ("shop_cipher", shop["cipher"]))
    assert _refused(sign_with(api, legacy, _payload(SEARCH, query))) == "forbidden_shop_cipher"
    # The desktop's TikTok tokens, exchanged before (here: straight at the sandbox).
    exchanged = httpx.get(
        sandbox.base_url + "/api/v2/token/get",
        params={
            "app_key": sandbox.app_key,
            "app_secret": sandbox.app_secret,
            "auth_code": sandbox.authorize_code(shop_ids=[shop["id"]]),
            "grant_type": "authorized_code",
        },
    ).json()["data"]
    refreshed = api.post(
        "/v1/oauth/refresh",
        json={"refresh_token": exchanged["refresh_token"]},
        headers={"Authorization": f"Bearer {legacy}"},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert sign_with(api, legacy, _payload(SEARCH, query)).status_code == 200
    other = sandbox.shops[1]["cipher"]
    query = _query(sandbox, ("shop_cipher", other))
    assert _refused(sign_with(api, legacy, _payload(SEARCH, query))) == "forbidden_shop_cipher"


@pytest.mark.redis
def test_ciphers_are_shared_by_relay_processes_on_one_redis(
    sandbox: RunningSandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Paired through one process, signed through another: the cipher check reads Redis."""
    redis_server.flush()
    mine, theirs = sandbox.shops
    with (
        run_relay(vendor_config(sandbox, tmp_path / "a", bus=redis_server.url)) as one,
        run_relay(vendor_config(sandbox, tmp_path / "b", bus=redis_server.url)) as two,
        httpx.Client(base_url=one.base_url, timeout=15) as first,
        httpx.Client(base_url=two.base_url, timeout=15) as second,
    ):
        token = oauth(first, sandbox, shops=[mine["id"]])["token"]
        oauth(first, sandbox, shops=[theirs["id"]])
        own = _query(sandbox, ("shop_cipher", mine["cipher"]))
        assert sign_with(second, token, _payload(SEARCH, own)).status_code == 200
        foreign = _query(sandbox, ("shop_cipher", theirs["cipher"]))
        assert _refused(sign_with(second, token, _payload(SEARCH, foreign))) == (
            "forbidden_shop_cipher"
        )
