"""Build a smaller libicudata for the Linux bundle: ICU's data minus tables Qt never reads.

PySide6's Qt links ICU 73, whose data library (libicudata.so.73) is the largest file in the
bundle (31 MB). The ICU functions the Qt libraries import (`readelf --dyn-syms`, checked by
tests/packaging/test_icu_trim.py) are only: case mapping (u_strToUpper/Lower), converters
(ucnv_*, QStringConverter), collation (ucol_*, QCollator) and calendars/time-zone names
(ucal_*, QTimeZone). Qt never calls ICU's break iterators (it has its own text segmentation),
display-name APIs (it carries its own CLDR tables), number spell-out or transliteration.

So this module drops those trees (brkitr, lang, region, curr, unit, rbnf, translit; each keeps
its root, pool and index bundles, so any lookup still resolves and falls back to root) and the
Unicode character-name table, then relinks the library with the same soname and the same
`icudt73_dat` symbol, using binutils (`ld`, `objcopy`, `readelf`). Collation, converters, zone
names, calendars, normalisation and every locale's main bundle stay byte for byte.

The ICU common-data package format ("CmnD"): a data header, then a table of contents
(uint32 count, then count pairs of uint32 name offset / data offset, relative to the TOC),
the item names, and 16-byte aligned items. Items are copied byte for byte.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

# Resource trees Qt never reads. Kept inside each: the bundles below, so opening a tree still
# works (ICU then falls back to root data instead of failing).
DROPPED_TREES = ("brkitr", "lang", "region", "curr", "unit", "translit", "rbnf")
KEPT_IN_DROPPED_TREES = ("root.res", "pool.res", "res_index.res")
# Top-level items Qt never reads: Unicode character names (u_charName).
DROPPED_FILES = ("unames.icu",)
# The ICU function families Qt may call for the trimming above to stay safe.
QT_ICU_API = ("u_strToUpper", "u_strToLower", "ucnv_", "UCNV_", "ucol_", "ucal_")


TOOLS = ("ld", "objcopy", "readelf")


def _run(tool: str, *args: str, cwd: Path | None = None) -> str:
    """Run a binutils tool (resolved on PATH, fixed arguments, no shell) and return stdout."""
    path = shutil.which(tool)
    if path is None:
        raise FileNotFoundError(tool)
    done = subprocess.run([path, *args], cwd=cwd, check=True, capture_output=True, text=True)  # noqa: S603
    return done.stdout


def _readelf(*args: str) -> str:
    return _run("readelf", *args)


def extract_package(library: Path) -> tuple[str, bytes]:
    """Return (symbol name, common-data package bytes) from a libicudata shared library."""
    pattern = (
        r":\s+([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+OBJECT\s+GLOBAL\s+\S+\s+(\d+)\s+(icudt\d+_dat)"
    )
    symbols = re.findall(pattern, _readelf("-Ws", str(library)))
    if not symbols:
        raise ValueError(f"{library}: no icudtNN_dat symbol")
    value, size, section_index, name = symbols[0]
    sections = {}
    for line in _readelf("-SW", str(library)).splitlines():
        match = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if match:
            sections[match.group(1)] = (int(match.group(3), 16), int(match.group(4), 16))
    address, offset = sections[section_index]
    start = offset + int(value, 16) - address
    length = int(size, 0)
    return name, library.read_bytes()[start : start + length]


def filter_package(data: bytes, drop: Callable[[str], bool]) -> tuple[bytes, int]:
    """Rebuild a common-data package without the items for which drop(name) is true."""
    header_size = struct.unpack_from("<H", data, 0)[0]
    if data[2:4] != b"\xda\x27":
        raise ValueError("not an ICU common data package")
    toc = header_size
    (count,) = struct.unpack_from("<I", data, toc)
    entries = [struct.unpack_from("<II", data, toc + 4 + 8 * i) for i in range(count)]
    names = [data[toc + n : data.index(b"\0", toc + n)].decode("ascii") for n, _ in entries]
    offsets = [toc + d for _, d in entries] + [len(data)]
    items = [(names[i], data[offsets[i] : offsets[i + 1]]) for i in range(count)]
    kept = [(name, blob) for name, blob in items if not drop(name)]
    # Layout: header | count | entries | names | pad to 16 | items (each already padded to 16,
    # since every original item ends where the next aligned one starts).
    names_blob = b"".join(name.encode("ascii") + b"\0" for name, _ in kept)
    table_len = 4 + 8 * len(kept)
    first_item = table_len + len(names_blob)
    first_item += (-(toc + first_item)) % 16
    out_entries, name_off, data_off = [], table_len, first_item
    for name, blob in kept:
        out_entries.append(struct.pack("<II", name_off, data_off))
        name_off += len(name) + 1
        data_off += len(blob) + (-len(blob)) % 16
    body = bytearray(struct.pack("<I", len(kept)) + b"".join(out_entries) + names_blob)
    body += b"\0" * (first_item - len(body))
    for _, blob in kept:
        body += blob + b"\0" * ((-len(blob)) % 16)
    return bytes(data[:toc]) + bytes(body), count - len(kept)


def dropped_item(name: str) -> bool:
    """True for items of the trees Qt never reads, except their root/pool/index bundles."""
    parts = name.split("/")
    if len(parts) == 2:
        return parts[1] in DROPPED_FILES
    return len(parts) == 3 and parts[1] in DROPPED_TREES and parts[2] not in KEPT_IN_DROPPED_TREES


def build_trimmed_library(library: Path, workdir: Path) -> Path | None:
    """Write a trimmed copy of `library` into workdir; None when binutils are missing."""
    if not all(shutil.which(tool) for tool in TOOLS):
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    symbol, package = extract_package(library)
    trimmed, removed = filter_package(package, dropped_item)
    dat = workdir / "icudata.bin"
    dat.write_bytes(trimmed)
    obj, out = workdir / "icudata.o", workdir / library.name
    _run("ld", "-r", "-b", "binary", "-o", str(obj), dat.name, cwd=workdir)
    _run(
        "objcopy",
        "--rename-section", ".data=.rodata,alloc,load,readonly,data,contents",
        "--set-section-alignment", ".rodata=16",
        "--redefine-sym", f"_binary_icudata_bin_start={symbol}",
        "--strip-symbol", "_binary_icudata_bin_end",
        "--strip-symbol", "_binary_icudata_bin_size",
        str(obj),
    )  # fmt: skip
    _run("ld", "-shared", "-soname", library.name, "-o", str(out), str(obj))
    print(
        f"icu_trim: {library.name}: {len(package) >> 20} MB -> {len(trimmed) >> 20} MB "
        f"({removed} items Qt never reads dropped)"
    )
    return out
