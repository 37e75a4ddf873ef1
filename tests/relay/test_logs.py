"""The relay's JSON log lines go through the shared redactor (app/tiktok/redact.py): secret
fields, secret-looking field values and the message itself come out as `***`."""

from __future__ import annotations

import json
import logging

from relay.logs import JsonFormatter, redact_fields


def _line(msg: str, *args: object, **fields: object) -> dict[str, object]:
    record = logging.LogRecord("relay.test", logging.INFO, __file__, 1, msg, args, None)
    record.fields = fields
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_message_and_fields_are_masked() -> None:
    entry = _line(
        "GET %s failed",
        "https://auth.example/api/v2/token/get?app_key=k&app_secret=s3cr3tvalue&auth_code=abc123",
        token="vsr_abcdefghijkl",
        url="https://x.example/p?sign=deadbeef&a=1",
        shops=2,
    )
    text = json.dumps(entry)
    for secret in ("s3cr3tvalue", "abc123", "vsr_abcdefghijkl", "deadbeef"):
        assert secret not in text
    assert "app_secret=***" in str(entry["msg"])
    assert entry["token"] == "***"
    assert entry["url"] == "https://x.example/p?sign=***&a=1"
    assert entry["shops"] == 2
    assert "[redacted]" not in text


def test_ordinary_fields_pass_unchanged() -> None:
    fields = {"reason": "rate_limited", "status": 429, "ip": "127.0.0.1", "rows": 3}
    assert redact_fields(fields) == fields
