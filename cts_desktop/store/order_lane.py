"""The priority lane of a live order: its row committed at once, on the caller's thread.

A live order's row must be durable before the exchange sees it (:mod:`cts_desktop.engine.orders`),
and the time that takes is part of the order's latency. The lane keeps its own SQLite connection
in autocommit mode, opened once with a short ``busy_timeout``: one ``INSERT OR REPLACE`` is one
transaction (no BEGIN / COMMIT round trips, no pragma switched back and forth per order), taken
under this process's :func:`~cts_desktop.store.write_gate.write_gate` so it waits for our own
writers without SQLite's sleeping busy handler. Measured on the live benchmark
(``benchmarks/bench_latency.py``): ~0.1 ms where the shared connection took ~0.25 ms.
"""
from __future__ import annotations

import logging
import sqlite3
from typing import Any, Dict, Optional

from peewee import Database

from .db import OrderRec
from .write_gate import write_gate

log = logging.getLogger(__name__)


class OrderLane:
    """Commits order rows (the ``_order_row`` dicts of :mod:`.recorder`) on the calling thread."""

    def __init__(self, db: Database, busy_ms: int = 5) -> None:
        self.db = db
        self.busy_ms = busy_ms
        self._con: Optional[sqlite3.Connection] = None
        self._sql: Dict[tuple, str] = {}  # the connection is used under the write gate only

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            con = sqlite3.connect(self.db.database, check_same_thread=False, isolation_level=None)
            for pragma in (f"busy_timeout = {int(self.busy_ms)}", "foreign_keys = 1", "synchronous = normal",
                           "wal_autocheckpoint = 0"):
                con.execute(f"PRAGMA {pragma}")
            self._con = con
        return self._con

    def commit(self, row: Dict[str, Any], busy_ms: Optional[int] = None) -> bool:
        """Write ``row`` into the orders table (insert or replace) and commit it. Waits at most
        ``busy_ms`` (ms; default the lane's) for this process's writers and the lane's ``busy_ms``
        for another process's. False when it could not (busy, or any database error: logged at
        debug level); the caller then commits the row through the recorder's writer and waits for that."""
        gate = write_gate(self.db)
        if not gate.acquire(timeout=(self.busy_ms if busy_ms is None else busy_ms) / 1000):
            log.debug("order lane: a writer is busy; the row goes through the recorder")
            return False
        try:
            cols = tuple(row)
            sql = self._sql.get(cols)
            if sql is None:
                fields = OrderRec._meta.fields
                sql = self._sql[cols] = (
                    f'INSERT OR REPLACE INTO "{OrderRec._meta.table_name}" '
                    f'({", ".join(chr(34) + fields[c].column_name + chr(34) for c in cols)}) '
                    f'VALUES ({", ".join("?" * len(cols))})')
            self._connection().execute(sql, tuple(row.values()))
            return True
        except Exception as exc:  # noqa: BLE001 - busy or broken: the caller falls back to the recorder, which reports it
            log.debug("order lane: row not committed at once (%s)", exc)
            return False
        finally:
            gate.release()

    def close(self) -> None:
        """Close the lane's connection (it reopens at the next :meth:`commit`)."""
        with write_gate(self.db):
            if self._con is not None:
                self._con.close()
                self._con = None
