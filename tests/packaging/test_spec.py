"""The PyInstaller spec's exclusion lists never remove what the app imports or loads.

The bundle is not built here (3+ minutes); the spec is parsed with `ast`, its lists are compared
with the imports found in app/, relay/ and packaging/launcher.py, and its plugin/library filter
is run against the file names the app needs at run time (xcb, offscreen, svg, compose, ...).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "viralstock.spec"

# Loaded indirectly (entry points, lazy imports in third-party code, uvicorn's "auto" choices):
# excluding any of these breaks keyring, the in-app sandbox/relay or the database.
RUNTIME_MODULES = [
    "keyring.backends.SecretService",
    "secretstorage",
    "jeepney",
    "cryptography",
    "keyring.backends.fail",
    "keyring.backends.null",
    "sqlalchemy.dialects.sqlite",
    "sqlite3",
    "pydantic",
    "pydantic_core",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvloop",
    "httptools",
    "h11",
    "click",
    "websockets",
    "anyio",
    "httpx",
    "httpcore",
    "idna",
    "numpy",
    "numpy.random",
    "numpy.linalg",
    "pyqtgraph",
    "qasync",
    "platformdirs",
    "email",
    "xml",
    "json",
    "decimal",
    "ssl",
    "unicodedata",
    "multiprocessing",
    "logging",
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "PySide6.QtNetwork",
    "PySide6.QtSvg",
]

# Files the frozen app opens at run time, as PyInstaller names their destinations on each OS.
NEEDED_FILES = [
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
    "PySide6/Qt/plugins/xcbglintegrations/libqxcb-egl-integration.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/imageformats/libqico.so",
    "PySide6/plugins/imageformats/qsvg.dll",
    "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
    "PySide6/Qt/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "PySide6/plugins/styles/qmodernwindowsstyle.dll",
    "PySide6/Qt/lib/libQt6Core.so.6",
    "PySide6/Qt/lib/libQt6Gui.so.6",
    "PySide6/Qt/lib/libQt6Widgets.so.6",
    "PySide6/Qt/lib/libQt6Svg.so.6",
    "PySide6/Qt/lib/libQt6Network.so.6",
    "PySide6/Qt/lib/libQt6DBus.so.6",
    "PySide6/Qt/lib/libQt6XcbQpa.so.6",
    "PySide6/Qt/lib/libicudata.so.73",
    "PySide6/QtCore.abi3.so",
    "PySide6/QtSvg.abi3.so",
    "PySide6/QtNetwork.abi3.so",
    "resources/icons/viralstock.svg",
    "resources/themes/base.qss",
]
# And files the filter exists to drop (so a typo in DROP cannot silently keep them).
DROPPED_FILES = [
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so",
    "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/generic/libqevdevmouseplugin.so",
    "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/Qt/plugins/networkinformation/libqnetworkmanager.so",
    "PySide6/Qt/plugins/imageformats/libqtiff.so",
    "PySide6/Qt/plugins/imageformats/libqwebp.so",
    "PySide6/Qt/lib/libQt6WaylandClient.so.6",
    "PySide6/Qt/lib/libQt6Quick.so.6",
]


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def _assigned(name: str) -> ast.expr:
    for node in _spec_tree().body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
    raise AssertionError(f"{name} not assigned in {SPEC}")


def _strings(node: ast.expr) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _excluded_modules() -> list[str]:
    qt = _assigned("QT_EXCLUDES")
    assert isinstance(qt, ast.ListComp)
    qt_names = [f"PySide6.{name}" for name in _strings(qt.generators[0].iter)]
    return qt_names + _strings(_assigned("PY_EXCLUDES"))


def _drop_patterns() -> list[str]:
    return _strings(_assigned("DROP"))


def _keep(dest: str) -> bool:
    """The spec's `_keep`, same rule: drop when any DROP pattern is a substring of the path."""
    return not any(part in dest for part in _drop_patterns())


def _is_excluded(module: str, excluded: list[str]) -> str | None:
    for name in excluded:
        if module == name or module.startswith(name + "."):
            return name
    return None


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from PySide6 import QtCore` imports the submodule PySide6.QtCore.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


# Files the desktop bundle deliberately leaves out (the spec's hiddenimports filter them too).
NOT_IN_BUNDLE = {
    # The Redis bus serves the deployed relay (`--bus redis://`); the desktop's in-process demo
    # relay uses the SQLite bus, so `redis` stays excluded from the bundle.
    "relay/backend/redis.py",
}


def _first_party_imports() -> set[str]:
    files = [*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("relay").rglob("*.py")]
    files = [f for f in files if f.relative_to(ROOT).as_posix() not in NOT_IN_BUNDLE]
    files.append(ROOT / "packaging" / "launcher.py")
    found: set[str] = set()
    for path in files:
        found |= _imports_of(path)
    return found


def test_spec_lists_parse_and_are_not_empty() -> None:
    excluded = _excluded_modules()
    assert "PySide6.QtQml" in excluded and "PySide6.QtOpenGL" in excluded
    assert "tkinter" in excluded
    assert len(_drop_patterns()) > 10


def test_no_module_imported_by_the_app_is_excluded() -> None:
    excluded = _excluded_modules()
    imported = _first_party_imports()
    assert "PySide6.QtWidgets" in imported  # the walk sees the Qt imports at all
    clashes = {module: hit for module in imported if (hit := _is_excluded(module, excluded))}
    assert clashes == {}, f"the spec excludes modules the app imports: {clashes}"


@pytest.mark.parametrize("module", RUNTIME_MODULES)
def test_modules_loaded_at_run_time_are_not_excluded(module: str) -> None:
    assert _is_excluded(module, _excluded_modules()) is None


@pytest.mark.parametrize("dest", NEEDED_FILES)
def test_needed_plugins_and_libraries_survive_the_filter(dest: str) -> None:
    assert _keep(dest), f"DROP removes {dest}, which the app loads"


@pytest.mark.parametrize("dest", DROPPED_FILES)
def test_unused_plugins_are_dropped(dest: str) -> None:
    assert not _keep(dest)


def test_excluded_qt_opengl_is_answered_by_the_runtime_hook() -> None:
    """Excluding QtOpenGL is only safe together with the runtime hook that stands in for it."""
    analysis = _assigned("a")
    assert isinstance(analysis, ast.Call)
    hooks = [k.value for k in analysis.keywords if k.arg == "runtime_hooks"]
    assert hooks and any("pyi_rth_viralstock_no_qtopengl.py" in s for s in _strings(hooks[0]))
    assert (ROOT / "packaging" / "rthooks" / "pyi_rth_viralstock_no_qtopengl.py").is_file()


def test_modules_left_out_of_the_bundle_are_left_out_of_hiddenimports() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for path in NOT_IN_BUNDLE:
        module = path.removesuffix(".py").replace("/", ".")
        assert f'name != "{module}"' in text, f"{module} must be filtered from hiddenimports"


def test_version_and_icons_for_windows_and_macos() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert re.search(r"tomllib.*pyproject\.toml", text)
    assert "viralstock.ico" in text and "viralstock.icns" in text
    assert (ROOT / "resources" / "icons" / "viralstock.ico").is_file()
    assert (ROOT / "resources" / "icons" / "viralstock.icns").is_file()


def _spec_function(name: str) -> object:
    """Compile one function from the spec on its own (the spec needs PyInstaller's globals)."""
    for node in _spec_tree().body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            namespace: dict[str, object] = {"Path": Path, "sys": __import__("sys")}
            exec(compile(ast.Module([node], []), str(SPEC), "exec"), namespace)  # noqa: S102
            return namespace[name]
    raise AssertionError(f"{name} not defined in {SPEC}")


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="ELF only")
def test_pruning_keeps_what_kept_binaries_need_and_drops_orphans() -> None:
    import PySide6

    pyside = Path(PySide6.__file__).parent
    lib = pyside / "Qt" / "lib"
    binaries = [
        ("PySide6/QtCore.abi3.so", str(pyside / "QtCore.abi3.so"), "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Core.so.6", str(lib / "libQt6Core.so.6"), "BINARY"),
        *[(f"PySide6/Qt/lib/{p.name}", str(p), "BINARY") for p in sorted(lib.glob("libicu*.so.*"))],
        ("PySide6/Qt/lib/libQt6Quick.so.6", str(lib / "libQt6Quick.so.6"), "BINARY"),
        ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"),
    ]
    prune = _spec_function("_prune_orphan_libraries")
    kept = {dest for dest, _, _ in prune(binaries)}  # type: ignore[operator]
    assert "PySide6/Qt/lib/libQt6Core.so.6" in kept  # needed by the QtCore extension
    assert any("libicudata" in dest for dest in kept)  # needed by Core through libicuuc
    assert "PySide6/Qt/lib/libQt6Quick.so.6" not in kept  # nothing kept needs it
    assert "libQt6Core.so.6" in kept  # symlinks are judged later, by their target


def test_dangling_symlinks_are_dropped() -> None:
    drop = _spec_function("_drop_dangling_symlinks")
    entries = [
        ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"),
        ("libQt6OpenGL.so.6", "PySide6/Qt/lib/libQt6OpenGL.so.6", "SYMLINK"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "/x/libQt6Core.so.6", "BINARY"),
    ]
    out = drop(entries, {"PySide6/Qt/lib/libQt6Core.so.6"})  # type: ignore[operator]
    assert [e[0] for e in out] == ["libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6"]
