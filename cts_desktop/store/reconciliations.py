"""Reconciliation records and the run bookkeeping start-up reconciliation needs.

A reconciliation record (table ``reconciliations``) holds what the start of a run found and did
about earlier runs, as a JSON summary (shape: :func:`save`). Functions here run on a worker
thread (the engine calls them through ``run_in_executor``); they raise peewee errors as they come.
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..core.models import Fill, Order
from .db import FillRec, OrderRec, PositionRec, ReconciliationRec, Run

INTERRUPTED = "interrupted"
INTERRUPTED_REASON = "the app stopped while this run was running (found at a later start)"


def save(run_id: int, connection: str, summary: Dict[str, Any], *, ok: bool, detail: str,
         interrupted: Iterable[int] = ()) -> int:
    """Store one summary of run ``run_id`` and, in the same transaction, mark the runs
    ``interrupted`` (those still ``running``) as interrupted, so a kill in between can neither
    mark a run without a record saying so nor lose the mark. Returns the record id.
    ``summary``: JSON-able dict (keys of :class:`cts_desktop.engine.carryover.ReconcileReport`)."""
    ids = list(interrupted)
    with ReconciliationRec._meta.database.atomic():
        if ids:
            Run.update(state=INTERRUPTED, reason=INTERRUPTED_REASON, ended_at=int(time.time() * 1000)).where(
                Run.id.in_(ids) & (Run.state == "running")).execute()
        rec = ReconciliationRec.create(run=run_id, connection=connection, created_at=int(time.time() * 1000),
                                       ok=ok, detail=detail,
                                       summary=json.dumps(summary, sort_keys=True, default=str))
    rid: int = rec.id
    return rid


def for_run(run_id: int) -> List[Dict[str, Any]]:
    """The summaries stored for run ``run_id``, oldest first (each with ``ok``, ``detail``,
    ``created_at`` ms added)."""
    q = ReconciliationRec.select().where(ReconciliationRec.run == run_id).order_by(ReconciliationRec.id)
    out = []
    for r in q:
        d = json.loads(r.summary or "{}")
        d.update(ok=bool(r.ok), detail=r.detail, created_at=r.created_at, run_id=run_id)
        out.append(d)
    return out


def running_runs(connection: str, *, modes: Iterable[str], keep: Optional[int] = None) -> List[int]:
    """Ids of ``connection``'s runs in ``modes`` still ``running`` (their process is gone when the
    caller starts the connection's only engine), except ``keep``; :func:`save` marks them."""
    q = Run.select(Run.id).where((Run.connection == connection) & (Run.state == "running")
                                 & Run.mode.in_(list(modes)))
    return [r.id for r in q if r.id != keep]


def live_runs_before(connection: str, run_id: Optional[int]) -> List[int]:
    """Ids of ``connection``'s live runs older than ``run_id`` (all when None), newest first."""
    q = Run.select(Run.id).where((Run.connection == connection) & (Run.mode == "live"))
    if run_id is not None:
        q = q.where(Run.id < run_id)
    return [r.id for r in q.order_by(Run.id.desc())]


def carried_in(run_id: int) -> Optional[List[Dict[str, Any]]]:
    """The positions run ``run_id`` carried in at its start (the ``positions`` of its first
    record, only those still open after adjustment), or None when it has no record."""
    rec = (ReconciliationRec.select().where(ReconciliationRec.run == run_id)
           .order_by(ReconciliationRec.id).first())
    if rec is None:
        return None
    rows = json.loads(rec.summary or "{}").get("positions", [])
    return [p for p in rows if p.get("amount", 0) > 0]


def run_fills(run_id: int) -> List[Tuple[Fill, Optional[int]]]:
    """Every fill booked for run ``run_id`` in booking order, with its position id."""
    out = []
    r: Any
    for r in FillRec.select().where(FillRec.run == run_id).order_by(FillRec.id):
        out.append((Fill(id=r.fill_id, order_id=r.order_id, clientOrderId=r.client_order_id, symbol=r.symbol,
                         side=r.side, amount=r.amount, price=r.price, timestamp=r.timestamp, fee=r.fee,
                         fee_currency=r.fee_currency, takerOrMaker=r.taker_or_maker), r.position_id))
    return out


def run_orders(run_id: int) -> Dict[str, Order]:
    """Run ``run_id``'s orders by clientOrderId (reason, strategy, stop-loss / take-profit fractions)."""
    out = {}
    r: Any
    for r in OrderRec.select().where(OrderRec.run == run_id):
        out[r.client_order_id] = Order(clientOrderId=r.client_order_id, symbol=r.symbol, side=r.side, type=r.type,
                                       amount=r.amount, reason=r.reason, strategy=r.strategy,
                                       stop_loss=r.stop_loss, take_profit=r.take_profit, state=r.state)
    return out


def position_rows(run_id: int) -> Dict[int, Dict[str, Any]]:
    """Run ``run_id``'s position rows by position id: ``stop_loss``, ``take_profit`` (quote
    prices), ``strategy``, ``meta``."""
    out = {}
    r: Any
    for r in PositionRec.select().where(PositionRec.run == run_id):
        out[r.position_id] = {"stop_loss": r.stop_loss, "take_profit": r.take_profit, "strategy": r.strategy,
                              "meta": json.loads(r.meta or "{}")}
    return out


def known_client_ids(connection: str, client_ids: Iterable[str]) -> set:
    """The subset of ``client_ids`` recorded as orders of ``connection``."""
    ids = list(client_ids)
    if not ids:
        return set()
    q = OrderRec.select(OrderRec.client_order_id).where((OrderRec.connection == connection)
                                                        & OrderRec.client_order_id.in_(ids))
    return {r.client_order_id for r in q}
