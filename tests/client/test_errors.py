"""Classification of TikTok answers into errors a caller can act on."""

from __future__ import annotations

import pytest

from app.tiktok import errors
from app.tiktok.client import encode_body


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (401, 105002, "expired", errors.TokenExpiredError),
        (401, 105001, "deauthorized", errors.ReauthorizationRequired),
        (403, 105005, "scope", errors.ReauthorizationRequired),
        (429, 36009002, "too many", errors.RateLimitedError),
        (429, None, "", errors.RateLimitedError),
        (500, 36009003, "internal", errors.TransientError),
        (200, 36009007, "timeout", errors.TransientError),
        (503, None, "", errors.TransientError),
        (401, 106001, "invalid sign", errors.ClientBugError),
        (400, 36009004, "Invalid timestamp", errors.ClientBugError),
        (400, 106013, "shop_cipher missing", errors.ClientBugError),
        (400, 12345, "The shop_cipher is invalid", errors.ClientBugError),
        (200, 21008111, "order not in shop", errors.ApiError),
    ],
)
def test_classify(status: int, code: int | None, message: str, expected: type) -> None:
    error = errors.classify(
        http_status=status, code=code, message=message, request_id="rid", path="/x"
    )
    assert type(error) is expected
    assert error.request_id == "rid"
    assert error.code == code


def test_retry_after_kept() -> None:
    error = errors.classify(
        http_status=429, code=36009002, message="", request_id=None, path="/x", retry_after=2.5
    )
    assert isinstance(error, errors.RateLimitedError)
    assert error.retry_after == 2.5
    assert error.not_sent


def test_body_serialised_compact_utf8_and_empty_means_none() -> None:
    assert encode_body(None) is None
    assert encode_body({}) is None
    assert encode_body({"a": None}) is None
    assert encode_body({"name": "Café", "ids": ["1", "2"]}) == (
        '{"name":"Café","ids":["1","2"]}'.encode()
    )
