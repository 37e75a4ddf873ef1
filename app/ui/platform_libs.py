"""Can Qt open a window here? Checked before Qt is imported, without importing it.

On a bare Linux desktop Qt's xcb platform plugin fails to load for want of a system library
(`libxcb-cursor0` on most fresh Debian and Ubuntu installs since Qt 6.5) and Qt aborts with a
message about plugins that names none of them. This module asks the dynamic loader for each
library the plugins need (the real `dlopen`, so it sees exactly what Qt would) and says, in one
line, which are missing and how to install them on Debian/Ubuntu and Fedora.

Pure standard library: app/main.py calls it before importing app.ui.desktop, and the
self-test (app/ui/desktop.py) reports it too.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "WAYLAND_LIBS",
    "XCB_LIBS",
    "PlatformCheck",
    "check_platform",
    "missing_libraries",
    "window_check",
]

# soname -> (Debian/Ubuntu package, Fedora package). The xcb list is the DT_NEEDED of
# PySide6's libqxcb.so and libQt6XcbQpa.so.6 plus the non-Qt needs of libQt6Gui.so.6.
XCB_LIBS: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}
WAYLAND_LIBS: dict[str, tuple[str, str]] = {
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}
# Platforms that draw without a display server: nothing to check.
_HEADLESS = {"offscreen", "minimal", "vnc", "linuxfb", "eglfs", "vkkhrdisplay", "minimalegl"}


def missing_libraries(sonames: Iterable[str]) -> list[str]:
    """The sonames the dynamic loader cannot load, in the order given."""
    missing: list[str] = []
    for soname in sonames:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


@dataclass(frozen=True)
class PlatformCheck:
    """Which Qt platform would be used, and which of its libraries are missing."""

    platform: str
    missing: tuple[str, ...]
    has_display: bool

    @property
    def ok(self) -> bool:
        return not self.missing

    def message(self) -> str:
        """One line: what is missing and the commands that install it."""
        if not self.missing:
            return f"Qt platform {self.platform}: all libraries present"
        table = WAYLAND_LIBS if self.platform == "wayland" else XCB_LIBS
        debian = sorted({table[name][0] for name in self.missing if name in table})
        fedora = sorted({table[name][1] for name in self.missing if name in table})
        return (
            f"viralstock: Qt cannot open a window ({self.platform}): missing "
            f"{', '.join(self.missing)}; install with `sudo apt install {' '.join(debian)}` "
            f"(Debian/Ubuntu) or `sudo dnf install {' '.join(fedora)}` (Fedora)"
        )


def _platform(env: Mapping[str, str]) -> str:
    """The platform Qt will try: QT_QPA_PLATFORM's first choice, else Wayland in a Wayland
    session (Qt 6's default there), else xcb."""
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip().lower()
    if chosen:
        return chosen
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return "wayland"
    return "xcb"


def check_platform(env: Mapping[str, str]) -> PlatformCheck | None:
    """The check for a window on this machine with environment `env`; None where there is
    nothing to check (not Linux, or a platform that needs no display server)."""
    if not sys.platform.startswith("linux"):
        return None
    platform = _platform(env)
    if platform in _HEADLESS:
        return None
    has_display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if platform == "wayland":
        missing = missing_libraries(WAYLAND_LIBS)
        if not missing:
            return PlatformCheck("wayland", (), has_display)
        # Qt falls back to xcb (XWayland) when the Wayland plugin cannot load.
        xcb = missing_libraries(XCB_LIBS)
        if not xcb:
            return PlatformCheck("xcb", (), has_display)
        return PlatformCheck("wayland", tuple(missing), has_display)
    if platform != "xcb":
        return None
    return PlatformCheck("xcb", tuple(missing_libraries(XCB_LIBS)), has_display)


def window_check(env: Mapping[str, str]) -> PlatformCheck | None:
    """What `check_platform` says about opening a real window, even when this run draws
    offscreen (the self-test, screenshots): a headless QT_QPA_PLATFORM is ignored."""
    chosen = _platform(env)
    if chosen in _HEADLESS:
        env = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}
    return check_platform(env)
