"""Changing orders and positions by hand: amend (cancel-replace) a resting limit order, close a
position with a limit order.

Amend: the replacement is checked first (sized on the market's step and tick, as a ticket: a
refusal changes nothing), then the original is canceled (:func:`.manual.cancel`: paper at once,
live once the exchange confirmed it), and only then is the replacement placed with a new
clientOrderId through the ticket's path (:func:`.manual.place`: risk checks, records, order
manager). When the original filled meanwhile nothing is placed and :class:`TicketError` says
so; a partly filled original is replaced by what is left (the new amount minus what filled).

Close at limit: a reduce-only limit order for the whole position at the trader's price (reason
``"manual exit"``; it rests like any limit and is canceled or amended like one).
"""
from __future__ import annotations

from typing import Any, Optional

from ..core.manual import Ticket, TicketError
from ..core.models import BUY, FILLED, LONG, SELL, Order
from . import manual
from .manual import Verdict

EPS = 1e-12


def _limit_order(core: Any, client_id: str) -> Order:
    order = next((o for o in manual.open_orders(core) if o.clientOrderId == client_id), None)
    if order is None:
        raise TicketError(f"order {client_id} is not open any more (filled or canceled): nothing was placed")
    if order.type != "limit" or order.price is None:
        raise TicketError(f"order {client_id} is a {order.type} order: only a resting limit order can be amended")
    return order


def replacement(order: Order, price: Optional[float], amount: Optional[float]) -> Ticket:
    """The ticket that replaces ``order``: limit at ``price`` (quote; None: unchanged) for
    ``amount`` (base, the new total; None: unchanged) minus what ``order`` filled."""
    total = amount if amount is not None else order.amount
    left = total - order.filled
    if left <= EPS:
        raise TicketError(f"{order.filled:g} of order {order.clientOrderId} filled already: "
                          f"a new amount of {total:g} leaves nothing to place")
    return Ticket(order.symbol, order.side, left, unit="base", type="limit",
                  price=price if price is not None else order.price, tif=order.time_in_force or "GTC",
                  reduce_only=order.reduce_only)


async def amend(eng: Any, client_id: str, price: Optional[float] = None,
                amount: Optional[float] = None) -> Verdict:
    """Cancel-replace the resting limit order ``client_id`` with ``price`` (quote) and/or
    ``amount`` (base, the new total). Returns the replacement's verdict (with its order).
    Raises :class:`TicketError` (nothing changed, or the original filled: nothing placed)."""
    core = manual._core(eng)
    order = _limit_order(core, client_id)
    if price is None and amount is None:
        raise TicketError("give a new price or a new amount")
    manual.quote_ticket(core, replacement(order, price, amount))  # a bad replacement changes nothing
    sl, tp = order.stop_loss, order.take_profit
    try:
        await manual.cancel(eng, client_id)
    except TicketError:
        raise TicketError(f"order {client_id} filled or ended before it could be canceled: nothing was "
                          "placed") from None
    if order.state == FILLED:
        raise TicketError(f"order {client_id} filled before the cancel reached it: nothing was placed")
    try:
        ticket = replacement(order, price, amount)
    except TicketError as exc:
        raise TicketError(f"order {client_id} canceled; {exc}") from None
    v = await manual.place(eng, ticket)
    if v.order is None:
        raise TicketError(f"order {client_id} canceled, but the replacement was refused: {v.reason}")
    if sl is not None or tp is not None:  # the entry's stops (fractions of the fill) carry over
        v.order.stop_loss, v.order.take_profit = sl, tp
        core.journal.order(v.order)
    return v


def close_ticket(core: Any, symbol: str, price: float) -> Ticket:
    """The reduce-only limit ticket closing the whole position on ``symbol`` at ``price`` (quote)."""
    pos = core.portfolio.open.get(symbol)
    if pos is None:
        raise TicketError(f"no open position on {symbol}")
    if not price or price <= 0:
        raise TicketError("a limit close needs a price above 0")
    return Ticket(symbol, SELL if pos.side == LONG else BUY, pos.amount, unit="base", type="limit", price=price,
                  reduce_only=True)


async def close_at_limit(eng: Any, symbol: str, price: float) -> Verdict:
    """Close the position on ``symbol`` with a reduce-only limit order at ``price`` (quote).
    Raises :class:`TicketError`."""
    return await manual.place(eng, close_ticket(manual._core(eng), symbol, price))
