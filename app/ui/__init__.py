"""ViralStock's desktop UI (PySide6, pyqtgraph). Only this package and app/main.py import Qt.

Public API for the composition root (app/main.py):

- `app.ui.bootstrap.start_ui(argv, data_dir, log_dir=None, theme=None) -> Ui | None`: app,
  single-instance guard, redacted rotating log, crash dialog, theme, main window. None: another
  instance owns `data_dir` and was brought to the front (exit 0). `Ui.shutdown()` at the end.
- Or piece by piece: `application.create_app`, `single_instance.SingleInstance`,
  `logging_setup.setup_logging`, `crash.CrashHandler` (`.install()`, `.asyncio_handler`),
  `theme.ThemeManager`, `main_window.MainWindow` (`--screenshot`: `desktop.DesktopApp`).
- Data in: `MainWindow.apply(viewmodel.DashboardViewModel)` on the main thread (coalesce to a
  few per second; charts repaint from one 10 Hz timer anyway), `MainWindow.show_progress(
  viewmodel.Progress | None)`.
- Signals out of `MainWindow`: `sku_settings_changed(str, SkuSettings)`,
  `defaults_changed(SkuSettings)`, `notifications_changed(NotificationPrefs)`,
  `resync_requested()`, `cancel_requested()`, `connect_requested()`, `quit_requested()`.
- Connect flow: `connect_dialog.ConnectDialog(relay_url, on_connect=async callback)`; the
  callback raises `ConnectError(ConnectFailure.X, detail)` for each failure kind (Qt-free types
  from `app.sync.connect_types`); `app.sync.connect_service.ConnectService(settings, store,
  now=...).connect` is that callback (vendor mode through the relay, or own app), with
  `authorization_link()` and a loopback catcher.
- Wiring (used by `app.main`): `desktop.run(args, sessions)` runs everything on one qasync
  loop, with the engines `app.main.desktop_sessions(data_dir)` builds (an
  `app.sync.desktop_sessions.DesktopSessions`); `controller.DashboardController(window, engine,
  shop_id)` carries the window's signals to the engine (`app.sync.commands`);
  `adapter.SnapshotAdapter` turns publisher changes into throttled view models
  (`app.sync.dashboard_data.load_dashboard_data`, then `mapping.build_viewmodel`, which puts
  that read's types into the view model as they are).

Qt objects die on the GUI thread only (`gui_gc`, issue #19). A cycle holding Qt wrappers freed
by Python's collector on a worker thread (the database pool, the relay client, an executor) runs
`QObject::~QObject` there; it takes a Qt mutex and waits for the GIL while the GUI thread, holding
the GIL, waits for that mutex: a deadlock nothing can interrupt. So `create_app` switches
automatic collection off and a GUI-thread timer collects what is due (pyqtgraph's pattern), and
code keeps most Qt objects out of cycles: parents own children (models are parented to their
views), dialogs and windows are `deleteLater()`-ed when done (the connect dialog on `finished`,
the window and theme in `Ui.shutdown`), hooks the interpreter keeps for a thread's life
(`threading.excepthook`) hold the crash handler only weakly, and no Qt object is handed to a
worker thread. The test suite applies the same rule in one fixture (tests/qt.py) and fails any
test that leaves Qt objects alive; `make soak` runs the live demo for ten minutes under a
scripted seller with a 2 s GUI-stall watchdog.

Layering (DESIGN.md, enforced by tests/test_layering.py): this package imports only `app.ui`,
`app.sync` and `app.insight`, and never httpx, SQLAlchemy or the keyring itself.
"""
