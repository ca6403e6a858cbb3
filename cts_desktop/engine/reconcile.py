"""Start-up reconciliation of the exchange engine (live): orders, then fills, then positions.

:func:`reconcile_start` runs before a live run trades, in this order:

1. Runs of the connection still ``running`` (their process is gone: this is the connection's only
   engine) are found; they are marked ``interrupted`` together with storing the report.
2. Every order of the connection's earlier *live* runs still non-terminal in the database
   (``pending-create``, ``open``, ``partially-filled``, ``pending-cancel``) is queried (orders of
   paper runs never reached the exchange). Executions that happened while the app was down are
   recorded as fills of the order's own run (the ``(connection, fill_id)`` key makes this
   idempotent) and the order's final state is recorded. A terminal order whose recorded fills fall
   short of its ``filled`` (killed between the two commits) has its trades read again too.
3. The previous live run's open positions are rebuilt from its records and checked against the
   wallet, on perpetual futures against the exchange's positions (:mod:`.carryover`,
   :mod:`.exchange_positions`); they are carried into the new run. Positions at the exchange that
   are not the app's are listed.
4. Open orders at the exchange on the run's symbols that the database does not know: adopted
   when they carry this app's prefix, listed otherwise.

An order that cannot be settled within ``timeout_s``, is still open at the exchange or is on a
market the exchange no longer lists, and any exchange error in steps 2 and 4, makes
reconciliation *fail*: the report's ``error`` says why and the run trades close-only (no new
entries; exits, stop-losses and cancels stay allowed) instead of going to error. A protective
(stop-loss / take-profit) order of an earlier run still resting untouched is not settled: it
keeps protecting the coins and is listed in :attr:`Reconciler.protective` (see :mod:`.protection`).
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from ..core import events as ev
from ..core.models import (PARTIALLY_FILLED, PENDING_CANCEL, PENDING_CREATE, STATE_OPEN, TERMINAL_STATES, Fill,
                           Market, Order)
from ..core.gateway import Gateway
from ..core.manual import STOP_TYPES
from ..exchange.errors import GatewayError
from ..store import reconciliations as recs
from ..store.installation import order_id_prefix
from ..store.recorder import Recorder
from .exchange_positions import fetch_held, listing_line, unknown_positions
from .carryover import ReconcileReport, paper_start_report, adjust_to_wallet, carried_notional, fill_row, order_row, previous_positions, split_open_orders
from .lifecycle import EngineError, LogFn
from .live_setup import paper_balance
from .orders import OrderSender, Unsettled
from .protection_restart import close_positions_of_stops, leftover_protection

NON_TERMINAL = (PENDING_CREATE, STATE_OPEN, PARTIALLY_FILLED, PENDING_CANCEL)
MAX_BASE_FEE = 0.01  # fraction of a buy's coins an exchange may keep as its fee


class _StillWorking(Exception):
    """An earlier run's order is still working at the exchange: the new run adopts it."""

    def __init__(self, order: Order):
        super().__init__(order.clientOrderId)
        self.order = order


class _OldRunLedger:
    """Orders of an earlier run (``run_id``): fills and final states go to that run's records."""

    def __init__(self, run_id: int, *, gateway: Gateway, recorder: Recorder, name: str, log: LogFn,
                 report: Optional[ReconcileReport] = None):
        self.run_id = run_id
        self.gateway = gateway
        self.recorder = recorder
        self.name = name
        self._log = log
        self.report = report

    def book(self, order: Order, fill: Fill) -> None:
        self.recorder.fill(self.run_id, self.name, fill, order.position_id)
        if self.report is not None:
            self.report.fills.append(fill_row(fill, self.run_id))
        self._log(ev.CAT_FILL, f"reconciled: order {order.clientOrderId} (run #{self.run_id}) filled "
                               f"{fill.side} {fill.amount:g} {fill.symbol} @ {fill.price:g} while the app was down "
                               f"(trade {fill.id})")

    def reject(self, order: Order, reason: str) -> None:
        order.error = order.error or reason
        self.settled(order)

    def working(self, order: Order) -> None:
        raise _StillWorking(order)

    def settled(self, order: Order) -> None:
        self.recorder.order(self.run_id, self.name, order)


class Reconciler:
    """Settles connection ``name``'s orders left in flight by earlier live runs, through
    ``sender``'s settle loop, within ``timeout_s`` seconds in all."""

    def __init__(self, sender: OrderSender, *, gateway: Gateway, recorder: Recorder, name: str, log: LogFn,
                 timeout_s: float, report: Optional[ReconcileReport] = None):
        self.sender = sender
        self.gateway = gateway
        self.recorder = recorder
        self.name = name
        self._log = log
        self.timeout_s = timeout_s
        self.report = report
        self.done: List[Order] = []  # orders settled
        self.adopt: List[Order] = []  # orders the new run follows (still working, or unknown with our prefix)
        self.protective: List[Order] = []  # protective orders still resting at the exchange (left as they are)

    async def run(self) -> List[Order]:
        """The orders settled (module docstring). Orders still working at the exchange go to
        :attr:`adopt`; raises :class:`Unsettled` naming every order that could not be settled
        (after trying them all)."""
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(None, self._open_order_rows)
        if not rows:
            return []
        self._log(ev.CAT_ENGINE, f"reconciling {len(rows)} order(s) left in flight by earlier runs")
        deadline = time.monotonic() + self.timeout_s
        done = self.done
        errors: List[str] = []
        for run_id, order in rows:
            if order.symbol not in self.gateway.markets():
                errors.append(f"cannot reconcile order {order.clientOrderId}: {self.gateway.name} "
                              f"no longer lists {order.symbol}")
                continue
            known = await loop.run_in_executor(None, self._known_fills, order.clientOrderId)
            self.sender.booked[order.clientOrderId] = known
            ledger = _OldRunLedger(run_id, gateway=self.gateway, recorder=self.recorder, name=self.name,
                                   log=self._log, report=self.report)
            if await leftover_protection(self.sender, order):  # a stop still protecting the coins
                self.protective.append(order)
                continue
            try:
                await self.sender.settle(order, ledger, deadline=deadline)
            except _StillWorking:
                self._log(ev.CAT_ORDER, f"order {order.clientOrderId} of run #{run_id} is still {order.state} at "
                                        f"{self.gateway.name} ({order.filled:g} of {order.amount:g} filled): "
                                        "adopted by the new run, which follows it", "warning")
                self.adopt.append(order)
                if self.report is not None:
                    self.report.adopted.append({**order_row(order, run_id), "id": order.id,
                                                "timestamp": order.timestamp})
                continue
            except Unsettled as exc:
                errors.append(str(exc))
                continue
            if order.state not in TERMINAL_STATES:  # pragma: no cover - settle only returns settled
                errors.append(f"cannot reconcile order {order.clientOrderId}: still {order.state}")
                continue
            done.append(order)
            if self.report is not None:
                self.report.settled.append(order_row(order, run_id))
        await asyncio.wrap_future(self.recorder.flush())
        if errors:
            raise Unsettled("; ".join(errors))
        return done

    def _open_order_rows(self) -> List[Tuple[int, Order]]:
        """Orders of earlier live runs to settle: non-terminal ones, and terminal ones whose recorded
        fills fall short of their ``filled`` (a kill after the order's final state was committed
        and before its executions were: their trades are read again, the missing ones booked).
        The shortfall allows for fees taken from the bought coins (up to 1 %)."""
        from peewee import fn

        from ..store.db import FillRec, OrderRec, Run

        # only orders of live runs: a paper run's orders never reached the exchange. peewee adds the
        # primary key ``id`` and the ``run_id`` accessor at class creation: the type stubs do not see them.
        rec: Any = OrderRec
        booked = (FillRec.select(fn.COALESCE(fn.SUM(FillRec.amount), 0.0))
                  .where((FillRec.connection == OrderRec.connection)
                         & (FillRec.client_order_id == OrderRec.client_order_id)))
        short = (OrderRec.filled > 0) & (booked < OrderRec.filled * (1 - MAX_BASE_FEE))
        q = (OrderRec.select().join(Run, on=(OrderRec.run == Run.id))
             .where((OrderRec.connection == self.name) & (OrderRec.state.in_(NON_TERMINAL) | short)
                    & (Run.mode == "live") & OrderRec.type.not_in(STOP_TYPES))  # app-held stops: never sent
             .order_by(rec.id))
        out = []
        r: Any
        for r in q:
            o = Order(clientOrderId=r.client_order_id, symbol=r.symbol, side=r.side, type=r.type, amount=r.amount,
                      price=r.price, id=r.exchange_id, timestamp=r.timestamp, status=r.status, state=r.state,
                      filled=r.filled, remaining=r.remaining, average=r.average, cost=r.cost, fee=r.fee,
                      fee_currency=r.fee_currency, reason=r.reason, position_id=r.position_id, strategy=r.strategy,
                      error=r.error)
            out.append((r.run_id, o))
        return out

    def _known_fills(self, client_order_id: str) -> Tuple[Set[str], float]:
        """(fill ids already recorded for the order, 0.0): the trades are read again and only
        those not recorded yet are booked (the table keeps net amounts, so the gross executed
        amount is recounted from the trades)."""
        from ..store.db import FillRec

        rows = FillRec.select(FillRec.fill_id).where(
            (FillRec.connection == self.name) & (FillRec.client_order_id == client_order_id))
        return {r.fill_id for r in rows}, 0.0


async def reconcile_start(reconciler: Reconciler, markets: Dict[str, Market],
                          prefix: str) -> Tuple[ReconcileReport, Dict[str, Dict[str, float]]]:
    """Steps 1-4 of the module docstring for ``reconciler``'s connection; ``markets``: the run's
    symbols; ``prefix``: this installation's clientOrderId prefix (orders with it are ours). Returns ``(report, balances)`` (balances as
    :meth:`~cts_desktop.exchange.ccxt_gateway.CcxtGateway.fetch_balance`). A failure in steps 2
    or 4 is in ``report.error``; a failure to read the balance (or, on swap markets, the positions) raises
    :class:`~cts_desktop.exchange.errors.GatewayError` (the run cannot start)."""
    loop = asyncio.get_running_loop()
    name, gateway, log = reconciler.name, reconciler.gateway, reconciler._log
    report = reconciler.report = ReconcileReport()
    report.interrupted = await loop.run_in_executor(None, lambda: recs.running_runs(name, modes=("live", "paper")))
    for rid in report.interrupted:
        log(ev.CAT_ENGINE, f"run #{rid} was interrupted (the app stopped while it ran): marked interrupted", "warning")
    try:
        await reconciler.run()
    except (Unsettled, GatewayError) as exc:
        report.error = str(exc)
        log(ev.CAT_ENGINE, f"reconciliation failed: {exc}", "error")
        await asyncio.wrap_future(reconciler.recorder.flush())
    for line in await loop.run_in_executor(None, close_positions_of_stops, name, reconciler.done):
        log(ev.CAT_POSITION, line)  # protective legs that executed while the app was down
    positions, from_run = await loop.run_in_executor(None, previous_positions, name, markets)
    balances = await gateway.fetch_balance()
    held = await fetch_held(gateway, markets)  # swap markets: the exchange keeps the positions
    report.positions = adjust_to_wallet(positions, markets, balances, from_run, log, held)
    if held is not None:
        report.positions_listed = unknown_positions(held, report.positions, markets)
    for row in report.positions_listed:
        log(ev.CAT_POSITION, listing_line(row), "warning")
    try:
        open_orders: List[Order] = []
        for sym in markets:
            open_orders.extend(await gateway.fetch_open_orders(sym))
        known = await loop.run_in_executor(None, recs.known_client_ids, name, [o.clientOrderId for o in open_orders])
        known |= {o.clientOrderId for o in reconciler.adopt}
        adopted, report.listed = split_open_orders(open_orders, known, prefix)
        report.adopted.extend(adopted)
        unknown_ours = {row["client_order_id"] for row in adopted}
        for o in open_orders:
            if o.clientOrderId in unknown_ours:
                o.reason = "adopted"
                reconciler.adopt.append(o)
                log(ev.CAT_ORDER, f"order {o.clientOrderId} at the exchange has this app's prefix but no record: "
                                  f"adopted ({o.side} {o.amount:g} {o.symbol}, {o.filled:g} filled)", "warning")
    except GatewayError as exc:
        report.error = report.error or f"cannot list the open orders at the exchange: {exc.message}"
        log(ev.CAT_ENGINE, f"reconciliation failed: {report.error}", "error")
    for row in report.listed:
        log(ev.CAT_ORDER, f"open at the exchange, not this app's: {row['side']} {row['amount']:g} {row['symbol']} "
                          f"({row['client_order_id'] or row.get('id')}): left as it is", "warning")
    return report, balances


def starting_balance(report: ReconcileReport, balances: Dict[str, Dict[str, float]], quote: str, exchange: str) -> float:
    """A live run's starting balance (quote): the free ``quote`` balance plus the entry notional
    of the positions carried in. Raises :class:`EngineError` when both are zero."""
    balance = (balances.get(quote) or {}).get("free", 0.0) + carried_notional(report.positions)
    if not balance > 0:
        raise EngineError(f"no free {quote} at {exchange}: live trading starts from the account's free {quote} "
                          "balance")
    return balance


async def starting_balance_of(engine: Any, gateway: Gateway, quote: str, all_markets: Dict[str, Market]) -> float:
    """The starting balance of :class:`~cts_desktop.engine.live.ExchangeEngine` ``engine``'s new
    run (quote). Live: its :class:`OrderSender` made, :func:`reconcile_start` run (the engine gets
    ``reconciliation``, ``reconciled``, the orders to adopt and the resting protective legs), then
    :func:`starting_balance`. Paper: runs left running are noted, then the configured balance."""
    if not engine.live:
        if engine.recorder is not None:
            engine.reconciliation = await paper_start_report(engine.name)
        return await paper_balance(gateway, engine.conn, quote, all_markets, engine.timeframe)
    assert engine.recorder is not None
    engine.orders = OrderSender(gateway, engine.markets, recorder=engine.recorder, log=engine._log,
                                secrets=engine._secret_values, settle_interval=engine.settle_interval,
                                max_settle_interval=engine.max_settle_interval)
    if engine.order_prefix is None:  # adoption needs it before the run's core exists
        engine.order_prefix = await asyncio.get_running_loop().run_in_executor(
            None, order_id_prefix, Path(str(engine.recorder.db.database)).parent)
    reconciler = Reconciler(engine.orders, gateway=gateway, recorder=engine.recorder, name=engine.name,
                            log=engine._log, timeout_s=engine.reconcile_timeout_s)
    report, balances = await reconcile_start(reconciler, engine.markets, engine.order_prefix)
    engine.reconciliation, engine.reconciled, engine._adopt = report, reconciler.done, reconciler.adopt
    engine._leftover_stops = reconciler.protective  # protection.py adopts them
    return starting_balance(report, balances, quote, gateway.name)

