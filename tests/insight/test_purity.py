"""app/insight stays pure: stdlib and numpy only, and no clock reads (DESIGN.md 1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import app.insight

ROOT = Path(app.insight.__file__).parent
ALLOWED = set(sys.stdlib_module_names) | {"numpy", "app"}
FORBIDDEN_CALLS = {"time", "monotonic", "perf_counter", "now", "utcnow", "today", "open"}


def test_imports_are_stdlib_numpy_or_insight() -> None:
    for path in ROOT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED, f"{path.name} imports {name}"
                if top == "app":
                    assert name.startswith("app.insight"), f"{path.name} imports {name}"
                assert top not in {"time", "datetime", "socket", "sqlite3"}, path.name


def test_no_clock_or_file_access() -> None:
    for path in ROOT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}()"
