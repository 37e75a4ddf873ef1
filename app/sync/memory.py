"""Keeping the process's resident memory close to what it uses (#15), on glibc.

A year of a viral shop recomputed over and over leaves freed memory scattered over glibc's
per-thread arenas (the store's readers, the insight thread, Qt's and asyncio's workers each
get one), and none of it goes back to the system: the resident set climbed ~50 MB above what
the app held after the second recompute. Two of glibc's own settings keep it down:

- `limit_arenas` (at start, before threads exist): at most two malloc arenas, so a thread
  reuses memory another one freed instead of growing its own;
- `trim` (after a recompute, off the UI thread): hand the free pages back to the system.

Elsewhere (macOS, Windows, musl) both do nothing: their allocators have their own policies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["limit_arenas", "trim"]

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2


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


_LIBC = _glibc()


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas for the process; True when glibc took the setting."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(_M_ARENA_MAX, int(arenas)))


def trim() -> bool:
    """Return free heap memory to the system; True when some was (a blocking C call of a few
    milliseconds that releases the GIL: run it on a worker thread)."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))
