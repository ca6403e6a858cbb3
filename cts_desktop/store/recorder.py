"""Write-behind recorder: the engine's records reach SQLite on one writer thread.

The engine's loop never waits on the disk: it hands a snapshot of each record to
:meth:`Recorder.order`, :meth:`fill`, ... (a queue put, well under a microsecond), and the writer
thread commits whatever has queued up in one transaction, in arrival order. So an order is
always committed before (or with) its fills, and a crash loses at most the last batch, whole.

Where a record must be durable before the engine goes on (a live order is written before it is
sent to the exchange), the engine awaits :meth:`flush`, which resolves once everything queued so
far is committed.

``batched=True`` (the app's engines) holds records on the engine's side until :meth:`flush`, which
hands them over as one batch that is committed whole. The engine flushes at the end of every
slice of candles, right after recording how far it got (:meth:`progress`), so the database
always holds the complete records of a prefix of the replay, never half a candle: this is what
lets a run resume after a crash without losing or repeating an order.

``deferred=True`` (backtests): batched, one flush at the end of the run, one transaction.
"""
from __future__ import annotations

import json
from operator import itemgetter
from array import array
import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional, Type

from peewee import Database

from ..core.models import Fill, Order, Position, Signal
from .db import BaseModel, EquityChunkRec, EventRec, FillRec, OrderRec, PositionRec, Run, SignalRec
from .order_lane import OrderLane
from .record_rows import _Grouped, _chunk, _group, _materialize, _order_row, _position_row, _to_json
from .write_gate import checkpoint, write_gate

log = logging.getLogger(__name__)

_STOP = object()
def _now_ms() -> int:
    return int(time.time() * 1000)


class Recorder:
    """Records for one database. Thread-safe enqueue; one writer thread.

    Errors on the writer thread are logged and handed to ``on_error(exc)`` (the engine turns
    them into its error state); the rows of the failed batch are not retried.
    """

    def __init__(self, db: Database, *, deferred: bool = False, batched: bool = False,
                 on_error: Optional[Callable[[BaseException], None]] = None):
        self.db = db
        self.deferred = deferred
        self.batched = batched or deferred
        self.on_error = on_error
        self._q: "queue.SimpleQueue" = queue.SimpleQueue()
        self._pending: List[tuple] = []
        self._equity: Dict[int, tuple] = {}  # run id -> (timestamps, equity, balance) arrays
        self._thread = threading.Thread(target=self._writer, name="cts-recorder", daemon=True)
        self._thread.start()
        self.written = 0
        self.error: Optional[BaseException] = None
        # while hold() is true the writer starts no commit, for at most HOLD_MAX_S a batch (the
        # replays' records wait while a live engine commits and sends an order: services/engines.py)
        self.hold: Optional[Callable[[], bool]] = None
        self._lane: Optional[OrderLane] = None

    # -- runs (synchronous: once per run) ------------------------------------------------------
    def begin_run(self, connection: str, mode: str, **kw: Any) -> int:
        """Create the run row and return its id (waits for the writer thread)."""
        return self.begin_run_future(connection, mode, **kw).result(timeout=30)

    def begin_run_future(self, connection: str, mode: str, *, dataset: str = "", strategy: str = "",
                         params: Optional[dict] = None, currency: str = "", starting_balance: float = 0.0) -> Future:
        """Create the run row on the writer thread; the future resolves to the run id."""
        fut: Future = Future()
        self._q.put(("call", (lambda: Run.create(
            connection=connection, mode=mode, dataset=dataset, strategy=strategy,
            params=json.dumps(params or {}, sort_keys=True), currency=currency,
            starting_balance=starting_balance, started_at=_now_ms(), state="running").id, fut)))
        return fut

    def end_run(self, run_id: int, state: str, reason: str = "", summary: Optional[dict] = None) -> None:
        self._put(("run", (run_id, {"state": state, "reason": reason, "ended_at": _now_ms(),
                                    "summary": json.dumps(summary or {}, sort_keys=True, default=str)})))

    def progress(self, run_id: int, last_candle_ts: int) -> None:
        self._put(("run", (run_id, {"last_candle_ts": last_candle_ts})))

    # -- records (snapshots; cheap) -------------------------------------------------------------
    def order(self, run_id: int, connection: str, o: Order) -> None:
        if self.batched:  # the state at flush time is written
            self._pending.append(("order_obj", (run_id, connection, o)))
        else:
            self._q.put(("order", _order_row(run_id, connection, o)))

    def commit_order_now(self, run_id: int, connection: str, o: Order, busy_ms: int = 5) -> bool:
        """The priority lane of a live order (:mod:`.order_lane`): ``o``'s row committed on the calling
        thread at once, ahead of the records queued for the writer (they follow at the next
        :meth:`flush`, which writes the row again with the order's state then). Waits at most
        ``busy_ms`` (ms); False when busy or on any database error: then await :meth:`flush`."""
        if self._lane is None:
            self._lane = OrderLane(self.db)
        return self._lane.commit(_order_row(run_id, connection, o), busy_ms)

    def fill(self, run_id: int, connection: str, f: Fill, position_id: Optional[int]) -> None:
        self._put(("fill", {
            "run": run_id, "connection": connection, "fill_id": f.id, "order_id": f.order_id,
            "client_order_id": f.clientOrderId, "symbol": f.symbol, "side": f.side, "amount": f.amount,
            "price": f.price, "cost": f.amount * f.price, "fee": f.fee, "fee_currency": f.fee_currency,
            "taker_or_maker": f.takerOrMaker, "position_id": position_id, "timestamp": f.timestamp,
        }))

    def position(self, run_id: int, connection: str, p: Position) -> None:
        if self.batched:
            self._pending.append(("position_obj", (run_id, connection, p)))
        else:
            self._q.put(("position", _position_row(run_id, connection, p)))

    def signal(self, run_id: int, connection: str, s: Signal, accepted: bool, verdict: str) -> None:
        self._put(("signal", {
            "run": run_id, "connection": connection, "timestamp": s.timestamp, "symbol": s.symbol,
            "side": s.side, "intent": s.intent, "size": s.size, "confidence": s.confidence,
            "strategy": s.strategy, "reason": s.reason, "accepted": accepted, "verdict": verdict,
            "meta": _to_json(s.meta) if s.meta else "{}",
        }))

    def equity(self, run_id: int, timestamp: int, balance: float, equity: float) -> None:
        """One equity point (ms, quote, quote); points are packed into one chunk row per flush."""
        buf = self._equity.get(run_id)
        if buf is None:
            buf = self._equity[run_id] = (array("q"), array("d"), array("d"))
        buf[0].append(timestamp)
        buf[1].append(equity)
        buf[2].append(balance)

    def curve(self, run_id: int, curve: List[tuple], balances: List[float]) -> None:
        """A whole equity curve (``[(ts_ms, equity)]`` and the balances at the same points) as one
        chunk (backtests)."""
        if curve:
            self._put(("chunk", _chunk(run_id, array("q", [p[0] for p in curve]), array("d", [p[1] for p in curve]),
                                       array("d", balances))))

    def _take_equity(self) -> List[tuple]:
        items = [("chunk", _chunk(run_id, *buf)) for run_id, buf in self._equity.items() if buf[0]]
        self._equity = {}
        return items

    def event(self, run_id: Optional[int], connection: str, timestamp: int, category: str, level: str,
              message: str, wall_time: Optional[float] = None) -> None:
        self._put(("event", {
            "run": run_id, "connection": connection, "timestamp": timestamp,
            "wall_time": wall_time if wall_time is not None else time.time(),
            "category": category, "level": level, "message": message,
        }))

    # -- durability ---------------------------------------------------------------------------
    def discard_pending(self) -> int:
        """Drop the records held back by ``batched`` / ``deferred`` mode that have not been handed to
        the writer yet (a cancelled backtest keeps none of its results); returns how many."""
        n = len(self._pending)
        self._pending.clear()
        return n

    def flush(self) -> Future:
        """A future that resolves (to None) once everything recorded so far is committed, or
        raises the writer's error. In batched mode this releases the held records as one batch."""
        fut: Future = Future()
        chunks = self._take_equity()
        if self.batched and (self._pending or chunks):
            batch, self._pending = self._pending, []
            self._q.put(("batch", _materialize(batch) + chunks))
        elif chunks:
            self._q.put(("batch", chunks))
        self._q.put(("flush", fut))
        return fut

    def close(self, timeout: float = 30.0) -> None:
        """Flush, then stop the writer thread."""
        try:
            self.flush().result(timeout=timeout)
        finally:
            self._q.put(_STOP)
            self._thread.join(timeout)
            if self._lane is not None:
                self._lane.close()

    # -- internals ----------------------------------------------------------------------------
    def _put(self, item: tuple) -> None:
        if self.batched:
            self._pending.append(item)
        else:
            self._q.put(item)

    def _writer(self) -> None:
        q = self._q
        while True:
            item = q.get()
            if item is _STOP:
                return
            batch = [item]
            # with a hold (the replays' recorder) commits stay small: a live order row waits little for the write gate
            most = HOLD_BATCH if self.hold is not None else 20000
            try:
                while len(batch) < most:
                    nxt = q.get_nowait()
                    if nxt is _STOP:
                        self._commit(batch)
                        return
                    batch.append(nxt)
            except queue.Empty:
                pass
            self._wait_hold()
            self._commit(batch)

    def _wait_hold(self) -> None:
        """While ``hold()`` says so, wait (at most HOLD_MAX_S)."""
        hold, until = self.hold, time.perf_counter() + HOLD_MAX_S
        while hold is not None and hold() and time.perf_counter() < until:
            time.sleep(0.0002)

    def _commit(self, batch: List[tuple]) -> None:
        # Expand deferred batches in place, keeping arrival order.
        items: List[tuple] = []
        for kind, payload in batch:
            if kind == "batch":
                items.extend(payload)
            else:
                items.append((kind, payload))
        g = _group(items)
        error: Optional[BaseException] = None
        # a held writer (the replays') may give way to a live order's row mid-transaction: it rolls
        # back, waits while the hold lasts and writes the batch again, at most YIELDS times
        yields = YIELDS if self.hold is not None and not g.calls else 0
        try:
            while True:
                try:
                    with write_gate(self.db), self.db.atomic():
                        self._write(g, self.hold if yields else None)
                    break
                except _GiveWay:
                    yields -= 1
                    self._wait_hold()
            self.written += len(items)
        except Exception as exc:  # noqa: BLE001 - reported, never raised on this thread
            error = exc
            self.error = exc
            log.error("recorder: writing %d records failed: %s", len(items), exc)
            if self.on_error is not None:
                try:
                    self.on_error(exc)
                except Exception:  # noqa: BLE001 - a failing handler must not stop the writer thread
                    log.exception("recorder on_error handler failed")
        for fut in g.waiters:
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)
        if error is None:  # after the waiters: nobody waits for a checkpoint
            checkpoint(self.db)

    def _write(self, g: "_Grouped", give_way: Optional[Callable[[], bool]] = None) -> None:
        """One commit's records, inside the caller's transaction; between two tables' inserts
        raises :class:`_GiveWay` when ``give_way()`` says so (the caller rolls back)."""
        for fn, fut in g.calls:
            try:
                fut.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - the caller's function fails into its own future
                fut.set_exception(exc)
        # Orders before fills, so that a fill never exists without its order.
        for model, rows, mode in ((OrderRec, list(g.orders.values()), "replace"), (FillRec, g.fills, "ignore"),
                                  (PositionRec, list(g.positions.values()), "replace"), (SignalRec, g.signals, ""),
                                  (EventRec, g.events, ""), (EquityChunkRec, g.chunks, "")):
            if rows and give_way is not None and give_way():
                raise _GiveWay
            self._insert(model, rows, replace=mode == "replace", ignore=mode == "ignore")
        for run_id, fields in g.runs.items():
            Run.update(**fields).where(Run.id == run_id).execute()

    def _insert(self, model: Type[BaseModel], rows: List[dict], *, replace: bool = False, ignore: bool = False) -> None:
        """Bulk insert with one prepared statement (``executemany``): peewee's query builder
        costs ~20 us a row, too slow for a replay's tens of thousands of rows."""
        if not rows:
            return
        cols = list(rows[0])
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE" if ignore else "INSERT"
        sql = (f'{verb} INTO "{model._meta.table_name}" ({", ".join(_column(model, c) for c in cols)}) '
               f'VALUES ({", ".join("?" * len(cols))})')
        self.db.cursor().executemany(sql, map(itemgetter(*cols), rows))


def _column(model: Type[BaseModel], field_name: str) -> str:
    return '"%s"' % model._meta.fields[field_name].column_name


HOLD_MAX_S = 0.02  # longest a batch waits for Recorder.hold (s): bounded, so a flush the holder awaits still comes
HOLD_BATCH = 4  # queue items (a replay slice's records each) per commit when a hold is set
YIELDS = 3  # times a held writer's transaction gives way to a live order before it finishes regardless


class _GiveWay(Exception):
    """A held writer's transaction rolls back to let a live order's row through (:meth:`Recorder._commit`)."""
