"""Crash recovery: the account of a run rebuilt from what it had committed.

A replay start also notes what it found (:func:`.carryover.note_replay_start`): other runs of the connection
left ``running`` are marked ``interrupted``, and a resumed run gets a reconciliation record
("resumed after an unclean stop"), one per resume, shown and stored like a live start's.

Positions and balance are rebuilt from the run's positions (balance = starting balance +
realized P&L - fees of every position), the peak and drawdown from its equity points. The
trading core's curve and orders in flight are put back by :func:`resume_core`.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Tuple

from ..core.accounting import Portfolio


def drawdown_of(curve: Iterable[Tuple[int, float]], start: float) -> Tuple[float, float]:
    """``(peak equity, max drawdown as a fraction)`` over ``curve`` [(ts ms, equity)], starting at ``start``."""
    peak, mdd = start, 0.0
    for _ts, eq in curve:
        if eq > peak:
            peak = eq
        elif peak > 0 and (peak - eq) / peak > mdd:
            mdd = (peak - eq) / peak
    return peak, mdd


def restore_portfolio(pf: Portfolio, state: Dict[str, Any]) -> None:
    """Put the positions, balance, P&L, fees and drawdown of ``state`` (see
    ``repositories.resume_state``) into ``pf``; open positions are marked at their last price."""
    positions = state["positions"]
    closed = [p for p in positions if p.closed_at is not None]
    open_ = [p for p in positions if p.closed_at is None and p.amount > 0]
    realized = sum(p.realized_pnl for p in positions)
    fees = sum(p.fees for p in positions)
    peak, mdd = drawdown_of(state["curve"], pf.starting_balance)
    pf.restore(open_, closed, pf.starting_balance + realized - fees, realized, fees, peak, mdd,
               max((p.id for p in positions), default=0) + 1)
    for p in open_:
        pf.last_prices[p.symbol] = p.last_price



def resume_core(core: Any, state: Dict[str, Any]) -> None:
    """Carry :class:`~cts_desktop.engine.core.TradingCore` ``core`` on from what its run had
    committed (see ``repositories.resume_state``): the account rebuilt by :func:`restore_portfolio`,
    the equity curve from its points, and the orders still in flight back at the paper exchange
    under their own clientOrderIds, so nothing is sent twice and order numbering continues where
    it stopped."""
    restore_portfolio(core.portfolio, state)
    core.equity_curve.restore(state["curve"], state["balances"])
    core._order_seq = state["max_order_seq"]
    for order in state["open_orders"]:
        core.orders.append(order)
        order.state = "pending-create"
        core.paper.submit(order, order.timestamp)
        core._inflight[order.symbol] = order
