"""Request and webhook signatures against TikTok's official vectors (tiktok-shop-api.md 3.2, 6.2)."""

from __future__ import annotations

import json
import string

from hypothesis import given
from hypothesis import strategies as st

from app.tiktok.signing import sign_request, verify_webhook, webhook_signature

OFFICIAL_SIGN = "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
WEBHOOK_BODY = (
    b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
    b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
    b'"order_status":"UNPAID","update_time":1718305585}}'
)
WEBHOOK_SIGN = "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"


def test_official_request_vector() -> None:
    query = {"app_key": "29a39d", "timestamp": "1623812664"}
    assert sign_request("e59af819cc", "/authorization/202309/shops", query) == OFFICIAL_SIGN


def test_sign_and_access_token_are_left_out() -> None:
    query = [
        ("timestamp", "1623812664"),
        ("sign", "whatever"),
        ("access_token", "TTP_abc"),
        ("app_key", "29a39d"),
    ]
    assert sign_request("e59af819cc", "/authorization/202309/shops", query) == OFFICIAL_SIGN


def test_mapping_and_pairs_agree_and_values_may_be_ints() -> None:
    as_pairs = [("app_key", "29a39d"), ("timestamp", 1623812664)]
    assert sign_request("e59af819cc", "/authorization/202309/shops", as_pairs) == OFFICIAL_SIGN


def test_body_is_signed_but_not_for_multipart() -> None:
    query = {"app_key": "k", "timestamp": "1"}
    body = b'{"a":1}'
    with_body = sign_request("s", "/p", query, body)
    assert with_body != sign_request("s", "/p", query)
    assert sign_request("s", "/p", query, body.decode()) == with_body
    multipart = "multipart/form-data; boundary=----abc"
    assert sign_request("s", "/p", query, body, multipart) == sign_request("s", "/p", query)


def test_empty_value_is_signed_as_bare_name() -> None:
    with_empty = sign_request("s", "/p", {"app_key": "k", "page_token": ""})
    without = sign_request("s", "/p", {"app_key": "k"})
    assert with_empty != without


def test_official_webhook_vector() -> None:
    assert webhook_signature("abcdef", "123", WEBHOOK_BODY) == WEBHOOK_SIGN
    assert verify_webhook("abcdef", "123", WEBHOOK_BODY, WEBHOOK_SIGN)


def test_webhook_signature_in_upper_or_mixed_case_hex_is_accepted() -> None:
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(WEBHOOK_SIGN))
    assert verify_webhook("abcdef", "123", WEBHOOK_BODY, WEBHOOK_SIGN.upper())
    assert verify_webhook("abcdef", "123", WEBHOOK_BODY, mixed)
    # Case folding must not let another digest through: a wrong digest in upper case fails.
    wrong = webhook_signature("abcdef", "1234", WEBHOOK_BODY).upper()
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, wrong)
    # Non-ASCII letters are not folded (the Kelvin sign K lowers to k in Unicode, not bytes).
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, WEBHOOK_SIGN[:-1] + "\u212a")


def test_webhook_refusals() -> None:
    reserialized = json.dumps(json.loads(WEBHOOK_BODY)).encode()
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, None)
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, "")
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, "Bearer " + WEBHOOK_SIGN)
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, " " + WEBHOOK_SIGN)
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, WEBHOOK_SIGN[:-1])
    assert not verify_webhook("abcdef", "123", reserialized, WEBHOOK_SIGN)
    assert not verify_webhook("abcdef", "1234", WEBHOOK_BODY, WEBHOOK_SIGN)
    assert not verify_webhook("abcdef", "123", WEBHOOK_BODY, "é" * 64)


names = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
    lambda n: n not in {"sign", "access_token"}
)
values = st.text(max_size=20)
queries = st.dictionaries(names, values, min_size=1, max_size=6)
paths = st.text(alphabet=string.ascii_letters + string.digits + "/_", min_size=1, max_size=40)
secrets = st.text(min_size=1, max_size=20)
bodies = st.binary(max_size=64)


@given(secrets, paths, queries, bodies, st.randoms())
def test_parameter_order_never_matters(secret, path, query, body, rnd) -> None:  # type: ignore[no-untyped-def]
    pairs = list(query.items())
    shuffled = pairs[:]
    rnd.shuffle(shuffled)
    assert sign_request(secret, path, pairs, body) == sign_request(secret, path, shuffled, body)


@given(secrets, paths, queries, bodies, st.data())
def test_any_change_changes_the_signature(secret, path, query, body, data) -> None:  # type: ignore[no-untyped-def]
    original = sign_request(secret, path, query, body)
    assert sign_request(secret + "x", path, query, body) != original
    assert sign_request(secret, path + "x", query, body) != original
    assert sign_request(secret, path, query, body + b"x") != original
    name = data.draw(st.sampled_from(sorted(query)))
    changed = dict(query, **{name: query[name] + "x"})
    assert sign_request(secret, path, changed, body) != original
    extra = data.draw(names.filter(lambda n: n not in query))
    assert sign_request(secret, path, dict(query, **{extra: "1"}), body) != original


@given(st.text(min_size=1, max_size=10), secrets, bodies)
def test_webhook_changes_are_refused(app_key, secret, body) -> None:  # type: ignore[no-untyped-def]
    signature = webhook_signature(app_key, secret, body)
    assert verify_webhook(app_key, secret, body, signature)
    assert not verify_webhook(app_key, secret, body + b" ", signature)
    assert not verify_webhook(app_key + "x", secret, body, signature)
    assert not verify_webhook(app_key, secret + "x", body, signature)
