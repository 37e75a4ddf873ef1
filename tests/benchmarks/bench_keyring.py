"""A keyring backend for benchmark subprocesses only: secrets in a JSON file.

`bench_bigshop` starts `python -m app` on a stored shop, which reads its (fake, sandbox-style)
tokens from the keyring; a headless machine has none. The child selects this class with
`PYTHON_KEYRING_BACKEND=tests.benchmarks.bench_keyring.FileKeyring` and
`VIRALSTOCK_BENCH_KEYRING=<file>`. Never used by the app or the tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend

ENV = "VIRALSTOCK_BENCH_KEYRING"


class FileKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def _path(self) -> Path:
        return Path(os.environ[ENV])

    def _items(self) -> dict[str, str]:
        path = self._path()
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._items().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        items = self._items()
        items[f"{service}\n{username}"] = password
        self._path().write_text(json.dumps(items))

    def delete_password(self, service: str, username: str) -> None:
        items = self._items()
        items.pop(f"{service}\n{username}", None)
        self._path().write_text(json.dumps(items))
