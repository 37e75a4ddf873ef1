"""The composition root: command line and wiring (DESIGN.md section 1).

Headless parts live here; the Qt desktop (`viralstock`, `viralstock --demo`, `--screenshot`,
`--self-test`) runs in `app.ui.desktop`, which gets its engines from a `DesktopSessions` built
here (`desktop_sessions`: data folder, connection settings from the environment, the demo
world). This module is the only place that starts the sandbox and the relay in-process for the
demo, because it is the only one allowed to know every part.

    viralstock --demo --headless --run-for SECONDS --report PATH [--demo-speed X] [--seed N]
               [--sandbox-truth PATH] [--data-dir DIR]
    viralstock [--demo] [--theme dark|light] [--data-dir DIR]
    viralstock --screenshot PATH --run-for SECONDS [--theme dark|light]
    viralstock --self-test
    viralstock sync [--data-dir DIR] [--relay URL] [--run-for SECONDS] [--report PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.tiktok.hosts import AUTH_BASE_URL, AUTHORIZE_URL, OPEN_API_BASE_URL

if TYPE_CHECKING:
    from app.sync.connect_service import ConnectSettings
    from app.sync.desktop_sessions import DesktopSessions
    from app.sync.headless import DemoWorld

__all__ = [
    "build_parser",
    "connect_settings",
    "demo_world",
    "desktop_sessions",
    "main",
    "prepare_process",
]

DEFAULT_RELAY_URL = "https://relay.viralstock.app"
DEMO_SPEED = 60.0
QUICK_DEMO_SPEED = 600.0


def _window_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 1280x720, not {text!r}"
        ) from None
    if width < 320 or height < 240:
        raise argparse.ArgumentTypeError(f"{text} is too small for a window")
    return width, height


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="viralstock",
        description="Live stock, sales velocity and viral-video alerts for TikTok Shop sellers.",
    )
    parser.add_argument("--demo", action="store_true", help="run on a simulated shop")
    parser.add_argument("--headless", action="store_true", help="no window: run and report")
    parser.add_argument("--run-for", type=float, metavar="SECONDS", help="stop after this long")
    parser.add_argument("--report", type=Path, metavar="PATH", help="write a JSON report here")
    parser.add_argument(
        "--demo-speed",
        type=float,
        default=None,
        metavar="X",
        help="simulated seconds per real second (default 60; 600 for --screenshot/--self-test)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="N", help="demo scenario seed")
    parser.add_argument(
        "--scenario",
        default="viral",
        metavar="NAME",
        help="demo sandbox scenario: steady, viral (default), lognormal, gamma, plateau, "
        "powerlaw or fizzle (the forecast's demand-curve shapes)",
    )
    parser.add_argument(
        "--sandbox-truth",
        type=Path,
        metavar="PATH",
        help="the demo sandbox writes its ground truth here",
    )
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="where the database lives")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PATH",
        help="run the demo for --run-for seconds, save the main window as PNG, exit",
    )
    parser.add_argument(
        "--theme", choices=("dark", "light"), help="theme for this run (default: remembered)"
    )
    parser.add_argument(
        "--size",
        type=_window_size,
        default=(1440, 960),
        metavar="WxH",
        help="window size for --screenshot (default 1440x960; the smallest supported is 1024x680)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="offscreen demo, check database, sandbox, relay and charts, exit 0 or 1",
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="show the authorization link without opening a browser",
    )
    sub = parser.add_subparsers(dest="command")
    sync = sub.add_parser("sync", help="sync the connected shops headless (stored credentials)")
    sync.add_argument("--data-dir", type=Path, metavar="DIR", dest="sync_data_dir")
    sync.add_argument("--relay", default=os.environ.get("VIRALSTOCK_RELAY_URL", DEFAULT_RELAY_URL))
    sync.add_argument(
        "--api-base", default=os.environ.get("VIRALSTOCK_TIKTOK_API", OPEN_API_BASE_URL)
    )
    sync.add_argument("--run-for", type=float, metavar="SECONDS", dest="sync_run_for")
    sync.add_argument("--report", type=Path, metavar="PATH", dest="sync_report")
    return parser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def demo_world(
    *,
    seed: int = 1,
    speed: float = 60.0,
    relay_dir: Path | None = None,
    scenario: str = "viral",
    **sandbox: object,
) -> Iterator[DemoWorld]:
    """Sandbox (viral scenario) and relay in-process on loopback, wired to each other.

    The relay's port is chosen first because the sandbox needs the webhook URL at start and
    the relay needs the sandbox's URL for OAuth and pairing. Yields an `app.sync.headless.
    DemoWorld`; `.sandbox` and `.relay` are attached for tests.
    """
    from app.sandbox import SandboxConfig, run_sandbox
    from app.sync.headless import DemoWorld
    from relay.config import RelayConfig
    from relay.server import run_relay

    port = _free_port()
    with contextlib.ExitStack() as stack:
        folder = relay_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="viralstock-demo-"))
        )
        config = SandboxConfig(
            seed=seed,
            scenario=scenario,  # type: ignore[arg-type]  # SandboxConfig validates it
            speed=speed,
            webhook_url=f"http://127.0.0.1:{port}/webhooks/tiktok",
            **sandbox,  # type: ignore[arg-type]
        )
        box = stack.enter_context(run_sandbox(config))
        relay_config = RelayConfig(
            db=str(folder / "relay.sqlite3"),
            host="127.0.0.1",
            port=port,
            app_key=box.app_key,
            app_secret=box.app_secret,
            tiktok_api=box.base_url,
            tiktok_auth=box.base_url,
            sqlite_sync="NORMAL",
            log_level="WARNING",
            sign_rate=10_000.0,
            sign_burst=10_000.0,
        )
        relay = stack.enter_context(run_relay(relay_config))
        world = DemoWorld(
            api_base_url=box.base_url,
            relay_base_url=relay.base_url,
            relay_stream_url=relay.ws_url,
            app_key=box.app_key,
            authorize_code=box.authorize_code,
            now=box.clock.now,
            stop_clock=box.clock.pause,
            write_truth=box.write_truth,
            speed=speed,
            qps=config.qps,
        )
        world.sandbox = box  # type: ignore[attr-defined]
        world.relay = relay  # type: ignore[attr-defined]
        world.relay_config = relay_config  # type: ignore[attr-defined]
        yield world


def _demo_headless(args: argparse.Namespace) -> int:
    from app.sync.headless import DemoOptions, run_demo

    if args.run_for is None or args.report is None:
        print(
            "viralstock: --demo --headless needs --run-for SECONDS and --report PATH",
            file=sys.stderr,
        )
        return 2
    with contextlib.ExitStack() as stack:
        data_dir = args.data_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="viralstock-data-"))
        )
        with demo_world(seed=args.seed, speed=args.demo_speed, scenario=args.scenario) as world:
            options = DemoOptions(args.run_for, args.report, data_dir, args.sandbox_truth)
            asyncio.run(run_demo(world, options))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from app.sync.headless import StoredOptions, run_stored

    folder = args.sync_data_dir or args.data_dir
    if folder is not None and (problem := data_dir_problem(folder)) is not None:
        print(problem, file=sys.stderr)
        return 2
    options = StoredOptions(
        data_dir=args.sync_data_dir or args.data_dir,
        relay_url=args.relay,
        api_base_url=args.api_base,
        app_key=os.environ.get("VIRALSTOCK_APP_KEY", ""),
        run_for=args.sync_run_for if args.sync_run_for is not None else args.run_for,
        report=args.sync_report or args.report,
    )
    try:
        return asyncio.run(run_stored(options))
    except KeyboardInterrupt:
        return 130


# --- the desktop -------------------------------------------------------------------------------


def connect_settings() -> ConnectSettings:
    """Where TikTok and the relay are, from the environment (the sandbox in tests and demo)."""
    from app.sync.connect_service import ConnectSettings

    env = os.environ.get
    return ConnectSettings(
        relay_url=env("VIRALSTOCK_RELAY_URL", DEFAULT_RELAY_URL),
        app_key=env("VIRALSTOCK_APP_KEY", ""),
        service_id=env("VIRALSTOCK_SERVICE_ID", ""),
        authorize_url=env("VIRALSTOCK_TIKTOK_AUTHORIZE", AUTHORIZE_URL),
        auth_base_url=env("VIRALSTOCK_TIKTOK_AUTH", AUTH_BASE_URL),
        api_base_url=env("VIRALSTOCK_TIKTOK_API", OPEN_API_BASE_URL),
    )


def desktop_sessions(data_dir: Path) -> DesktopSessions:
    """Everything the desktop window runs on, wired: sessions on `data_dir` with the
    environment's endpoints and the demo world."""
    from app.sync.desktop_sessions import DesktopSessions

    return DesktopSessions(data_dir, connect_settings(), demo_world=demo_world)


def _desktop_data_dir(args: argparse.Namespace, stack: contextlib.ExitStack) -> Path:
    """--data-dir; a throwaway folder for the demo and the checks; else the user's data dir."""
    if args.data_dir is not None:
        path: Path = args.data_dir
    elif args.demo or args.screenshot is not None or args.self_test:
        path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="viralstock-demo-")))
    else:
        from app.store.db import default_data_dir

        path = default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir_problem(path: Path) -> str | None:
    """Why ViralStock cannot keep its database in `path` (missing and not creatable, or
    read-only), in one line for the user; None if it can. Checked by creating a file, since
    permission bits alone miss read-only mounts and immutable folders."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".viralstock-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return (
            f"viralstock: cannot write to the data folder {path} ({reason}); ViralStock keeps "
            "its database there. Choose a writable folder with --data-dir, or fix the "
            "folder's permissions."
        )
    return None


def _gui(args: argparse.Namespace) -> int:
    """The Qt desktop (app.ui.desktop), imported only here so headless runs never load Qt.

    First, without Qt: can it open a window here? A missing system library would otherwise
    abort inside Qt with a plugin message that names none of them. Then a knock on an instance
    already running on this data folder, before the sync engine and the window are imported."""
    from app.ui.platform_libs import check_platform

    if not (args.self_test or args.screenshot is not None):
        window = check_platform(os.environ)
        if window is not None and not window.ok:
            print(window.message(), file=sys.stderr)
            return 2
    with contextlib.ExitStack() as stack:
        try:
            data_dir = _desktop_data_dir(args, stack)
        except OSError:
            data_dir = args.data_dir
        problem = data_dir_problem(data_dir)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
        try:
            from app.ui.process import prepare_desktop_process

            prepare_desktop_process()  # before any thread and the window's imports (#15)
            if _already_running(data_dir):
                return 0
            desktop = importlib.import_module("app.ui.desktop")
        except ImportError as exc:  # Qt or its libraries missing: say so, not a traceback
            print(
                f"viralstock: the desktop UI cannot start ({exc}); use --demo --headless",
                file=sys.stderr,
            )
            return 2
        # Built once the window is on screen: the sessions import the sync engine (#15).
        later = desktop.SessionsLater(data_dir, functools.partial(desktop_sessions, data_dir))
        return int(desktop.run(args, later))


def _already_running(data_dir: Path) -> bool:
    """Knock on an instance already running on `data_dir` before loading the sync engine and
    the window (the knock is what a second launch is for; `start_ui` checks again, race-safe)."""
    from app.ui.single_instance import knock, server_name

    if not knock(server_name(data_dir)):
        return False
    print("viralstock: already running; brought the open window to the front")
    return True


# --- the command line --------------------------------------------------------------------------


def prepare_process() -> None:
    """The process-wide settings the TikTok client relies on, made once here rather than as
    side effects of importing or constructing it (tests and benchmarks call this too):

    - every log record is redacted at creation (`install_redaction`): httpx logs each request
      URL at INFO, with `sign=` and, at the own-app token endpoints, the app secret in it;
    - httpcore does `import sniffio` on every request (in a try/except) to learn the async
      library; without sniffio installed that failed import scans sys.path each time, ~0.4 ms
      of CPU per request, more than the rest of the client. Recording the absence once makes
      the import fail instantly, exactly as before, without the file-system walk.
    """
    from app.tiktok.redact import install_redaction

    install_redaction()
    if importlib.util.find_spec("sniffio") is None:
        sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    prepare_process()
    args = build_parser().parse_args(argv)
    if args.demo_speed is None:
        # Checks see minutes of a viral surge in seconds; a seller's demo runs at a calm pace.
        quick = args.screenshot is not None or args.self_test
        args.demo_speed = QUICK_DEMO_SPEED if quick and not args.headless else DEMO_SPEED
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "sync":
        return _sync(args)
    if args.demo and args.headless:
        return _demo_headless(args)
    if args.headless:
        print("viralstock: --headless without --demo: use `viralstock sync`", file=sys.stderr)
        return 2
    return _gui(args)


if __name__ == "__main__":
    sys.exit(main())
