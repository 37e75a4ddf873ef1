"""Secrets never reach a log line or an exception's text: the one shared redactor."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.tiktok.errors import TransientError, classify
from app.tiktok.redact import (
    RedactingFilter,
    fingerprint,
    install_redaction,
    redact,
    redact_record,
    register_secret,
)

SECRET = "s3cr3t-app-value-42"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        (f"GET /api/v2/token/get?app_key=k&app_secret={SECRET}&auth_code=abc", SECRET),
        ("GET /api/v2/token/get?app_key=k&auth_code=TTP_code_1&x=1", "TTP_code_1"),
        ("POST /order?app_key=k&sign=deadbeefcafe&timestamp=1", "deadbeefcafe"),
        ('{"access_token": "TTP_abcdef123", "x": 1}', "TTP_abcdef123"),
        ("{'refresh_token': 'RFR_zzz999'}", "RFR_zzz999"),
        ("x-tts-access-token: TTP_hdr_777", "TTP_hdr_777"),
        ("Authorization: Bearer sub-token-xyz", "sub-token-xyz"),
        ("authorization: raw-sub-token-xyz", "raw-sub-token-xyz"),
        ("https://seller.example/cb?code=TTP_oauth_code&state=s1", "TTP_oauth_code"),
        ("http://127.0.0.1:5/callback?state=s1&code=TTP_oauth_2", "TTP_oauth_2"),
        ("[(b'host', b'x'), (b'x-tts-access-token', b'TTP_bytes_1')]", "TTP_bytes_1"),
        ("[('Authorization', 'Bearer sub-tuple-1')]", "sub-tuple-1"),
        ('{"subscriber_token":"sub-json-1"}', "sub-json-1"),
        ("login password=hunter2hunter2", "hunter2hunter2"),
    ],
)
def test_patterns_mask_secrets_by_name(text: str, leak: str) -> None:
    assert leak not in redact(text)
    assert "***" in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "design=1&page_token=abc&next_page_token=def&signal=ok",
        "invalid sign code=106001 http=401 path=/p request_id=req-1",  # TikTok's numeric code
        '{"code":0,"message":"Success","request_id":"r"}',
        "GET /authorization/202309/shops",
        "(b'content-type', b'application/json')",
    ],
)
def test_harmless_text_survives(text: str) -> None:
    assert redact(text) == text


def test_registered_values_are_masked_bare() -> None:
    register_secret("bare-secret-value-123")
    assert redact("server said: bare-secret-value-123 is bad") == "server said: *** is bad"


_FRAGMENTS = [
    "sign=",
    "sign",
    "=",
    ":",
    " ",
    "'",
    '"',
    "b'",
    ", ",
    "&",
    "?",
    "code=",
    "]",
    ")",
    "}",
    "***",
    "abc123",
    "Bearer ",
    "x-tts-access-token",
    "access_token",
    "Authorization",
    "(",
    "[",
    "bare-secret-value-123",
]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=14).map("".join))
def test_redaction_is_idempotent(text: str) -> None:
    register_secret("bare-secret-value-123")
    once = redact(text)
    assert redact(once) == once


def test_stacked_redactors_do_not_corrupt_a_line() -> None:
    line = "GET /x?app_key=k&sign=abcdef0123] [access_token=TTP_qq) Bearer zz-top"
    once = redact(line)
    assert once == "GET /x?app_key=k&sign=***] [access_token=***) Bearer ***"
    assert redact(redact(once)) == once


@pytest.mark.parametrize(
    ("foreign", "ours"),
    [
        ("GET /p?sign=[redacted]&a=1", "GET /p?sign=***&a=1"),
        ("RelayLink(url=u, token=<redacted>)", "RelayLink(url=u, token=***)"),
    ],
)
def test_after_another_redactors_mask_the_line_stays_whole(foreign: str, ours: str) -> None:
    assert redact(foreign) == ours
    assert redact(ours) == ours


@pytest.fixture
def late_handler() -> Iterator[io.StringIO]:
    """A handler attached to the root logger *after* redaction was installed (and after any
    client was created), with no filter of its own."""
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_handler_added_later_sees_redacted_text(late_handler: io.StringIO) -> None:
    token = "TTP_late_registered_token_1"
    register_secret(token)
    logger = logging.getLogger("anything.nobody.configured")
    logger.info("calling %s", f"https://x/y?sign=abcdef0123&app_secret={SECRET}")
    logger.info("token in the message " + token)
    logger.info("token in an argument %s (%d)", token, 3)
    try:
        raise RuntimeError(f"boom with {token} and access_token={SECRET}")
    except RuntimeError:
        logger.exception("failed")
    text = late_handler.getvalue()
    assert "calling https://x/y?sign=***&app_secret=***" in text
    assert "token in an argument *** (3)" in text
    assert "RuntimeError: boom with *** and access_token=***" in text
    for leak in (token, SECRET, "abcdef0123"):
        assert leak not in text


def test_caplog_sees_redacted_records(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info(
            'HTTP Request: GET %s "200 OK"', f"http://h/p?app_secret={SECRET}"
        )
    assert SECRET not in caplog.text
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def test_install_is_idempotent() -> None:
    install_redaction()
    factory = logging.getLogRecordFactory()
    install_redaction()
    assert logging.getLogRecordFactory() is factory


def test_clean_records_keep_their_args() -> None:
    """uvicorn's access formatter unpacks `record.args`: a clean record must keep them."""
    record = logging.LogRecord("x", logging.INFO, "f", 1, "%s %s", ("GET", "/p?a=1"), None)
    assert redact_record(record).args == ("GET", "/p?a=1")


def test_filter_redacts_records_made_elsewhere() -> None:
    record = logging.makeLogRecord({"msg": "relayed sign=abcdef0123", "args": None})
    RedactingFilter().filter(record)
    assert record.getMessage() == "relayed sign=***"


def test_fingerprint_is_stable_and_not_the_secret() -> None:
    assert fingerprint(SECRET) == fingerprint(SECRET) != fingerprint(SECRET + "x")
    assert SECRET not in fingerprint(SECRET) and len(fingerprint(SECRET)) == 16


def test_exception_text_is_redacted() -> None:
    error = classify(
        http_status=401,
        code=106001,
        message=f"invalid sign for app_secret={SECRET}",
        request_id="req-1",
        path="/p",
    )
    assert SECRET not in str(error)
    assert "request_id=req-1" in str(error)
    assert SECRET not in str(TransientError(f"url ...&sign={SECRET}"))


_FRESH_PROCESS = """
import logging, sys
from app.tiktok.client import TikTokShopClient
from app.tiktok.oauth import DirectTokenExchanger
from app.tiktok.signer import LocalSigner

TikTokShopClient(LocalSigner("key", "s3cr3t-app-secret"), object())  # type: ignore[arg-type]
DirectTokenExchanger("key", "s3cr3t-app-secret")
# The protocol package changed nothing process-wide: logging and the import system as found.
assert logging.getLogRecordFactory() is logging.LogRecord, "a record factory was installed"
assert sys.modules.get("sniffio", "absent") is not None, "sniffio was poisoned at import"

from app.main import prepare_process

prepare_process()  # what `python -m app` does first
record = logging.getLogRecordFactory()(
    "httpx", logging.INFO, "x.py", 1, "HTTP Request: GET %s", ("/x?sign=abc123&a=1",), None
)
assert "abc123" not in record.getMessage(), record.getMessage()
"""


def test_the_client_has_no_process_wide_side_effects_and_main_sets_them_up() -> None:
    """Importing or constructing the client and the token exchange leaves logging and
    `sys.modules` alone; the composition root installs redaction (and the sniffio shortcut)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
