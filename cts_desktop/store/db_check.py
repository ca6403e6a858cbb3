"""Damaged databases: found before anything is written, and kept aside on request.

:func:`damage` runs SQLite's ``PRAGMA quick_check`` on a read-only connection (so a damaged file
is never written into, not even by a journal-mode switch) before :func:`~.db.open_database`
touches the file. :func:`set_aside` renames a damaged database and its ``-wal``/``-shm``
companions to ``<name>.damaged-<UTC time>`` (e.g. ``cts-desktop.sqlite3.damaged-20260301T120000Z``
with ``...-wal``), so the next open starts a fresh one and the old records stay for a rescue.

``quick_check`` reads every page (it skips only the index-content cross-check of a full
``integrity_check``): its time grows with the file; see the README for the figure on a database
holding a full replay.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import List, Optional

#: SQLite result codes that mean "the file is damaged" (SQLITE_CORRUPT, SQLITE_NOTADB)
_DAMAGE_CODES = (11, 26)
_COMPANIONS = ("", "-wal", "-shm")
MAX_DETAIL = 3


class DatabaseDamagedError(Exception):
    """``path`` is a damaged SQLite database (``detail``: what ``quick_check`` or SQLite said).
    Nothing was written into it. Subclassed as :class:`cts_desktop.store.db.DatabaseDamaged`."""

    def __init__(self, path: Path, detail: str):
        self.path = Path(path)
        self.detail = detail
        super().__init__(f"the database {self.path} is damaged ({detail}); nothing was written to it")


def damage(path: Path) -> Optional[str]:
    """What is wrong with the database file ``path`` (SQLite's words, at most
    :data:`MAX_DETAIL` problems), or None when it passes ``PRAGMA quick_check`` or does not exist.

    Opens the file read-only and creates no file (a -wal/-shm pair appears only when a
    -wal with content was there already). Errors that are not damage (no permission, locked) raise
    ``sqlite3.Error`` for the caller to report as such.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    wal = Path(f"{path}-wal")
    # Without a WAL to read, "immutable" opens the file alone: no -wal/-shm are created next to it.
    # With one, read-only mode reads it too (its commits may not be in the main file yet).
    # Another process closing the database last checkpoints and deletes the -wal at any moment:
    # one stat, and a -wal gone in between is a -wal with nothing left to read.
    try:
        has_wal = wal.stat().st_size > 0
    except FileNotFoundError:
        has_wal = False
    flags = "mode=ro" if has_wal else "mode=ro&immutable=1"
    con = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True)
    rows: List[str] = []
    try:
        for (row,) in con.execute(f"PRAGMA quick_check({MAX_DETAIL + 1})"):
            rows += [line for line in str(row).splitlines() if line and not line.startswith("*** in database")]
    except sqlite3.DatabaseError as exc:  # SQLite may give up half-way through a damaged file
        if getattr(exc, "sqlite_errorcode", None) not in _DAMAGE_CODES and isinstance(exc, sqlite3.OperationalError):
            raise
        rows.append(str(exc))
    finally:
        con.close()
    if rows == ["ok"]:
        return None
    more = "; ..." if len(rows) > MAX_DETAIL else ""
    return "; ".join(rows[:MAX_DETAIL]) + more


def aside_name(path: Path, when: Optional[float] = None) -> Path:
    """Where :func:`set_aside` puts ``path``: ``<path>.damaged-<UTC time, YYYYmmddTHHMMSSZ>``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if when is None else when))
    return Path(f"{path}.damaged-{stamp}")


def set_aside(path: Path, when: Optional[float] = None) -> Path:
    """Rename database ``path`` and its ``-wal``/``-shm`` files to :func:`aside_name`'s name
    (same directory); returns the new path of the database. Raises ``OSError``."""
    path = Path(path)
    target = aside_name(path, when)
    for suffix in _COMPANIONS:
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(Path(f"{target}{suffix}"))
    return target
