"""Secrets never reach a log line or an exception's text."""

from __future__ import annotations

import logging

import pytest

from app.tiktok.errors import TransientError, classify
from app.tiktok.redact import RedactingFilter, install_redaction, redact, register_secret

SECRET = "s3cr3t-app-value-42"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        (f"GET /api/v2/token/get?app_key=k&app_secret={SECRET}&auth_code=abc", SECRET),
        ("POST /order?app_key=k&sign=deadbeefcafe&timestamp=1", "deadbeefcafe"),
        ('{"access_token": "TTP_abcdef123", "x": 1}', "TTP_abcdef123"),
        ("{'refresh_token': 'RFR_zzz999'}", "RFR_zzz999"),
        ("x-tts-access-token: TTP_hdr_777", "TTP_hdr_777"),
        ("Authorization: Bearer sub-token-xyz", "sub-token-xyz"),
    ],
)
def test_patterns_mask_secrets_by_name(text: str, leak: str) -> None:
    assert leak not in redact(text)
    assert "***" in redact(text)


def test_harmless_names_survive() -> None:
    text = "design=1&page_token=abc&next_page_token=def&signal=ok"
    assert redact(text) == text


def test_registered_values_are_masked_bare() -> None:
    register_secret("bare-secret-value-123")
    assert redact("server said: bare-secret-value-123 is bad") == "server said: *** is bad"


def test_filter_masks_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("app.tiktok.test_redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.info("calling %s", f"https://x/y?sign=abcdef0123&app_secret={SECRET}")
        try:
            raise RuntimeError(f"boom access_token={SECRET}")
        except RuntimeError:
            logger.exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert SECRET not in text
    assert "abcdef0123" not in text
    assert "boom access_token=***" in text


def test_install_redaction_covers_httpx_logger(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    install_redaction()  # idempotent
    httpx_logger = logging.getLogger("httpx")
    assert sum(isinstance(f, RedactingFilter) for f in httpx_logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="httpx"):
        httpx_logger.info('HTTP Request: GET %s "200 OK"', f"http://h/p?app_secret={SECRET}")
    assert SECRET not in caplog.text


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
