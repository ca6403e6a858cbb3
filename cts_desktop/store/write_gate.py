"""One lock per database for this process's write transactions.

SQLite lets one connection write at a time; a second writer waits in SQLite's busy handler, which
sleeps in steps of 1, 2, 5, 10 ms and more before it looks again (``sqliteDefaultBusyCallback``
in SQLite's ``main.c``). A live order's row committed on the event loop while a recorder thread
holds the write lock thus waited 1-9 ms for a commit that takes ~0.1 ms. Every writer in this
process (the recorders' writer threads, the live order's priority commit) takes this lock around
its transaction instead: a waiter wakes the moment the holder releases it, and SQLite's busy
handler is left for other processes (a second app instance, ``cts-desktop kill``).

A WAL checkpoint (copying the log back into the database file, with an fsync) took several ms and
ran inside whichever commit crossed SQLite's 1,000-page threshold, so inside the gate. Connections
are opened with ``wal_autocheckpoint=0`` (:func:`~cts_desktop.store.db.open_database`) and the
recorders' writer threads call :func:`checkpoint` after releasing the gate: a PASSIVE checkpoint,
which never blocks a writer (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html).
"""
from __future__ import annotations

import logging
import threading
import time

from peewee import Database

log = logging.getLogger(__name__)
_made = threading.Lock()
CHECKPOINT_EVERY_S = 1.0  # at most one checkpoint a second per database (s)


def write_gate(db: Database) -> threading.Lock:
    """The process-wide lock around write transactions on ``db`` (made at first use)."""
    gate = db.__dict__.get("_cts_write_gate")
    if gate is None:
        with _made:
            gate = db.__dict__.setdefault("_cts_write_gate", threading.Lock())
    return gate


def checkpoint(db: Database, every_s: float = CHECKPOINT_EVERY_S) -> bool:
    """A PASSIVE WAL checkpoint of ``db`` when none ran in the last ``every_s`` seconds; call it
    outside :func:`write_gate`. True when one ran. A failure is logged, never raised (the next
    call tries again; the log only grows meanwhile)."""
    now = time.monotonic()
    if now - db.__dict__.get("_cts_checkpointed", 0.0) < every_s:
        return False
    db.__dict__["_cts_checkpointed"] = now
    try:
        db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception as exc:  # noqa: BLE001 - a missed checkpoint costs log size, not data
        log.debug("WAL checkpoint failed: %s", exc)
    return True
