"""Every gateway refusal, over real HTTP, with TikTok's HTTP status and code."""

from __future__ import annotations

import time

import httpx

from app.sandbox import RunningSandbox
from tests.sandbox.helpers import Api, assert_refused, compact, find_nulls, get_token

SHOPS = "/authorization/202309/shops"
SEARCH = "/order/202309/orders/search"


def test_a_correct_call_gets_the_envelope_without_nulls(api: Api) -> None:
    response = api.call("GET", SHOPS, cipher=None)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    envelope = response.json()
    assert list(envelope) == ["code", "message", "request_id", "data"]
    assert envelope["code"] == 0
    shop = envelope["data"]["shops"][0]
    assert shop["cipher"] == api.cipher
    assert set(shop) == {"id", "name", "region", "seller_type", "cipher", "code"}
    assert find_nulls(envelope) == []


def test_app_key_missing_or_unknown(api: Api) -> None:
    assert_refused(api.call("GET", SHOPS, cipher=None, drop=("app_key",)), 400, 36009004, "app_key")
    assert_refused(api.call("GET", SHOPS, cipher=None, app_key="nope"), 400, 36009004, "app_key")


def test_signature_missing(api: Api) -> None:
    assert_refused(api.call("GET", SHOPS, cipher=None, drop=("sign",)), 400, 36009004, "sign")


def test_timestamp_window_follows_the_wall_clock(api: Api, sandbox: RunningSandbox) -> None:
    now = int(time.time())
    assert_refused(
        api.call("GET", SHOPS, cipher=None, timestamp=now - 301), 400, 36009004, "timestamp"
    )
    assert_refused(
        api.call("GET", SHOPS, cipher=None, timestamp=now + 40), 400, 36009004, "timestamp"
    )
    assert_refused(
        api.call("GET", SHOPS, cipher=None, timestamp=now * 1000), 400, 36009004, "timestamp"
    )
    assert api.call("GET", SHOPS, cipher=None, timestamp=now - 250).status_code == 200
    assert api.call("GET", SHOPS, cipher=None, timestamp=now + 20).status_code == 200
    # The simulated clock is far from the wall clock; it does not matter for timestamps.
    sandbox.clock.advance(30 * 86_400 / 10)
    assert api.call("GET", SHOPS, cipher=None).status_code == 200


def test_bad_signature_is_106001_with_http_401(api: Api, sandbox: RunningSandbox) -> None:
    wrong = "0" * 64
    assert_refused(api.call("GET", SHOPS, cipher=None, sign=wrong), 401, 106001)
    assert sandbox.stats()["bad_signatures"] == 1


def test_signature_covers_the_exact_body_bytes(api: Api) -> None:
    body = {"order_status": "UNPAID"}
    spaced = b'{"order_status": "UNPAID"}'
    # Signed over compact bytes but sent with a space: refused.
    response = api.call(
        "POST", SEARCH, {"page_size": "10"}, raw_body=spaced, sign_body=compact(body)
    )
    assert_refused(response, 401, 106001)
    # Signed and sent with the same spaced bytes: fine.
    assert api.call("POST", SEARCH, {"page_size": "10"}, raw_body=spaced).status_code == 200


def test_signature_covers_the_path_and_every_parameter(api: Api, client: httpx.Client) -> None:
    good = api.call("POST", SEARCH, {"page_size": "10"})
    assert good.status_code == 200
    request = good.request
    tampered = request.url.copy_set_param("page_size", "11")
    response = client.post(tampered, headers={"x-tts-access-token": api.token})
    assert_refused(response, 401, 106001)


def test_access_token_in_query_is_not_signed_and_header_is_required(api: Api) -> None:
    # access_token in the query is excluded from the signature, but the header is what counts.
    response = api.call("GET", SHOPS, {"access_token": api.token}, cipher=None, token=None)
    assert_refused(response, 400, 36009004, "x-tts-access-token")


def test_unknown_access_token_is_105001(api: Api) -> None:
    assert_refused(api.call("GET", SHOPS, cipher=None, token="TTP_forged"), 401, 105001)


def test_version_parameter_is_refused(api: Api) -> None:
    response = api.call("GET", SHOPS, {"version": "202309"}, cipher=None)
    assert_refused(response, 400, 36009004, "version")


def test_shop_cipher_required_where_shop_scoped(api: Api) -> None:
    assert_refused(api.call("POST", SEARCH, {"page_size": "10"}, cipher=None), 400, 106013)


def test_shop_cipher_refused_where_not_accepted(api: Api) -> None:
    response = api.call("GET", SHOPS)
    assert_refused(
        response,
        400,
        36009004,
        "Unexpected identifier. The shop_cipher query parameter is not required",
    )


def test_unknown_shop_cipher(api: Api) -> None:
    assert_refused(api.call("POST", SEARCH, {"page_size": "10"}, cipher="GCP_nope"), 400, 36009004)


def test_token_is_per_shop(make_sandbox: object, client: httpx.Client) -> None:
    with make_sandbox(shops=2) as sandbox:  # type: ignore[operator]
        first, second = sandbox.shops
        token = get_token(sandbox, client, shop_ids=first["id"])["access_token"]
        api = Api(sandbox, client, token)
        assert (
            api.call("POST", SEARCH, {"page_size": "5"}, cipher=first["cipher"]).status_code == 200
        )
        response = api.call("POST", SEARCH, {"page_size": "5"}, cipher=second["cipher"])
        assert_refused(response, 403, 101000)
        shops = api.call("GET", SHOPS, cipher=None).json()["data"]["shops"]
        assert [shop["id"] for shop in shops] == [first["id"]]


def test_page_size_range(api: Api) -> None:
    for bad in ("0", "101", "x", ""):
        assert_refused(api.call("POST", SEARCH, {"page_size": bad}), 400, 36009004, "page_size")
    assert_refused(api.call("POST", SEARCH), 400, 36009004, "page_size")
    assert api.call("POST", SEARCH, {"page_size": "100"}).status_code == 200


def test_body_needs_json_content_type(api: Api) -> None:
    body = {"order_status": "UNPAID"}
    response = api.call("POST", SEARCH, {"page_size": "10"}, body, content_type="text/plain")
    assert_refused(response, 400, 36009022)
    response = api.call("POST", SEARCH, {"page_size": "10"}, body, content_type=None)
    assert_refused(response, 400, 36009022)
    with_charset = "application/json; charset=utf-8"
    assert (
        api.call("POST", SEARCH, {"page_size": "10"}, body, content_type=with_charset).status_code
        == 200
    )
    # No body, no content-type needed (send no body rather than {}).
    assert api.call("POST", SEARCH, {"page_size": "10"}, content_type=None).status_code == 200


def test_malformed_body(api: Api) -> None:
    assert_refused(api.call("POST", SEARCH, {"page_size": "10"}, raw_body=b"{nope"), 400, 36009023)
    assert_refused(api.call("POST", SEARCH, {"page_size": "10"}, raw_body=b"[]"), 400, 36009023)


def test_unknown_path_and_wrong_method(api: Api) -> None:
    assert_refused(api.call("GET", "/order/202309/nothing"), 404, 36009009)
    assert_refused(api.call("GET", SEARCH, {"page_size": "10"}), 405, 36009010)


def test_rate_limit_per_app_and_shop(make_sandbox: object, client: httpx.Client) -> None:
    with make_sandbox(qps=3) as sandbox:  # type: ignore[operator]
        api = Api(sandbox, client, get_token(sandbox, client)["access_token"])
        codes = [api.call("GET", SHOPS, cipher=None).status_code for _ in range(8)]
        assert 429 in codes
        assert codes[:3] == [200, 200, 200]
        limited = next(
            r
            for r in (api.call("GET", SHOPS, cipher=None) for _ in range(5))
            if r.status_code == 429
        )
        assert_refused(limited, 429, 36009002)
        # Another shop's bucket is separate: the shop-scoped call is keyed on the shop.
        assert api.call("POST", SEARCH, {"page_size": "5"}).status_code == 200
        assert sandbox.stats()["rate_limited"] >= 2


def test_repeated_query_keys_are_signed_by_their_first_value(
    api: Api, sandbox: RunningSandbox
) -> None:
    from app.tiktok.signing import sign_request

    path = "/order/202309/orders"
    base = [
        ("app_key", sandbox.app_key),
        ("timestamp", str(int(time.time()))),
        ("shop_cipher", api.cipher),
    ]
    repeated = [*base, ("ids", "5764000000000112648"), ("ids", "5764000000000120567")]
    every_pair = sign_request(sandbox.app_secret, path, repeated)
    response = api.client.get(
        sandbox.base_url + path,
        params=[*repeated, ("sign", every_pair)],
        headers={"x-tts-access-token": api.token},
    )
    assert_refused(response, 401, 106001)  # send ids=a,b instead (tiktok-shop-api.md 3.3)
