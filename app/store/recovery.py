"""A damaged database file: keep it aside, say so, and go on from the last backup or afresh.

A seller's disk, a sync tool or a crash of the machine (not of ViralStock: SQLite survives
that) can leave `viralstock.sqlite3` unreadable: random bytes, or a malformed page. Opening
it would fail on every start. Instead, before anything touches the file, `recover_if_damaged`
runs SQLite's `quick_check` on a read-only connection; if the file is damaged it is renamed to
`viralstock.sqlite3.corrupt-<UTC time>` (with its -wal and -shm), never deleted, and the newest
intact migration backup (`viralstock.sqlite3.v<N>.bak`, see migrations.py) is copied into its
place, or nothing is, and a fresh database is created. The `Recovery` says what happened, in
words for the user (the desktop shows it in a dialog and the log), and lists the files.

What ViralStock keeps is a cache of the seller's TikTok shop plus local settings: a fresh
database resyncs from TikTok; only local settings (SKU lead times, alerts read) would be lost,
and a backup restores those as of the last upgrade.

A file that is intact but not ours, or from a newer ViralStock, is not damaged: migrations.py
refuses those and leaves them untouched.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Recovery", "damage", "recover_if_damaged"]

log = logging.getLogger(__name__)

_SIDECARS = ("-wal", "-shm")
_BACKUP = re.compile(r"\.v(\d+)\.bak$")


@dataclass(frozen=True)
class Recovery:
    """What was done about a damaged database file."""

    kept_aside: Path
    problem: str
    restored_from: Path | None

    @property
    def message(self) -> str:
        """For the user: what was wrong, where the damaged file is, and what happens now."""
        backup = self.restored_from
        if backup is not None and backup.exists():
            saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(backup.stat().st_mtime))
            then = (
                f"Restored the backup {backup.name} (saved {saved}); orders since then sync "
                "again from TikTok."
            )
        else:
            then = (
                "Started with a fresh database; your shop's data syncs again from TikTok "
                "(local settings such as lead times need to be set again)."
            )
        return (
            f"The ViralStock database was damaged ({self.problem}). It was kept as "
            f"{self.kept_aside} and not changed. {then}"
        )


def damage(path: Path) -> str | None:
    """Why the SQLite file at `path` is damaged, or None if it is intact (or absent/empty).
    Reads only: a read-only connection, no pragma that writes."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        raw = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = raw.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        raw.close()
    if rows == [("ok",)]:
        return None
    return "; ".join(str(row[0]) for row in rows[:3])


def _newest_intact_backup(path: Path) -> Path | None:
    found: list[tuple[int, Path]] = []
    for candidate in path.parent.glob(f"{path.name}.v*.bak"):
        match = _BACKUP.search(candidate.name)
        if match:
            found.append((int(match.group(1)), candidate))
    for _version, candidate in sorted(found, reverse=True):
        if damage(candidate) is None:
            return candidate
    return None


def recover_if_damaged(path: Path) -> Recovery | None:
    """If the database at `path` is damaged, move it (and its -wal/-shm) aside and put the
    newest intact backup in its place, if any; None when the file is fine."""
    problem = damage(path)
    if problem is None:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, aside)
    for suffix in _SIDECARS:
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.replace(sidecar, aside.with_name(aside.name + suffix))
    backup = _newest_intact_backup(path)
    if backup is not None:
        partial = path.with_name(path.name + ".restoring")
        shutil.copy2(backup, partial)
        os.replace(partial, path)
    recovery = Recovery(aside, problem[:200], backup)
    log.warning("%s", recovery.message)
    return recovery
