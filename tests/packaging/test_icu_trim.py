"""The trimmed ICU data keeps every item Qt reads, byte for byte, and Qt works on it.

Runs on PySide6's own libicudata from the venv (no bundle build): parse, filter, re-parse, then
relink it and load Qt with it preloaded to compare collation, codecs, case mapping and time-zone
names with the full data.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
icu_trim = importlib.import_module("icu_trim")  # packaging/ is not a package

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not all(shutil.which(t) for t in icu_trim.TOOLS),
    reason="Linux with binutils only",
)


def _library() -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 has no bundled ICU")
    return found[0]


def _items(package: bytes) -> dict[str, bytes]:
    toc = struct.unpack_from("<H", package, 0)[0]
    (count,) = struct.unpack_from("<I", package, toc)
    entries = [struct.unpack_from("<II", package, toc + 4 + 8 * i) for i in range(count)]
    names = [package[toc + n : package.index(b"\0", toc + n)].decode() for n, _ in entries]
    ends = [toc + d for _, d in entries[1:]] + [len(package)]
    return {names[i]: package[toc + entries[i][1] : ends[i]].rstrip(b"\0") for i in range(count)}


def test_filter_drops_only_display_name_trees_and_keeps_the_rest_intact() -> None:
    _, package = icu_trim.extract_package(_library())
    trimmed, removed = icu_trim.filter_package(package, icu_trim.dropped_item)
    before, after = _items(package), _items(trimmed)
    assert removed == len(before) - len(after) > 1000
    assert len(trimmed) < len(package) - 8 * 2**20  # at least 8 MB smaller
    for name, blob in before.items():
        if icu_trim.dropped_item(name):
            assert name not in after
        else:
            assert after[name] == blob, name
    prefix = next(iter(before)).split("/")[0]
    for kept in ("coll/de.res", "coll/ucadata.icu", "zone/en.res", "lang/root.res", "lang/pool.res",
                 "cnvalias.icu", "uts46.nrm", "en.res"):  # fmt: skip
        assert f"{prefix}/{kept}" in after, kept
    assert f"{prefix}/lang/de.res" not in after and f"{prefix}/curr/fr.res" not in after
    assert f"{prefix}/brkitr/cjdict.dict" not in after and f"{prefix}/unames.icu" not in after


def test_qt_calls_only_the_icu_apis_whose_data_is_kept() -> None:
    """The trim is safe because Qt uses ICU only for case mapping, codecs, collation and
    calendars/zones. If a PySide6 upgrade makes Qt call e.g. break iterators (ubrk_) or display
    names (uldn_), this fails and icu_trim.DROPPED_TREES must be revisited."""
    qt_lib = _library().parent
    imported: set[str] = set()
    for library in qt_lib.glob("libQt6*.so.6"):
        out = subprocess.run(
            ["readelf", "--dyn-syms", "-W", str(library)], capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 8 and fields[6] == "UND" and re.search(r"_\d\d(@|$)", fields[7]):
                name = fields[7].split("@")[0]
                if name.startswith(("u_", "uc", "ul", "ub", "ut", "un", "us", "UCNV")):
                    imported.add(name)
    assert "ucol_open_73" in imported or any(n.startswith("ucol_open") for n in imported)
    unexpected = sorted(n for n in imported if not n.startswith(icu_trim.QT_ICU_API))
    assert unexpected == [], f"Qt calls ICU APIs whose data may be trimmed: {unexpected}"


QT_PROBE = """
from PySide6.QtCore import QCollator, QDateTime, QLocale, QStringDecoder, QTextBoundaryFinder
from PySide6.QtCore import QTimeZone
finder = QTextBoundaryFinder(QTextBoundaryFinder.BoundaryType.Word, "ราคา 日本語 stock-level")
marks = []
while (position := finder.toNextBoundary()) != -1:
    marks.append(position)
print(marks)
print(sorted(["Zebra", "Äpfel", "apfel", "Ober"], key=QCollator(QLocale("de_DE")).sortKey))
print(sorted(["ö", "z", "a"], key=QCollator(QLocale("sv_SE")).sortKey))
print(QStringDecoder("Shift_JIS").isValid(), QStringDecoder("GB18030").isValid())
print(QLocale("tr_TR").toUpper("istanbul"), QLocale("en_US").toLower("ÄBC"))
zone, now = QTimeZone(b"Asia/Ho_Chi_Minh"), QDateTime.currentDateTime()
print(zone.displayName(now, QTimeZone.NameType.LongName, QLocale("vi_VN")))
print(zone.displayName(now, QTimeZone.NameType.LongName, QLocale("en_US")))
print([line.split()[-1] for line in open("/proc/self/maps") if "libicudata" in line][:1])
"""


def test_qt_behaves_the_same_on_the_trimmed_data(tmp_path: Path) -> None:
    library = _library()
    trimmed = icu_trim.build_trimmed_library(library, tmp_path)
    assert trimmed is not None and trimmed.stat().st_size < library.stat().st_size - 8 * 2**20

    def probe(preload: Path | None) -> list[str]:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        if preload is not None:
            env["LD_PRELOAD"] = str(preload)
        done = subprocess.run(
            [sys.executable, "-c", QT_PROBE], capture_output=True, text=True, timeout=60, env=env
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.splitlines()

    full, small = probe(None), probe(trimmed)
    assert str(trimmed) in small[-1] and str(trimmed) not in full[-1]  # the trimmed copy was used
    assert small[:-1] == full[:-1]
    assert full[1] == "['apfel', 'Äpfel', 'Ober', 'Zebra']"
