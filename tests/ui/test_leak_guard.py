"""The suite's Qt guard fails a test that leaves Qt objects alive, and names them (issue #19)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

LEAKY = """
from PySide6.QtCore import QObject, QTimer

KEPT = []


def test_keeps_a_timer(qapp):
    timer = QTimer()
    timer.setObjectName("forgotten")
    KEPT.append(timer)


def test_parents_its_objects(qapp):
    QObject(qapp).deleteLater()
"""


def test_a_test_that_leaks_qt_objects_fails_naming_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    # Registered the way tests/conftest.py does it, so its `qapp` overrides pytest-qt's.
    pytester.makeconftest('pytest_plugins = ["tests.qt"]')
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*1 Qt object(s) outlived the test*QTimer 'forgotten'*"])
