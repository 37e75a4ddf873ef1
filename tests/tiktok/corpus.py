"""The fixture corpus (tests/tiktok/fixtures/) and the exact leaf-by-leaf comparison.

Every fixture is a payload shaped as TikTok documents it: `api/*.json` hold the `data` object
of each response the client parses, built from TikTok's API reference data (every documented
response field, with its documented example value and type); `webhooks/*.json` hold one body
per webhook topic, written from the topic pages' parameter tables and examples. The webhook
bodies are kept as raw text so that big ids written as JSON numbers stay numbers.

`unaccounted` walks the raw JSON and returns every leaf that is neither equal to the parsed
model's value at the same path (exactly: ids as their decimal text, money as the decimal
string, timestamps as integer seconds) nor on the payload's documented ignore list. A field
that parses but is silently lost is therefore a test failure, as is a modelled field whose
value changed on the way.
"""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.tiktok.models import loads

FIXTURES = Path(__file__).parent / "fixtures"

__all__ = ["FIXTURES", "api_fixture", "unaccounted", "webhook_fixture"]


def api_fixture(name: str) -> dict[str, Any]:
    """The documented `data` object of one endpoint, decoded with exact numbers."""
    doc: dict[str, Any] = loads((FIXTURES / "api" / f"{name}.json").read_bytes())
    data: dict[str, Any] = doc["data"]
    return data


def webhook_fixture(kind: int) -> bytes:
    """The raw body of one webhook topic, exactly as TikTok would POST it (compact JSON)."""
    raw = (FIXTURES / "webhooks" / f"{kind}.json").read_bytes()
    return json.dumps(loads(raw), separators=(",", ":"), ensure_ascii=False).encode()


def _same(raw: Any, parsed: Any) -> bool:
    if isinstance(parsed, enum.Enum):
        parsed = parsed.value
    if isinstance(raw, bool) or isinstance(parsed, bool):
        return type(raw) is type(parsed) and raw == parsed
    if raw is None:
        return parsed is None
    if isinstance(raw, int):
        if isinstance(parsed, str):  # an id sent as a JSON number: its exact decimal text
            return parsed == str(raw)
        return isinstance(parsed, int | Decimal) and parsed == raw and type(parsed) is not float
    if isinstance(raw, Decimal):
        return isinstance(parsed, Decimal) and parsed == raw
    if isinstance(raw, str):
        if isinstance(parsed, Decimal):  # money: the same decimal text, digit for digit
            return str(parsed) == raw
        return isinstance(parsed, str) and parsed == raw
    return False


def _child(parsed: Any, key: str) -> tuple[bool, Any]:
    if isinstance(parsed, BaseModel):
        if key in type(parsed).model_fields:
            return True, getattr(parsed, key)
        return False, None
    if isinstance(parsed, dict) and key in parsed:
        return True, parsed[key]
    return False, None


def _ignored(path: str, ignore: frozenset[str]) -> bool:
    return any(
        path == entry or path.startswith(entry + ".") or path.startswith(entry + "[]")
        for entry in ignore
    )


def unaccounted(raw: Any, parsed: Any, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Leaf paths of `raw` (list items as `[]`) lost or changed in `parsed`, minus `ignore`."""
    problems: list[str] = []

    def walk(value: Any, model: Any, path: str, present: bool) -> None:
        if _ignored(path.lstrip("."), ignore):
            return
        if isinstance(value, dict):
            if not value and not present:
                problems.append(f"{path.lstrip('.')}: not modelled")
            for key, inner in value.items():
                found, sub = _child(model, key) if present else (False, None)
                walk(inner, sub, f"{path}.{key}", found)
        elif isinstance(value, list):
            items = model if present and isinstance(model, list | tuple) else []
            if present and len(items) != len(value):
                problems.append(f"{path.lstrip('.')}: {len(value)} items became {len(items)}")
                return
            if not value and not present:
                problems.append(f"{path.lstrip('.')}: not modelled")
            for index, inner in enumerate(value):
                sub = items[index] if present else None
                walk(inner, sub, f"{path}[]", present)
        elif not present:
            problems.append(f"{path.lstrip('.')}: not modelled")
        elif not _same(value, model):
            problems.append(f"{path.lstrip('.')}: {value!r} parsed as {model!r}")

    walk(raw, parsed, "", True)
    return sorted(set(problems))
