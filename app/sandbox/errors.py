"""TikTok error codes the sandbox answers with, and the HTTP status that goes with each.

Codes marked "documented" come from tiktok-shop-api.md; the others are sandbox inventions for
cases the documentation leaves open (a real shop would use some code there too: clients must
treat unknown codes as errors, never as success).
"""

from __future__ import annotations

__all__ = ["ApiError", "Code", "http_status"]


class Code:
    OK = 0
    TOO_MANY_REQUESTS = 36009002  # documented, HTTP 429
    INTERNAL_ERROR = 36009003  # documented
    INVALID_PARAMETER = 36009004  # documented, overloaded: read the message
    INVALID_PATH = 36009009  # documented
    INVALID_METHOD = 36009010  # documented
    INVALID_CONTENT_TYPE = 36009022  # documented
    INVALID_BODY = 36009023  # documented
    TOKEN_SHOP_MISMATCH = 101000  # documented
    ACCESS_TOKEN_INVALID = 105001  # documented (deauthorized / unknown token)
    ACCESS_TOKEN_EXPIRED = 105002  # documented
    INVALID_SIGN = 106001  # documented
    SHOP_CIPHER_MISSING = 106013  # documented
    ORDER_NOT_FOUND = 21008111  # documented: the order does not belong to this seller
    WAREHOUSE_NOT_FOUND = 12052097  # documented
    WAREHOUSES_INCOMPLETE = 12019028  # documented
    # Sandbox inventions (the documentation names no code for these):
    PRODUCT_NOT_FOUND = 12052048
    SKU_NOT_IN_PRODUCT = 12052230
    INVALID_QUANTITY = 12052217
    PACKAGE_NOT_FOUND = 21009001
    PACKAGE_NOT_SHIPPABLE = 21009002
    # Auth host (token get / refresh):
    AUTH_INVALID_CODE = 36004004  # documented
    AUTH_INVALID_CLIENT = 36004003  # invented: app_key / app_secret wrong
    AUTH_INVALID_GRANT_TYPE = 36004002  # invented
    AUTH_INVALID_REFRESH_TOKEN = 36004005  # invented: unknown or expired refresh token


_STATUS = {
    Code.OK: 200,
    Code.TOO_MANY_REQUESTS: 429,
    Code.INTERNAL_ERROR: 500,
    Code.INVALID_PARAMETER: 400,
    Code.INVALID_PATH: 404,
    Code.INVALID_METHOD: 405,
    Code.INVALID_CONTENT_TYPE: 400,
    Code.INVALID_BODY: 400,
    Code.TOKEN_SHOP_MISMATCH: 403,
    Code.ACCESS_TOKEN_INVALID: 401,
    Code.ACCESS_TOKEN_EXPIRED: 401,
    Code.INVALID_SIGN: 401,
    Code.SHOP_CIPHER_MISSING: 400,
    Code.AUTH_INVALID_CODE: 400,
    Code.AUTH_INVALID_CLIENT: 400,
    Code.AUTH_INVALID_GRANT_TYPE: 400,
    Code.AUTH_INVALID_REFRESH_TOKEN: 400,
}


def http_status(code: int) -> int:
    """HTTP status for an error code; business errors not listed travel with HTTP 200."""
    return _STATUS.get(code, 200)


class ApiError(Exception):
    """A refusal: becomes the envelope `{code, message, request_id, data: null}`."""

    def __init__(self, code: int, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = http_status(code) if status is None else status
