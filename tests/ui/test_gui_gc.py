"""Qt objects in garbage cycles die on the GUI thread, never on a worker (issue #19).

The deadlock this prevents needs a worker thread to start a collection that frees a Qt wrapper;
these tests build exactly that situation with real threads and real allocation pressure."""

from __future__ import annotations

import gc
import threading

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.ui import gui_gc
from app.ui.gui_gc import INTERVAL_MS, GuiThreadCollector, collect_all, collect_due


class Finalized(QObject):
    """Records which thread freed its wrapper."""

    freed_on: list[int]

    def __del__(self) -> None:
        self.freed_on.append(threading.get_ident())


def _orphaned_cycle(freed_on: list[int]) -> None:
    obj = Finalized()
    obj.freed_on = freed_on
    obj.me = obj  # type: ignore[attr-defined]  # a cycle only the collector can free


def _churn_on_worker() -> None:
    """Allocate far past every generation's threshold, on a non-GUI thread."""

    def work() -> None:
        junk: list[object] = []
        for _ in range(50_000):
            pair: list[object] = []
            pair.append(pair)
            junk.append(pair)
            if len(junk) > 1_000:
                junk.clear()

    worker = threading.Thread(target=work, name="viralstock-db-read")
    worker.start()
    worker.join()


def test_creating_the_app_hands_collection_to_the_gui_thread(qapp: QApplication) -> None:
    assert qapp.findChild(GuiThreadCollector) is not None
    assert not gc.isenabled()


def test_a_worker_allocating_never_frees_qt_objects_the_gui_timer_does(
    qapp: QApplication, qtbot: QtBot
) -> None:
    gc.collect()
    freed_on: list[int] = []
    _orphaned_cycle(freed_on)
    _churn_on_worker()
    assert freed_on == [], "a worker thread collected a Qt wrapper"
    # Make generation 2 due, as a long-running app would, and let the GUI timer run.
    for _ in range(gc.get_threshold()[0] * 12):
        pair: list[object] = []
        pair.append(pair)
    qtbot.waitUntil(lambda: bool(freed_on), timeout=max(10_000, INTERVAL_MS * 20))
    assert freed_on == [threading.main_thread().ident]


def test_a_full_collection_waits_until_enough_objects_live_long(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPython's rule for the oldest generation: once a full collection has walked a big
    heap, the next waits until a quarter as many objects again have moved into the oldest
    generation; short-lived garbage alone only ever costs young collections. And never two
    full collections within `FULL_SPACING_S`."""
    monkeypatch.setattr(gui_gc, "FULL_SPACING_S", 0.0)
    heap: list[list[object]] = [[] for _ in range(100_000)]  # what a shop open for hours holds
    collect_all()
    total = len(gc.get_objects(generation=2))  # the heap, the test process's own included
    generations: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    def churn(rounds: int) -> None:
        for _ in range(rounds):
            for _ in range(gc.get_threshold()[0] + 100):
                pair: list[object] = []
                pair.append(pair)
            collect_due()

    gc.callbacks.append(seen)
    try:
        churn(400)  # far past the oldest generation's count threshold, nothing kept
        assert generations.count(1) >= 20 and 2 not in generations
        kept: list[list[object]] = [
            [] for _ in range(total // 4 + 5_000)
        ]  # now a quarter more lives on
        monkeypatch.setattr(gui_gc, "FULL_SPACING_S", 3600.0)
        churn(400)
        assert 2 not in generations, "a full collection within the spacing"
        monkeypatch.setattr(gui_gc, "FULL_SPACING_S", 0.0)
        churn(400)
        assert 2 in generations
    finally:
        gc.callbacks.remove(seen)
    assert len(kept) > total // 4 and len(heap) == 100_000
