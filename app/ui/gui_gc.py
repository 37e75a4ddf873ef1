"""Python's cyclic garbage collector runs on the GUI thread only, while Qt is alive.

Why: automatic collection starts on whichever thread happens to allocate when a generation's
threshold is crossed: a `viralstock-db-read` worker, the relay client, any executor. If that
collection frees a cycle holding Qt wrappers, `QObject::~QObject` runs on the worker: it takes a
Qt mutex and then, for a Python-overridden virtual, waits for the GIL. Meanwhile the GUI thread,
holding the GIL, destroys another QObject and waits for the same mutex: a deadlock no timeout
can interrupt (issue #19, seen hanging CI).

The rule chosen (the same one pyqtgraph ships as `GarbageCollector`): when the QApplication is
created, automatic collection is switched off for the process, and a timer on the GUI thread
collects whatever generations are due, with the same thresholds Python itself would use. Every
cycle is then freed where Qt expects its objects to die. Code still owns its part: parents own
children, closed dialogs are `deleteLater()`-ed, and no lambda capturing a widget is connected to
a long-lived signal, so most Qt objects never wait for the collector at all. Qt objects are never
handed to worker threads, so no reference count reaches zero off the GUI thread either.

`collect_due()` is the one function that decides what is due; the test suite calls it after every
test (tests/qt.py), so no Qt object survives into a later test's threads. The oldest generation
follows CPython's own rule for it (`_LongLived`), so a big shop's heap is walked rarely.
"""

from __future__ import annotations

import gc
import math
import time

from PySide6.QtCore import QObject, QThread, QTimer

__all__ = ["FULL_SPACING_S", "INTERVAL_MS", "GuiThreadCollector", "collect_all", "collect_due"]

# Short enough that a collection of the young generation stays well inside a frame under a
# storm (at 500 ms it found ~7 ms of young objects to walk, in one frame of every thirty),
# long enough that an idle app does nothing: one `gc.get_count()` per tick costs well under a
# microsecond.
INTERVAL_MS = 100
# At most one full collection from `collect_due` this often (seconds): the pace the GUI thread
# had at a 500 ms tick. Why a floor on top of the rule: `pending` over-counts (below), and
# under a storm the young objects that outlive a generation-1 collection (results, view
# models, responses in flight) let the rule pass every ~15 s at a 100 ms tick, four times as
# many ~120 ms pauses as before (measured: 8 against 2 in two minutes).
FULL_SPACING_S = 60.0


class _LongLived:
    """What CPython's own trigger knows and `gc` does not expose: how many objects the last
    full collection left (`total`) and how many younger collections moved into the oldest
    generation since (`pending`). CPython skips a due full collection while pending is under a
    quarter of total, so a big heap is not walked again and again (its cost grows with the
    heap: ~130 ms for the big shop under a storm; bpo-4074). Without the rule the GUI thread
    made a full collection every eleventh generation-1 collection, whatever the heap.

    `pending` counts every young object a generation-1 collection did not free, tuples that
    CPython untracks there included: an upper bound, so a full collection never comes later
    than CPython's would. `total` is counted exactly (`gc.get_objects`), which walks the heap
    once more after each full collection (~15-25 ms for a million objects, against ~100 for
    the collection): an estimate would drift with every old object freed by its count."""

    total = 0
    pending = 0
    last_full = -math.inf  # time.monotonic() of the last full collection


def collect_due() -> int:
    """Collect the oldest generation whose threshold is crossed, as Python's own trigger would
    (with its rule for the oldest generation, `_LongLived`, and at most one full collection
    per `FULL_SPACING_S`).

    Returns the number of unreachable objects found (0 when nothing was due).
    """
    counts = gc.get_count()
    thresholds = gc.get_threshold()
    for generation in (2, 1, 0):
        threshold = thresholds[generation]
        if not threshold or counts[generation] <= threshold:
            continue
        if generation == 2:
            if (
                _LongLived.pending < _LongLived.total // 4
                or time.monotonic() - _LongLived.last_full < FULL_SPACING_S
            ):
                continue  # as CPython does: a younger generation may be due instead
            return collect_all()
        if generation == 1:
            young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
            found = gc.collect(1)
            _LongLived.pending += max(0, young - found)  # the survivors moved up
            return found
        return gc.collect(0)
    return 0


def collect_all() -> int:
    """A full collection, and the count of what it left for `collect_due`'s rule."""
    found = gc.collect()
    _LongLived.total = len(gc.get_objects(generation=2))
    _LongLived.pending = 0
    _LongLived.last_full = time.monotonic()
    return found


class GuiThreadCollector(QObject):
    """Owns the switch-off of automatic collection and the GUI-thread timer that replaces it.

    Created by `app.ui.application.create_app`, parented to the QApplication, so it lives exactly
    as long as Qt does. It refuses to start on any thread but the GUI thread.
    """

    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        if QThread.currentThread() != parent.thread():
            raise RuntimeError("the garbage collector must be driven from the GUI thread")
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(collect_due)
        self._timer.start()

    def collect_now(self) -> int:
        """A full collection on the GUI thread (on quit, or before measuring memory)."""
        return collect_all()
