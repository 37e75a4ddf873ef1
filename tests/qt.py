"""Qt fixtures shared by the UI and desktop suites: offscreen Qt configured as in production,
QSettings in a temporary folder, a theme, and a qasync loop bridged onto the running Qt app.

`tests/conftest.py` registers this module as a plugin, so its autouse fixture
`qt_objects_die_on_the_gui_thread` runs around every test of every suite: once Qt is up, the
cyclic collector is driven from the main thread only (the app's rule, `app.ui.gui_gc`), and a
test that leaves Qt objects alive past its end fails, naming them (issue #19)."""

from __future__ import annotations

import asyncio
import gc
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings
from PySide6.QtWidgets import QApplication

from app.ui.application import create_app
from app.ui.gui_gc import collect_due
from app.ui.theme import ThemeManager, ThemeMode


@pytest.fixture(scope="session")
def qapp_cls() -> type[QApplication]:
    return QApplication


@pytest.fixture(scope="session")
def qapp(qapp_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> QApplication:
    """The app configured as in production, with QSettings in a temporary folder."""
    settings_dir = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    return create_app(qapp_args)


@pytest.fixture
def settings(tmp_path: Path, qapp: QApplication) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def theme(qapp: QApplication, settings: QSettings) -> Iterator[ThemeManager]:
    manager = ThemeManager(qapp, settings)
    manager.set_mode(ThemeMode.DARK)  # offscreen reports Unknown: pick explicitly
    yield manager
    manager.close()


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop over the running Qt app (pytest-qt has no asyncio hook)."""
    event_loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    pending = [task for task in asyncio.all_tasks(event_loop) if not task.done()]
    for task in pending:
        task.cancel()
    # Let the cancellations run: a cancelled task that never ran again keeps its coroutine's
    # frame, and with it whatever the test's app held (its window, its loop), alive past the
    # test, which the leak check below reports (seen only when a retry was sleeping at quit).
    deadline = time.monotonic() + 5.0
    while any(not task.done() for task in pending) and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.005)
    # `already_running=True` registered this loop as the thread's running loop; unregister it,
    # or every later asyncio test in the session finds "another loop is running".
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    # close() joins the default executor's QThreads (before Qt goes away) and releases the
    # loop's timer, signaller and socket notifiers; without it they stay alive through signal
    # connections that C++ holds and gc cannot see. `stop()` would call QApplication.exit(),
    # so only qasync's own "running" flag is cleared.
    event_loop._QEventLoop__is_running = False
    event_loop.close()


# Objects Qt creates once per process on first use and owns itself; they are not a test's leak.
PROCESS_WIDE = frozenset(
    {"QApplication", "QScreen", "QStyle", "QCommonStyle", "QFusionStyle", "QClipboard"}
)


def _live_qobjects() -> dict[int, QObject]:
    wrappers = shiboken6.Shiboken.getAllValidWrappers()
    return {id(w): w for w in wrappers if isinstance(w, QObject)}


def _describe(obj: QObject) -> str:
    name = obj.objectName()
    parent = obj.parent()
    owner = f" child of {type(parent).__name__}" if parent is not None else ""
    return f"{type(obj).__name__}{f' {name!r}' if name else ''}{owner}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember a failed call: its traceback keeps the test's objects alive on purpose."""
    report = yield
    if report.when == "call" and report.failed:
        item.qt_call_failed = True  # type: ignore[attr-defined]
    return report


@pytest.fixture(autouse=True)
def qt_objects_die_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collect on the main thread after every test; fail a Qt test that leaks Qt objects.

    Non-Qt tests only get the cheap "collect what is due" (automatic collection is off once
    Qt is up, and their worker threads must never collect a leftover Qt wrapper)."""
    uses_qt = "qapp" in request.fixturenames
    before = set(_live_qobjects()) if uses_qt else set()
    yield
    if QApplication.instance() is None:
        return
    if gc.isenabled():
        gc.disable()
        pytest.fail(
            "automatic garbage collection was switched back on while Qt is up: a worker thread "
            "could now free Qt objects (issue #19); restore gc's previous state instead",
            pytrace=False,
        )
    if not uses_qt:
        collect_due()
        return
    if getattr(request.node, "qt_call_failed", False):
        gc.collect()  # the failure's traceback holds the test's objects: report that instead
        return
    # pytest keeps the test's fixture values until after teardown; every function-scoped one
    # has been torn down by now (this fixture is set up first, so it is torn down last).
    request.node.funcargs.clear()
    # deleteLater() posts DeferredDelete; deliver it, then free the cycles, on this thread.
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()
        gc.collect()
    leaked = [
        obj
        for key, obj in _live_qobjects().items()
        if key not in before and type(obj).__name__ not in PROCESS_WIDE
    ]
    if leaked:
        kinds = Counter(_describe(obj) for obj in leaked)
        del leaked
        listing = ", ".join(f"{n} x {kind}" if n > 1 else kind for kind, n in kinds.most_common())
        pytest.fail(
            f"{kinds.total()} Qt object(s) outlived the test (parent them, deleteLater() them, "
            f"or close what you opened): {listing}",
            pytrace=False,
        )
