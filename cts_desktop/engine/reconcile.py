"""Start-up reconciliation of the exchange engine (live, fail closed).

Before trading, every order of this connection's earlier *live* runs still non-terminal in the
database (``pending-create``, ``open``, ``partially-filled``, ``pending-cancel``) is queried
(orders of paper runs never reached the exchange and are ignored). Executions that happened
while the app was down are recorded as fills of the order's own run (the ``(connection,
fill_id)`` key makes this idempotent) and the order's final state is recorded. An order that
cannot be settled within ``timeout_s``, is still open at the exchange, or is on a market the
exchange no longer lists raises :class:`~cts_desktop.engine.orders.Unsettled` (``cannot
reconcile order X: ...``): the engine goes to error instead of trading, except a protective
(stop-loss / take-profit) order still resting untouched: it keeps protecting the coins and is
listed in :attr:`Reconciler.protective` (see :mod:`.protection`). Positions of earlier
runs are not carried into the new run: it starts flat with the free balance; what the wallet
holds stays at the exchange.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, List, Set, Tuple

from ..core import events as ev
from ..core.models import (PARTIALLY_FILLED, PENDING_CANCEL, PENDING_CREATE, STATE_OPEN, TERMINAL_STATES, Fill,
                           Order)
from ..core.gateway import Gateway
from ..store.recorder import Recorder
from .lifecycle import LogFn
from .orders import OrderSender, Unsettled
from .protection_restart import leftover_protection

NON_TERMINAL = (PENDING_CREATE, STATE_OPEN, PARTIALLY_FILLED, PENDING_CANCEL)


class _OldRunLedger:
    """Orders of an earlier run (``run_id``): fills and final states go to that run's records."""

    def __init__(self, run_id: int, *, gateway: Gateway, recorder: Recorder, name: str, log: LogFn):
        self.run_id = run_id
        self.gateway = gateway
        self.recorder = recorder
        self.name = name
        self._log = log

    def book(self, order: Order, fill: Fill) -> None:
        self.recorder.fill(self.run_id, self.name, fill, order.position_id)
        self._log(ev.CAT_FILL, f"reconciled: order {order.clientOrderId} (run #{self.run_id}) filled "
                               f"{fill.side} {fill.amount:g} {fill.symbol} @ {fill.price:g} while the app was down "
                               f"(trade {fill.id})")

    def reject(self, order: Order, reason: str) -> None:
        order.error = order.error or reason
        self.settled(order)

    def working(self, order: Order) -> None:
        raise Unsettled(f"cannot reconcile order {order.clientOrderId}: it is still {order.state} at "
                        f"{self.gateway.name} ({order.filled:g} of {order.amount:g} filled); cancel "
                        "it there or let it finish, then start again")

    def settled(self, order: Order) -> None:
        self.recorder.order(self.run_id, self.name, order)


class Reconciler:
    """Settles connection ``name``'s orders left in flight by earlier live runs, through
    ``sender``'s settle loop, within ``timeout_s`` seconds in all."""

    def __init__(self, sender: OrderSender, *, gateway: Gateway, recorder: Recorder, name: str, log: LogFn,
                 timeout_s: float):
        self.sender = sender
        self.gateway = gateway
        self.recorder = recorder
        self.name = name
        self._log = log
        self.timeout_s = timeout_s
        self.protective: List[Order] = []  # protective orders still resting at the exchange (left as they are)

    async def run(self) -> List[Order]:
        """The orders settled (module docstring); raises :class:`Unsettled` (fail closed)."""
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(None, self._open_order_rows)
        if not rows:
            return []
        self._log(ev.CAT_ENGINE, f"reconciling {len(rows)} order(s) left in flight by earlier runs")
        deadline = time.monotonic() + self.timeout_s
        done: List[Order] = []
        for run_id, order in rows:
            if order.symbol not in self.gateway.markets():
                raise Unsettled(f"cannot reconcile order {order.clientOrderId}: {self.gateway.name} "
                                f"no longer lists {order.symbol}")
            known = await loop.run_in_executor(None, self._known_fills, order.clientOrderId)
            self.sender.booked[order.clientOrderId] = known
            ledger = _OldRunLedger(run_id, gateway=self.gateway, recorder=self.recorder, name=self.name,
                                   log=self._log)
            if await leftover_protection(self.sender, order):  # a stop still protecting the coins
                self.protective.append(order)
                continue
            await self.sender.settle(order, ledger, deadline=deadline)
            if order.state not in TERMINAL_STATES:  # pragma: no cover - settle only returns settled
                raise Unsettled(f"cannot reconcile order {order.clientOrderId}: still {order.state}")
            done.append(order)
        await asyncio.wrap_future(self.recorder.flush())
        return done

    def _open_order_rows(self) -> List[Tuple[int, Order]]:
        from ..store.db import OrderRec, Run

        # only orders of live runs: a paper run's orders never reached the exchange. peewee adds the
        # primary key ``id`` and the ``run_id`` accessor at class creation: the type stubs do not see them.
        rec: Any = OrderRec
        q = (OrderRec.select().join(Run, on=(OrderRec.run == Run.id))
             .where((OrderRec.connection == self.name) & OrderRec.state.in_(NON_TERMINAL) & (Run.mode == "live"))
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
