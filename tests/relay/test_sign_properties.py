"""Property tests over `/v1/sign` inputs, against the real relay over HTTP (issue #18).

Hypothesis generates paths (ASCII and Unicode digits, `%`, dots, newlines), queries (repeated
keys, Unicode digits in timestamps, another app's key, foreign or unknown ciphers, names with
percent-encodings, `+` against `%20` in values, protected names hidden in values) and bodies.
The oracle is the allowed set written independently of the relay's code, as TikTok will read
the request: whatever the relay signs has an Open API path in ASCII, each name once, our app
key, one fresh ASCII-decimal timestamp, no cipher or only one of the token's own shops, no
protected name anywhere else in the signed bytes, and the signature is over exactly those
bytes. Anything else must be a 4xx with a reason, never a 500.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.sandbox import RunningSandbox
from app.tiktok.signing import sign_request
from relay.server import run_relay
from tests.relay.conftest import oauth, sign_with, vendor_config

ASCII_DIGITS = "0123456789"
PROTECTED = ("app_key", "timestamp", "shop_cipher")
REASONS = {
    "path_not_allowed",
    "bad_query",
    "repeated_key",
    "bad_app_key",
    "bad_timestamp",
    "forbidden_shop_cipher",
    "ambiguous_query",
    "malformed",
    "too_large",
}


@dataclass(frozen=True)
class Setup:
    api: httpx.Client
    token: str
    app_key: str
    app_secret: str
    mine: str
    theirs: str


@pytest.fixture(scope="module")
def setup(sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    config = vendor_config(sandbox, tmp_path_factory.mktemp("props"), sign_rate=0.0)
    with run_relay(config) as running, httpx.Client(base_url=running.base_url) as api:
        mine, theirs = sandbox.shops
        token = oauth(api, sandbox, shops=[mine["id"]])["token"]
        oauth(api, sandbox, shops=[theirs["id"]])  # its cipher is known, not ours to sign
        yield Setup(
            api, token, sandbox.app_key, sandbox.app_secret, mine["cipher"], theirs["cipher"]
        )


# --- strategies --------------------------------------------------------------------------

unicode_digit = st.characters(categories=["Nd"])
digits = st.one_of(
    st.text(st.sampled_from(ASCII_DIGITS), min_size=1, max_size=12),
    st.text(unicode_digit, min_size=1, max_size=12),
    st.lists(st.one_of(st.sampled_from(ASCII_DIGITS), unicode_digit), min_size=6, max_size=6).map(
        "".join
    ),
)
segment = st.one_of(
    st.sampled_from(["orders", "search", "products", "shops", "..", ".", "", "%2e%2e", "a%20b"]),
    st.text(
        st.sampled_from("abcXYZ019_-.%+/\n ?#") | st.characters(codec="utf-8"),
        min_size=0,
        max_size=8,
    ),
)


VALID_PATHS = [
    "/order/202309/orders/search",
    "/product/202309/products/1729382476852",
    "/authorization/202309/shops",
    "/event/202309/webhooks",
]


@st.composite
def odd_paths(draw: st.DrawFn) -> str:
    category = draw(st.sampled_from(["order", "product", "authorization", "api", "Order", "x_y"]))
    version = draw(st.one_of(st.just("202309"), digits))
    rest = draw(st.lists(segment, min_size=0, max_size=3))
    tail = "/".join(rest)
    path = f"/{category}/{version}" + (f"/{tail}" if rest else "")
    return draw(st.sampled_from([path, path + "\n", "/" + path.lstrip("/").upper()]))


# Half honest paths, half odd ones: the other parts of the request get their share of tries.
paths = st.one_of(st.sampled_from(VALID_PATHS), odd_paths())


def values(setup: Setup) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["1", "10", "a b", "a+b", "a%20b", "%2B", "%", "", setup.mine]),
        st.sampled_from(["20", "ASC", "create_time", "a+b", "a%20b", "%25"]),
        st.builds(lambda w, v: w + v, st.sampled_from(PROTECTED), st.sampled_from(["", "1", "X"])),
        st.text(max_size=12),
    )


names = st.one_of(
    st.sampled_from(["page_size", "page_token", "sort_order", "s", "timestam", "shop", "x"]),
    st.sampled_from(["page_size", "page_token", "sort_field", "category_version", "ids"]),
    st.sampled_from(["app%5Fkey", "time stamp", "sign", "access_token", "app_secret", "pagé"]),
    st.sampled_from(PROTECTED),
    st.text(min_size=1, max_size=10),
)


honest_extras = st.lists(
    st.tuples(
        st.sampled_from(["page_size", "page_token", "sort_field", "sort_order", "ids"]),
        st.sampled_from(["20", "ASC", "create_time", "a b", "a+b", "a%20b", "%2B", "", "é"]),
    ),
    max_size=3,
    unique_by=lambda pair: pair[0],
)
MUTATIONS = ("path", "stamp", "key", "cipher", "extra", "repeat", "body", "smuggle")


@st.composite
def requests(draw: st.DrawFn, setup: Setup) -> dict[str, Any]:
    """An honest request (path, app key, fresh timestamp, maybe our cipher, a few ordinary
    pairs, maybe a body), then none to three hostile mutations of it."""
    now = int(time.time())
    path = draw(st.sampled_from(VALID_PATHS))
    pairs: list[list[Any]] = [["app_key", setup.app_key], ["timestamp", str(now)]]
    if draw(st.booleans()):
        pairs.append(["shop_cipher", setup.mine])
    pairs += [list(pair) for pair in draw(honest_extras)]
    body = draw(st.one_of(st.none(), st.just(b'{"page_size":10}')))

    def put(name: str, value: Any) -> None:
        for pair in pairs:
            if pair[0] == name:
                pair[1] = value
                return
        pairs.append([name, value])

    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
        if mutation == "path":
            path = draw(odd_paths())
        elif mutation == "stamp":
            put("timestamp", draw(stamps(now)))
        elif mutation == "key":
            put("app_key", draw(st.sampled_from(["another-app", setup.app_key + " ", ""])))
        elif mutation == "cipher":
            put("shop_cipher", draw(st.sampled_from([setup.theirs, "GCP_nobody", "", "x y"])))
        elif mutation == "extra":
            pairs.append(list(draw(st.tuples(names, values(setup)))))
        elif mutation == "repeat":
            chosen = draw(st.sampled_from(pairs))
            again = [chosen[0], draw(st.sampled_from([chosen[1], str(now - 3600), "other"]))]
            pairs.insert(draw(st.integers(0, len(pairs))), again)
        elif mutation == "body":
            body = draw(
                st.one_of(
                    st.sampled_from([b'{"timestamp":1}', b"xtimestamp1", b'{"a":"shop_cipherX"}']),
                    st.binary(max_size=40),
                )
            )
        else:
            word = draw(st.sampled_from(PROTECTED))
            pairs.append([draw(names), word + draw(st.sampled_from(["1", setup.theirs, ""]))])
    return {
        "path": path,
        "query": draw(st.permutations(pairs)),
        "body": None if body is None else base64.b64encode(body).decode(),
        "content_type": "application/json",
    }


def stamps(now: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-900, 120).map(lambda offset: str(now + offset)),
        st.just(str(now)).map(lambda s: s.translate({ord(d): 0xFF10 + int(d) for d in s})),
        st.sampled_from([f"+{now}", f" {now}", f"{now} ", f"0{now}", f"{now}.0", ""]),
        digits,
    )


# --- the oracle ----------------------------------------------------------------------------


def _ascii_decimal(text: str) -> bool:
    return bool(text) and all(c in ASCII_DIGITS for c in text) and text[0] != "0"


def _open_api_path(path: str) -> bool:
    if not path.isascii() or "\n" in path or "%" in path:
        return False
    parts = path.split("/")
    if parts[0] != "" or len(parts) < 4:
        return False
    category, version, rest = parts[1], parts[2], parts[3:]
    ok_category = category[:1].islower() and all(c.islower() or c == "_" for c in category)
    ok_version = len(version) == 6 and all(c in ASCII_DIGITS for c in version)
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
    ok_rest = all(s and set(s) <= allowed and s.strip(".") for s in rest)
    return ok_category and ok_version and ok_rest


def _material(path: str, query: list[tuple[str, str]], body: bytes) -> tuple[bytes, int]:
    pairs = sorted(query, key=lambda p: p[0].encode())
    head = path.encode() + b"".join(n.encode() + v.encode() for n, v in pairs)
    return head + body, len(head)


def _check_signed(setup: Setup, request: dict[str, Any], sign: str) -> None:
    query = [(str(n), "" if v is None else str(v)) for n, v in request["query"]]
    names = Counter(name for name, _ in query)
    assert all(count == 1 for count in names.values()), names
    params = dict(query)
    assert params["app_key"] == setup.app_key
    assert _ascii_decimal(params["timestamp"])
    assert abs(int(params["timestamp"]) - time.time()) <= 330
    assert params.get("shop_cipher", setup.mine) == setup.mine
    assert not {"sign", "access_token", "app_secret"} & set(names)
    assert all(n.isascii() and n.replace("_", "").isalnum() for n in names)
    assert _open_api_path(request["path"]), request["path"]
    body = base64.b64decode(request["body"]) if request["body"] is not None else b""
    material, body_start = _material(request["path"], query, body)
    for word in PROTECTED:
        hits = [i for i in range(len(material)) if material.startswith(word.encode(), i)]
        loose = [
            i
            for i in hits
            if not (i >= body_start and material[i + len(word) : i + len(word) + 1] == b'"')
        ]
        assert len(loose) == (1 if word in params else 0), (word, material)
    expected = sign_request(
        setup.app_secret, request["path"], query, body if request["body"] is not None else None
    )
    assert sign == expected


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_nothing_outside_the_allowed_set_is_signed(setup: Setup, data: st.DataObject) -> None:
    request = data.draw(requests(setup))
    answer = sign_with(setup.api, setup.token, request)
    event("signed" if answer.status_code == 200 else answer.json().get("error", "?"))
    if answer.status_code == 200:
        _check_signed(setup, request, answer.json()["sign"])
    else:
        assert answer.status_code in (400, 413), answer.text
        assert answer.json()["error"] in REASONS


def test_the_generator_reaches_signed_requests(setup: Setup) -> None:
    """Guards the property above against vacuity: honest requests drawn the same way are
    signed (and a mutation of each is refused)."""
    now = str(int(time.time()))
    honest = {
        "path": "/order/202309/orders/search",
        "query": [["app_key", setup.app_key], ["timestamp", now], ["shop_cipher", setup.mine]],
        "body": base64.b64encode(b'{"page_size":10}').decode(),
    }
    answer = sign_with(setup.api, setup.token, honest)
    assert answer.status_code == 200
    _check_signed(setup, honest, answer.json()["sign"])
    for query in (
        [*honest["query"], ["timestamp", now]],
        [["app_key", setup.app_key], ["timestamp", now], ["shop_cipher", setup.theirs]],
        [["app_key", setup.app_key], ["timestamp", now], ["x", "shop_cipher" + setup.theirs]],
    ):
        assert sign_with(setup.api, setup.token, {**honest, "query": query}).status_code == 400
