"""Read side of the trade database: what the UI and reports show of past and current runs.

Rows come back as plain data types (:class:`~cts_desktop.core.models.Position`, event
dataclasses, tuples), never as peewee rows, so the UI does not depend on the schema.
Reads are short indexed queries; SQLite in WAL mode serves them while the recorder writes.
"""
from __future__ import annotations

import json
from array import array
from typing import List, Optional, Tuple

from ..core.events import LogEvent
from ..core.models import TERMINAL_STATES, Order, Position
from .db import EquityChunkRec, EventRec, FillRec, OrderRec, PositionRec, Run


def _position(r: PositionRec) -> Position:
    p = Position(
        id=r.position_id, symbol=r.symbol, side=r.side, opened_at=r.opened_at, amount=r.amount,
        entry_price=r.entry_price, max_amount=r.max_amount, exit_price=r.exit_price,
        exit_amount=r.max_amount - r.amount, realized_pnl=r.realized_pnl, fees=r.fees, last_price=r.last_price,
        stop_loss=r.stop_loss, take_profit=r.take_profit, closed_at=r.closed_at, close_reason=r.close_reason,
        strategy=r.strategy, meta=json.loads(r.meta or "{}"), run_id=getattr(r, "run_id", None),  # peewee adds run_id
        protection=r.protection,
    )
    return p


def latest_run(connection: str) -> Optional[Run]:
    return Run.select().where(Run.connection == connection).order_by(Run.id.desc()).first()


def runs(connection: Optional[str] = None, limit: int = 100) -> List[Run]:
    q = Run.select().order_by(Run.id.desc()).limit(limit)
    if connection is not None:
        q = q.where(Run.connection == connection)
    return list(q)


def open_positions(connection: str, run_id: Optional[int] = None) -> List[Position]:
    """Positions still open in ``run_id`` (default: the connection's latest run)."""
    if run_id is None:
        run = latest_run(connection)
        if run is None:
            return []
        run_id = run.id
    q = PositionRec.select().where((PositionRec.run == run_id) & PositionRec.closed_at.is_null())
    return [_position(r) for r in q]


def run_positions(run_id: int) -> List[Position]:
    """Every position of one run: closed ones in closing order, then the open ones."""
    rows = [_position(r) for r in PositionRec.select().where(PositionRec.run == run_id)]
    closed = sorted((p for p in rows if p.closed_at is not None), key=lambda p: (p.closed_at, p.id))
    return closed + [p for p in rows if p.closed_at is None]


def closed_positions(connection: str, limit: int = 5000) -> List[Position]:
    """Closed positions of every run of ``connection``, newest first."""
    q = (PositionRec.select().where((PositionRec.connection == connection) & PositionRec.closed_at.is_null(False))
         .order_by(PositionRec.closed_at.desc(), PositionRec.id.desc()).limit(limit))
    return [_position(r) for r in q]


def events(connection: str, limit: int = 5000) -> List[LogEvent]:
    """The newest ``limit`` engine events of ``connection``, oldest first."""
    q = EventRec.select().where(EventRec.connection == connection).order_by(EventRec.id.desc()).limit(limit)
    rows = list(q)
    rows.reverse()
    return [LogEvent(r.connection, r.timestamp, r.category, r.message, r.level, r.wall_time) for r in rows]


def _unpacked(run_id: int) -> Tuple[array, array, array]:
    ts, eq, bal = array("q"), array("d"), array("d")
    q = (EquityChunkRec.select().where(EquityChunkRec.run == run_id)
         .order_by(EquityChunkRec.first_ts, EquityChunkRec.id))
    for chunk in q:
        ts.frombytes(chunk.timestamps)
        eq.frombytes(chunk.equity)
        bal.frombytes(chunk.balance)
    return ts, eq, bal


def equity_columns(run_id: int) -> Tuple[array, array]:
    """``(timestamps_ms, equity)`` of one run as ``array('q')`` / ``array('d')`` (quote), in time
    order: :func:`equity_curve` without a tuple per point (16 bytes a point instead of ~120)."""
    ts, eq, _bal = _unpacked(run_id)
    return ts, eq


def equity_curve(run_id: int) -> List[Tuple[int, float]]:
    """``[(timestamp_ms, equity), ...]`` of one run, in time order (quote currency)."""
    ts, eq, _bal = _unpacked(run_id)
    return list(zip(ts, eq, strict=False))  # packed together: equal lengths


def counts(connection: str) -> dict:
    """Numbers of orders, fills and closed positions kept for ``connection`` (all runs)."""
    return {
        "orders": OrderRec.select().where(OrderRec.connection == connection).count(),
        "fills": FillRec.select().where(FillRec.connection == connection).count(),
        "closed_positions": PositionRec.select().where(
            (PositionRec.connection == connection) & PositionRec.closed_at.is_null(False)).count(),
        "runs": Run.select().where(Run.connection == connection).count(),
    }


def run_summary(run: Run) -> dict:
    return json.loads(run.summary or "{}")


def _order(r: OrderRec) -> Order:
    return Order(clientOrderId=r.client_order_id, symbol=r.symbol, side=r.side, type=r.type, amount=r.amount,
                 price=r.price, id=r.exchange_id, timestamp=r.timestamp, status=r.status, state=r.state,
                 filled=r.filled, remaining=r.remaining, average=r.average, cost=r.cost, fee=r.fee,
                 fee_currency=r.fee_currency, reason=r.reason, position_id=r.position_id, strategy=r.strategy,
                 error=r.error, stop_loss=r.stop_loss, take_profit=r.take_profit)


def unfinished_run(connection: str, mode: str, dataset: str) -> Optional[Run]:
    """The connection's latest run when it never ended (the app or machine stopped under it) and
    is of the same mode and dataset; else None."""
    run = latest_run(connection)
    if run is not None and run.state == "running" and run.mode == mode and run.dataset == dataset \
            and run.last_candle_ts is not None:
        return run
    return None


def resume_state(run_id: int) -> dict:
    """What a run had committed, to carry it on after a crash.

    ``positions``: every position of the run (open ones have ``closed_at`` None);
    ``open_orders``: orders not yet in a terminal state, oldest first; ``max_order_seq``: the
    highest sequence number in the run's clientOrderIds (``cts-<run>-<seq>``);
    ``curve``: ``[(ts, equity)]`` and ``balances`` at the same points; ``fills``: their number.
    """
    positions = [_position(r) for r in PositionRec.select().where(PositionRec.run == run_id).order_by(PositionRec.position_id)]
    orders = list(OrderRec.select().where(OrderRec.run == run_id).order_by(OrderRec.id))
    seq = 0
    for o in orders:
        try:
            seq = max(seq, int(o.client_order_id.rsplit("-", 1)[1]))
        except (IndexError, ValueError):
            pass
    ts, eq, bal = _unpacked(run_id)
    return {
        "positions": positions,
        "open_orders": [_order(o) for o in orders if o.state not in TERMINAL_STATES],
        "max_order_seq": seq,
        "curve": list(zip(ts, eq, strict=False)),
        "balances": list(bal),
        "fills": FillRec.select().where(FillRec.run == run_id).count(),
    }
