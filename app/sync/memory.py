"""Keeping the process's resident memory close to what it uses (#15), on glibc.

A year of a viral shop recomputed over and over leaves freed memory scattered over glibc's
per-thread arenas (the store's readers, the insight thread, Qt's and asyncio's workers each
get one), and none of it goes back to the system: the resident set climbed ~50 MB above what
the app held after the second recompute. Three of glibc's own settings keep it down:

- `tune_malloc` (at start, before threads exist):
  - at most two malloc arenas, so a thread reuses memory another one freed instead of growing
    its own;
  - a fixed mmap threshold of 128 KiB: glibc otherwise raises it (up to 32 MB) each time a
    large block is freed, so after the first recompute the large numpy columns of every later
    one (a week of sales rows, the insight's per-SKU arrays) come from the heap, where what is
    freed between them stays resident as holes. Under a live storm on the million-order shop
    that free heap grew from 26 to 130 MB in two minutes; with the threshold fixed, 8 to 27 MB
    (`python -m tests.benchmarks live`, the "malloc free" figure);
  - a trim threshold of 128 KiB (fixed as well, so glibc keeps it there), so free memory at
    the heap's top goes back between recomputes too;
- `trim` (after a recompute, off the UI thread): hand the free pages back to the system.

Elsewhere (macOS, Windows, musl) both do nothing: their allocators have their own policies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["GLIBC", "trim", "tune_malloc"]

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
ARENAS = 2
#: Blocks at least this large are mapped on their own and unmapped when freed.
MMAP_THRESHOLD = 128 * 1024
TRIM_THRESHOLD = 128 * 1024


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim") or not hasattr(libc, "mallopt"):
        return None  # not glibc (musl has neither)
    return libc


#: glibc, when this process runs on it (None elsewhere); its malloc's own counters too.
GLIBC = _glibc()


def tune_malloc(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas and fixed mmap and trim thresholds (see the module's
    docstring); True when glibc took every setting."""
    if GLIBC is None:
        return False
    return all(
        bool(GLIBC.mallopt(parameter, int(value)))
        for parameter, value in (
            (_M_ARENA_MAX, arenas),
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        )
    )


def trim() -> bool:
    """Return free heap memory to the system; True when some was (a blocking C call of a few
    milliseconds that releases the GIL: run it on a worker thread)."""
    if GLIBC is None:
        return False
    return bool(GLIBC.malloc_trim(0))
