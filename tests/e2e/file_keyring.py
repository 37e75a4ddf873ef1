"""A keyring backend that keeps its secrets in one JSON file named by `VIRALSTOCK_TEST_KEYRING`
(tests only).

A subprocess cannot share the in-memory backend of `tests/desktop/conftest.py`, and CI has no
Secret Service; `keyring` loads a backend named by `PYTHON_KEYRING_BACKEND`, so a test points
that at `tests.e2e.file_keyring.FileKeyring` and the real `viralstock sync` reads the tokens a
real connect stored. The file lives in the test's temporary folder; never use it for real secrets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jaraco.classes import properties
from keyring.backend import KeyringBackend

ENV = "VIRALSTOCK_TEST_KEYRING"
BACKEND = "tests.e2e.file_keyring.FileKeyring"


class FileKeyring(KeyringBackend):
    """`service/username -> secret` in the JSON file at `$VIRALSTOCK_TEST_KEYRING`."""

    @properties.classproperty
    def priority(cls) -> float:
        # keyring considers every backend class imported in a process: without the file
        # named this one is not viable (other tests in the same process keep theirs).
        if ENV not in os.environ:
            raise RuntimeError(f"{ENV} is not set")
        return 1.0

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.path = path if path is not None else Path(os.environ[ENV])

    def _items(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        items: dict[str, str] = json.loads(self.path.read_text())
        return items

    def _save(self, items: dict[str, str]) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(items))
        partial.replace(self.path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._items().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        items = self._items()
        items[f"{service}/{username}"] = password
        self._save(items)

    def delete_password(self, service: str, username: str) -> None:
        items = self._items()
        items.pop(f"{service}/{username}", None)
        self._save(items)
