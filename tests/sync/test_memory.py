"""The desktop gives freed numpy columns back to the system (app/sync/memory.py, #15).

A recompute on a big shop allocates and frees columns of a few hundred KiB over and over. By
default glibc raises its mmap threshold each time a large block is freed, so after the first
full read's columns went, the next ones came from the heap, and what they left there when
freed stayed resident between the small objects allocated meanwhile: the live storm's free
heap grew by ~100 MB in two minutes. Measured here in a fresh process, as the app starts."""

from __future__ import annotations

import platform

import pytest

from tests.fresh_process import python_output

PROBE = """
import sys

import numpy as np

from tests.benchmarks.procmem import memory_mb

def own_mb():
    return memory_mb()["RssAnon"]

if sys.argv[1] == "tuned":
    from app.sync.memory import tune_malloc
    assert tune_malloc()
first = np.ones(4 * 2**20 // 8)  # a full read's column, freed
del first
columns, kept = [], []
for _ in range(64):
    columns.append(np.ones(256 * 1024 // 8))  # a recompute's columns, 256 KiB each
    kept.append(bytearray(512))  # what it leaves behind between them
held = own_mb()
del columns
print(held - own_mb())
"""


def _given_back_mb(mode: str) -> float:
    return float(python_output(PROBE, mode))


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_freed_columns_go_back_to_the_system() -> None:
    columns_mb = 64 * 256 / 1024
    assert _given_back_mb("plain") < 0.25 * columns_mb  # glibc by itself: they stay (can fail)
    assert _given_back_mb("tuned") > 0.9 * columns_mb
