"""DESIGN.md's layering, enforced: Qt only in app/ui and app/main.py, arrows point down."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "qasync", "pyqtgraph", "shiboken6")
HEADLESS = ["app/tiktok", "app/insight", "app/store", "app/sync", "app/sandbox", "relay"]

# Which first-party packages each layer may import (DESIGN.md section 1).
ALLOWED = {
    "app/tiktok": {"app.tiktok"},
    "app/insight": {"app.insight"},
    # The store keeps insight's value types as they are (settings in hours, the history's
    # columns), never a copy.
    "app/store": {"app.store", "app.tiktok", "app.insight.types", "app.insight.history"},
    "app/sync": {"app.sync", "app.store", "app.insight", "app.tiktok"},
    "app/sandbox": {"app.sandbox", "app.tiktok"},
    "relay": {"relay", "app.tiktok"},
    # "Reads state, never talks HTTP or SQL itself": sync's published state, insight's types.
    # The one redactor is the protocol's (it knows which names are secrets): the log file and
    # the crash dialog use it directly rather than through a re-export.
    "app/ui": {"app.ui", "app.sync", "app.insight", "app.tiktok.redact"},
}
# Libraries that mean talking HTTP, SQL or the keyring: the UI leaves them to app/sync.
UI_FORBIDDEN = ("httpx", "sqlalchemy", "sqlite3", "keyring", "websockets", "redis")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", HEADLESS)
def test_no_qt_below_the_ui(folder: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources(folder)
        for name in _imports(path)
        if name.split(".")[0] in QT
    ]
    assert offenders == []


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_arrows_point_down(folder: str) -> None:
    allowed = ALLOWED[folder]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources(folder)
        for name in _imports(path)
        if name.split(".")[0] in {"app", "relay"}
        and not any(name == ok or name.startswith(ok + ".") for ok in allowed)
    ]
    assert offenders == []


def test_the_ui_talks_no_http_or_sql_itself() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("app/ui")
        for name in _imports(path)
        if name.split(".")[0] in UI_FORBIDDEN
    ]
    assert offenders == []


def test_the_ui_is_checked_at_all() -> None:
    """The rule above and the arrows for app/ui must have files to look at."""
    assert len(_sources("app/ui")) > 10
    assert "app/ui" in ALLOWED


def test_headless_packages_do_not_load_qt_at_runtime() -> None:
    """Catches what the static check cannot: a Qt import pulled in through another module."""
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for folder in HEADLESS
        for path in _sources(folder)
        if path.name != "__main__.py"
    )
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {QT!r})\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_check_would_catch_a_qt_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from PySide6.QtCore import QObject\nimport app.ui.main_window\n")
    assert _imports(sample) == ["PySide6.QtCore", "app.ui.main_window"]


def test_queries_live_in_the_store() -> None:
    """The sync layer asks the store's named functions; it builds no SQL and reads no table
    class itself (a session is only passed through, hence `sqlalchemy.orm` for its type)."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("app/sync")
        for name in _imports(path)
        if name == "app.store.schema"
        or (name.split(".")[0] == "sqlalchemy" and name != "sqlalchemy.orm")
    ]
    assert offenders == []
