"""Protection across restarts: what start-up reconciliation does with the protective orders
(stop-loss / take-profit legs, see :mod:`.protection`) that earlier runs left at the exchange."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Protocol, Tuple

from ..core import events as ev
from ..core.models import LONG, Order, Position
from ..core.order_state import is_terminal
from ..exchange.errors import GatewayError
from .orders import OrderSender
from .lifecycle import LogFn


class Reconciling(Protocol):
    """What :func:`reconcile_with_stops` needs of the :class:`~.reconcile.Reconciler`."""

    name: str
    protective: List[Order]

    async def run(self) -> List[Order]:
        """The orders settled."""

PROTECTIVE_REASONS = ("stop-loss", "take-profit")


async def leftover_protection(sender: OrderSender, order: Order) -> bool:
    """Start-up reconciliation of an earlier run's protective leg: True when it still rests at
    the exchange untouched (it goes on protecting the coins; nothing to book), False when it
    must be settled as any order (it executed, expired or was canceled)."""
    if order.reason not in PROTECTIVE_REASONS:
        return False
    try:
        await sender.gateway.fetch_order(order)
    except GatewayError:
        return False
    return not is_terminal(order.state) and not order.filled


def sort_leftovers(leftovers: List[Order], open_positions: Dict[str, Position],
                   log: LogFn) -> Tuple[Dict[str, List[Order]], List[Order]]:
    """``(legs to adopt per symbol, futures legs to cancel)`` of an earlier run's protective
    ``leftovers`` still resting at the exchange: a symbol's legs are adopted when its open position
    (``open_positions``: symbol -> position of the new run) has their size; the others are left as
    they are (logged), except futures legs (reduce-only trigger orders of this app, which would act
    on a later position), which are to be canceled."""
    from ..exchange.conditional import CONDITIONAL_TYPES

    by_symbol: Dict[str, List[Order]] = {}
    for leg in leftovers:
        by_symbol.setdefault(leg.symbol, []).append(leg)
    fit: Dict[str, List[Order]] = {}
    orphans: List[Order] = []
    for sym, legs in by_symbol.items():
        pos = open_positions.get(sym)
        if pos is not None and all(abs(leg.amount - pos.amount) <= 1e-9 * max(pos.amount, 1.0) for leg in legs):
            fit[sym] = legs
            continue
        for leg in legs:
            ours = leg.type in CONDITIONAL_TYPES
            orphans += [leg] if ours else []
            log(ev.CAT_ORDER, f"protective order {leg.clientOrderId} ({leg.reason}) of an earlier run rests at the "
                              f"exchange for {leg.amount:g} {sym}: "
                              + ("canceled (no position of that size)" if ours else "left as it is"), "warning")
    return fit, orphans


def close_positions_of_stops(name: str, orders: List[Order]) -> List[str]:
    """Close the earlier runs' positions that a protective leg among ``orders`` (settled by
    start-up reconciliation) executed while the app was down. Only rows still open change, so
    this books each once. Returns a line per position closed (for the log). Runs on a worker
    thread (it reads and writes the database directly)."""
    from ..store.db import OrderRec, PositionRec

    rec: Any = OrderRec
    prec: Any = PositionRec
    lines = []
    for o in orders:
        if o.reason not in PROTECTIVE_REASONS or not o.filled or o.position_id is None:
            continue
        row = rec.get_or_none((rec.connection == name) & (rec.client_order_id == o.clientOrderId))
        if row is None:
            continue
        pos = prec.get_or_none((prec.run == row.run_id) & (prec.position_id == o.position_id) & prec.closed_at.is_null())
        if pos is None:
            continue
        price = o.average or o.price or 0.0
        amount = min(o.filled, pos.amount)
        pnl = (price - pos.entry_price) * amount if pos.side == LONG else (pos.entry_price - price) * amount
        left = pos.amount - amount
        closed = left <= 1e-9 * max(pos.max_amount, 1.0)
        prec.update(amount=0.0 if closed else left, exit_price=price, realized_pnl=pos.realized_pnl + pnl,
                    fees=pos.fees + (o.fee or 0.0), closed_at=(o.timestamp or int(time.time() * 1000)) if closed else None,
                    close_reason=o.reason if closed else pos.close_reason).where(prec.id == pos.id).execute()
        lines.append(f"position #{pos.position_id} {pos.symbol} (run #{row.run_id}) "
                     f"{'closed' if closed else 'reduced'} by its {o.reason} at the exchange: {amount:g} @ {price:g}")
    return lines


async def reconcile_with_stops(reconciler: Reconciling, log: LogFn) -> Tuple[List[Order], List[Order]]:
    """Run start-up reconciliation, then close the positions protective orders executed while
    the app was down (:func:`close_positions_of_stops`, logged). Returns (the orders settled,
    the protective orders still resting at the exchange)."""
    settled = await reconciler.run()
    lines = await asyncio.get_running_loop().run_in_executor(None, close_positions_of_stops, reconciler.name, settled)
    for line in lines:
        log(ev.CAT_POSITION, line)
    return settled, reconciler.protective
