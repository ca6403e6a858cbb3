"""Manual orders on a running engine: the order ticket and the tables' cancel / close commands.

A manual order goes where a strategy's goes: the same risk checks (:func:`core.risk.check_entry`,
then the exchange engines' :class:`~.breakers.Breakers`), the same order records, the same order
manager (the core's paper exchange; live: the outbox, sent by the
:class:`~.orders.OrderSender` and followed until settled). What differs is only the reason on
the order (``"manual entry"``, ``"manual exit"``, ``"manual close"``; a manual entry's strategy
is ``"manual"``) and the order type (market or limit). Paper rules as for strategies: a market
order fills at the next candle's open, a limit order when a later candle reaches it.

Everything that touches the core runs on the event loop, as all of a candle's steps but the
strategies' own calls do (exchange engines make those on a worker thread and handle their signals
on the loop: ``watchdog.timed_step``), so a manual order never races a strategy's and never waits
for one. Messages for the trader are raised as :class:`~cts_desktop.core.manual.TicketError`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from ..core import events as ev
from ..core.manual import (CLOSE_REASON, ENTRY_REASON, EXIT_REASON, MANUAL, Ticket, TicketError, TicketQuote,
                           equity_fraction, size_ticket)
from ..core.models import BUY, LONG, SELL, Order, Signal
from ..core.order_state import is_terminal
from ..core.risk import check_entry, truncate_amount
from ..exchange.errors import GatewayError
from .core import TradingCore

SETTLE_S = 10.0  # how long a live cancel waits for the exchange's final answer


@dataclass
class Verdict:
    """The risk verdict on a ticket: ``accepted``, ``reason`` (words), the sized ``quote``
    (None when the ticket itself was refused) and the ``order`` once placed."""

    accepted: bool
    reason: str
    quote: Optional[TicketQuote] = None
    order: Optional[Order] = None


def _core(eng: Any) -> TradingCore:
    core = getattr(eng, "core", None)
    if core is None or not getattr(eng, "active", False):
        raise TicketError(f"{eng.name}: the engine is not running: start it to trade by hand")
    return core


def quote_ticket(core: TradingCore, t: Ticket) -> TicketQuote:
    """``t`` sized on ``core``'s market at its last price (raises :class:`TicketError`)."""
    market = core.markets.get(t.symbol)
    if market is None:
        raise TicketError(f"{t.symbol} is not traded on {core.connection} (its symbols: {', '.join(core.markets)})")
    if t.tif != "GTC" and not core.external_execution:
        raise TicketError(f"{t.tif} orders need a live connection: the paper exchange rests limit orders (GTC)")
    return size_ticket(t, market, core.portfolio.last_prices.get(t.symbol, 0.0), core.portfolio.equity,
                       fee_override=core.paper.fee_override)


def _entry_verdict(core: TradingCore, t: Ticket, q: TicketQuote, ts: int, dry: bool) -> Tuple[bool, str, float]:
    pf = core.portfolio
    pos = pf.open.get(t.symbol)
    size = equity_fraction(q, pf.equity)
    if size > 1:
        return False, (f"{q.notional + q.fee:,.2f} {pf.currency} with the fee is more than the equity "
                       f"{pf.equity:,.2f} {pf.currency}"), 0.0
    open_count = len(pf.open) + sum(1 for s, o in list(core._inflight.items()) if not o.reduce_only and s not in pf.open)
    sig = Signal(ts, t.symbol, t.side, "entry", size=size, stop_loss=q.stop_loss, take_profit=q.take_profit,
                 reason=MANUAL, strategy=MANUAL)
    v = check_entry(sig, core.markets[t.symbol], q.price, equity=pf.equity, available=pf.available,
                    open_positions=open_count, position=pos, limits=core.limits, default_size=size, fee=q.fee_rate)
    if not v.accepted:
        return False, v.reason, 0.0
    if core.breakers is not None:  # a preview (dry) does not count towards the order-rate limit
        refused = core.breakers.entry_refusal(pf, t.symbol, q.notional, q.fee_rate, ts, dry=dry)
        if refused is not None:
            return False, refused, 0.0
    amount = q.amount + (pos.amount if pos is not None else 0.0)  # a reversal closes the other side too
    return True, f"ok: {t.side} {q.amount:g} {core.markets[t.symbol].base} (~{q.notional:,.2f} {pf.currency}, " \
                 f"{size:.1%} of equity)", amount


def verdict(core: TradingCore, t: Ticket, *, dry: bool = True) -> Verdict:
    """The risk verdict on ``t`` as the engine would give it now. With ``dry`` (a preview)
    nothing is recorded or counted. Raises :class:`TicketError` for a ticket that is not an order."""
    q = quote_ticket(core, t)
    ts = core.last_ts + core.data_tf_ms
    if t.symbol in core._inflight or t.symbol in core.paused:
        return Verdict(False, core.paused.get(t.symbol) or f"an order for {t.symbol} is already in flight "
                                                            "(cancel it first)", q)
    if t.reduce_only:
        pos = core.portfolio.open.get(t.symbol)
        if pos is None:
            return Verdict(False, f"reduce-only: no open position on {t.symbol}", q)
        if (pos.side == LONG) != (t.side == SELL):
            return Verdict(False, f"reduce-only: a {t.side} does not reduce the {pos.side} position", q)
        amount = min(q.amount, pos.amount)
        return Verdict(True, f"ok: reduces the {pos.side} {pos.amount:g} by {amount:g}", q)
    accepted, reason, _amount = _entry_verdict(core, t, q, ts, dry)
    pos = core.portfolio.open.get(t.symbol)
    if not accepted and pos is not None and (pos.side == LONG) == (t.side == SELL) \
            and not core.markets[t.symbol].can_short:
        reason += f" (to sell the {pos.amount:g} held, tick reduce-only or close the position)"
    return Verdict(accepted, reason, q)


def _place_now(core: TradingCore, t: Ticket) -> Verdict:
    q = quote_ticket(core, t)
    ts = core.last_ts + core.data_tf_ms
    v = verdict(core, t, dry=True)
    amount, reason, strategy = q.amount, ENTRY_REASON, MANUAL
    if v.accepted and t.reduce_only:
        pos = core.portfolio.open[t.symbol]
        amount, reason, strategy = min(q.amount, pos.amount), EXIT_REASON, pos.strategy
    elif v.accepted:
        accepted, text, amount = _entry_verdict(core, t, q, ts, dry=False)  # counts for the rate limit
        v = Verdict(accepted, text, q)
    sig = Signal(ts, t.symbol, t.side, "exit" if t.reduce_only else "entry", stop_loss=q.stop_loss,
                 take_profit=q.take_profit, reason=MANUAL, strategy=MANUAL)
    core.journal.signal(sig, v.accepted, v.reason, ts)
    if not v.accepted:
        core.log(ev.CAT_RISK, f"manual {t.side} {t.symbol} refused: {v.reason}", "warning")
        return v
    order = core._new_order(t.symbol, t.side, amount, ts, reason, strategy, reduce_only=t.reduce_only)
    order.type = t.type
    order.price = q.price if t.type == "limit" else None
    order.time_in_force = t.tif if t.type == "limit" else ""
    order.stop_loss, order.take_profit = q.stop_loss, q.take_profit
    core._submit(order, ts)
    v.order = order
    return v


async def _send(eng: Any, core: TradingCore) -> None:
    """Live: send what the core queued, as after a candle (exits disarm their protection first)."""
    if not core.external_execution or not core.outbox:
        return
    protector, sender = getattr(eng, "protector", None), getattr(eng, "orders", None)
    if protector is not None:
        await protector.drain()
    elif sender is not None:
        await sender.drain(core)


async def place(eng: Any, t: Ticket) -> Verdict:
    """Place ticket ``t`` on the running engine ``eng``; returns the verdict (with the order when
    accepted; live orders have been sent when this returns). Raises :class:`TicketError`."""
    core = _core(eng)
    v = _place_now(core, t)
    if v.order is not None:
        await _send(eng, core)
    return v


def open_orders(core: TradingCore) -> List[Order]:
    """The run's orders that are not final yet (resting limits, orders in flight)."""
    seen = {id(o): o for o in core._inflight.values() if not is_terminal(o.state)}
    seen.update({id(o): o for o in core.paper.open_orders()})
    return list(seen.values())


def _canceled_on_paper(core: TradingCore, order: Order) -> bool:
    if not core.paper.cancel(order):
        return False
    core.order_settled(order)
    core.journal.order(order)
    core.journal.order_changed(order)
    core.log(ev.CAT_ORDER, f"order {order.clientOrderId} canceled by hand")
    return True


async def cancel(eng: Any, client_id: str) -> Order:
    """Cancel the open order ``client_id`` of the run (paper: at once; live: at the exchange,
    then followed until the exchange says it is final). Raises :class:`TicketError`."""
    core = _core(eng)
    order = next((o for o in open_orders(core) if o.clientOrderId == client_id), None)
    if order is None:
        raise TicketError(f"order {client_id} is not open any more")
    if not core.external_execution:
        if not _canceled_on_paper(core, order):
            raise TicketError(f"order {client_id} is not open any more")
        return order
    sender = eng.orders
    try:
        await eng.gateway.cancel_order(order)
    except GatewayError as err:
        if err.kind != "order-not-found":
            raise TicketError(f"the exchange did not cancel {client_id}: {err.message}") from None
    task = sender.settlers.pop(client_id, None)
    if task is not None:
        task.cancel()
    core.log(ev.CAT_ORDER, f"order {client_id}: cancel asked by hand")
    await sender.settle(order, sender.live, deadline=time.monotonic() + SETTLE_S)
    return order


async def cancel_all(eng: Any) -> int:
    """Cancel every open order of the run; returns how many were canceled."""
    core = _core(eng)
    done = 0
    for order in open_orders(core):
        try:
            await cancel(eng, order.clientOrderId)
        except TicketError:
            continue  # filled meanwhile
        done += 1
    return done


def _close_now(core: TradingCore, symbol: str) -> Order:
    pos = core.portfolio.open.get(symbol)
    if pos is None:
        raise TicketError(f"no open position on {symbol}")
    if symbol in core._inflight:
        raise TicketError(f"an order for {symbol} is already in flight (cancel it first)")
    amount = truncate_amount(pos.amount, core.markets[symbol].amount_step)
    if amount <= 0:
        raise TicketError(f"{pos.amount:g} {symbol} is below the market's step: nothing to sell")
    ts = core.last_ts + core.data_tf_ms
    order = core._new_order(symbol, SELL if pos.side == LONG else BUY, amount, ts, CLOSE_REASON, pos.strategy,
                            reduce_only=True)
    core.log(ev.CAT_ORDER, f"closing the {pos.side} {pos.amount:g} {symbol} ({pos.strategy or 'no strategy'}) "
                           "at market by hand")
    core._submit(order, ts)
    return order


async def close(eng: Any, symbol: str) -> Order:
    """Close the open position on ``symbol`` at market (reason ``"manual close"``, the position
    keeps its strategy). Raises :class:`TicketError`."""
    core = _core(eng)
    order = _close_now(core, symbol)
    await _send(eng, core)
    return order


async def close_all(eng: Any) -> List[Order]:
    """Close every open position at market; positions with an order in flight are skipped
    (their symbols are listed in the raised :class:`TicketError` after the others went out)."""
    core = _core(eng)
    orders, skipped = [], []
    for symbol in list(core.portfolio.open):
        try:
            orders.append(await close(eng, symbol))
        except TicketError as exc:
            skipped.append(str(exc))
    if skipped:
        raise TicketError("; ".join(skipped))
    return orders
