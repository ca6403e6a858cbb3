"""Manual orders: what the order ticket asks for, checked and sized against a market.

A :class:`Ticket` is the trader's request. :func:`size_ticket` turns it into a
:class:`TicketQuote` (the amount in base, rounded to the market's step; the limit price rounded
to its tick; notional and fee in quote) or raises :class:`TicketError` with the words the GUI and
the command line both show. Pure: no I/O, no engine; the engine (``engine/manual.py``) puts the
quote through the same risk checks and order manager as a strategy's order.

Units: ``amount`` is in base (``unit="base"``), in quote (``unit="quote"``: the notional to
spend at the reference price) or a fraction of equity (``unit="equity"``, 0 < x <= 1).
``stop_loss`` / ``take_profit`` are *prices* (quote); the engine keeps them as distances from the
entry (fractions), as a strategy's.

Stop orders (``type="stop_market"`` / ``"stop_limit"``) carry a ``trigger`` price (quote): a buy
stop triggers when the price rises to it, a sell stop when it falls to it, so the trigger must be
above the last price for a buy and below it for a sell (checked here, rounded to the tick). The
engine holds the trigger (``engine/stop_orders.py``) and, once it is reached, sends
:func:`fired_ticket` (a market order, or a limit at ``price``) like any ticket.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from .models import BUY, SELL, Market, Order
from .risk import truncate_amount

UNITS = ("base", "quote", "equity")
STOP_TYPES = ("stop_market", "stop_limit")  # held by the app until the trigger is reached
ORDER_TYPES = ("market", "limit") + STOP_TYPES
TIME_IN_FORCE = ("GTC", "IOC", "PO")  # good till canceled, immediate or cancel, post-only
MANUAL = "manual"  # Order.strategy of a manual entry; every manual Order.reason starts with it
ENTRY_REASON = "manual entry"
CLOSE_REASON = "manual close"
EXIT_REASON = "manual exit"  # a reduce-only ticket
ENTRY_REASONS = ("entry", ENTRY_REASON)  # orders whose fill arms the order's stop-loss / take-profit


class TicketError(ValueError):
    """A ticket that cannot be sent (message: why, for the trader)."""


@dataclass
class Ticket:
    """One manual order as the trader asks for it (units: module docstring).

    ``type``: ``"market"``, ``"limit"``, ``"stop_market"`` or ``"stop_limit"`` (``trigger``: the
    stop's trigger price, quote; a stop-limit's limit is ``price``); ``tif``: ``"GTC"``, ``"IOC"`` or ``"PO"`` (limit only);
    ``reduce_only``: only reduces the open position (a partial or whole close)."""

    symbol: str
    side: str
    amount: float
    unit: str = "base"
    type: str = "market"
    price: Optional[float] = None
    tif: str = "GTC"
    stop_loss: Optional[float] = None
    take_profit: Optional[float] = None
    reduce_only: bool = False
    trigger: Optional[float] = None


@dataclass
class TicketQuote:
    """What a ticket comes to: ``amount`` (base, on the market's step), ``price`` (the limit
    price on its tick, or the reference price for a market order; quote), ``notional``
    (amount * price, quote), ``fee`` (quote, at ``fee_rate``, a fraction), ``stop_loss`` /
    ``take_profit`` as fractions of ``price`` (None: none)."""

    amount: float
    price: float
    notional: float
    fee: float
    fee_rate: float
    stop_loss: Optional[float] = None
    take_profit: Optional[float] = None
    trigger: Optional[float] = None  # stop orders: the trigger on the market's tick (quote)


def is_manual(reason: str) -> bool:
    """True for the reason of an order placed by hand."""
    return reason.startswith(MANUAL)


def order_kind(order: Order) -> str:
    """``"market"`` or ``"limit 20000.1"`` (with the price), for log lines."""
    return "market" if order.type == "market" or order.price is None else f"{order.type} {order.price:g}"


def equity_fraction(quote: TicketQuote, equity: float) -> float:
    """The fraction of ``equity`` (quote) the order's notional plus fee takes: the size the risk
    checks see (0 when equity is not positive)."""
    return (quote.notional + quote.fee) / equity if equity > 0 else 0.0


def is_stop(ticket: Ticket) -> bool:
    """True for a stop order's ticket (held by the engine until its trigger)."""
    return ticket.type in STOP_TYPES


def fired_ticket(t: Ticket) -> Ticket:
    """What a triggered stop sends: a market order (stop-market) or a limit at ``t.price``."""
    kind = "market" if t.type == "stop_market" else "limit"
    return Ticket(t.symbol, t.side, t.amount, unit=t.unit, type=kind, price=t.price if kind == "limit" else None,
                  tif=t.tif if kind == "limit" else "GTC", stop_loss=t.stop_loss, take_profit=t.take_profit,
                  reduce_only=t.reduce_only)


def reached(side: str, trigger: float, low: float, high: float) -> bool:
    """True when prices from ``low`` to ``high`` (quote) reach a ``side`` stop's ``trigger``:
    a buy stop at or above it, a sell stop at or below it."""
    return high >= trigger if side == BUY else low <= trigger


def order_type_text(order: Order) -> str:
    """``"stop-market, trigger 21000"`` or ``"stop-limit 21010, trigger 21000"`` for a stop
    order, else :func:`order_kind`'s words."""
    if order.type not in STOP_TYPES:
        return order_kind(order)
    limit = f" {order.price:g}" if order.type == "stop_limit" and order.price else ""
    return f"{order.type.replace('_', '-')}{limit}, trigger {order.trigger or 0:g}"


def _round_tick(price: float, step: float) -> float:
    return round(round(price / step) * step, _decimals(step)) if step > 0 else price


def _decimals(step: float) -> int:
    """Decimal places of a tick size (0.1 -> 1, 0.0005 -> 4), so 200001 ticks of 0.1 print 20000.1."""
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _check_shape(t: Ticket) -> None:
    if t.side not in (BUY, SELL):
        raise TicketError(f"side must be buy or sell, got {t.side!r}")
    if t.type not in ORDER_TYPES:
        raise TicketError(f"order type must be market, limit, stop_market or stop_limit, got {t.type!r}")
    if t.unit not in UNITS:
        raise TicketError(f"amount unit must be base, quote or equity, got {t.unit!r}")
    if t.tif not in TIME_IN_FORCE:
        raise TicketError(f"time in force must be GTC, IOC or PO (post-only), got {t.tif!r}")
    if t.type in ("market", "stop_market") and t.tif != "GTC":
        raise TicketError(f"{t.tif} applies to limit orders only")
    if t.type in STOP_TYPES and not (t.trigger and t.trigger > 0):
        raise TicketError("a stop order needs a trigger price above 0")
    if not (t.amount and t.amount > 0):
        raise TicketError("enter an amount above 0")
    if t.unit == "equity" and t.amount > 1:
        raise TicketError(f"a fraction of equity is at most 1 (100 %), got {t.amount:g}")
    if t.type in ("limit", "stop_limit") and not (t.price and t.price > 0):
        raise TicketError("a limit order needs a price above 0")


def _protection(t: Ticket, price: float) -> Tuple[Optional[float], Optional[float]]:
    """Stop-loss / take-profit prices -> fractions of ``price``; raises when on the wrong side."""
    if t.reduce_only and (t.stop_loss or t.take_profit):
        raise TicketError("a reduce-only order cannot carry a stop-loss or take-profit")
    sl = tp = None
    if t.stop_loss:
        if (t.side == BUY) != (t.stop_loss < price):
            raise TicketError(f"the stop-loss {t.stop_loss:g} must be {'below' if t.side == BUY else 'above'} "
                              f"the price {price:g} for a {t.side}")
        sl = abs(price - t.stop_loss) / price
    if t.take_profit:
        if (t.side == BUY) != (t.take_profit > price):
            raise TicketError(f"the take-profit {t.take_profit:g} must be {'above' if t.side == BUY else 'below'} "
                              f"the price {price:g} for a {t.side}")
        tp = abs(t.take_profit - price) / price
    return sl, tp


def size_ticket(t: Ticket, market: Market, last_price: float, equity: float, *,
                fee_override: Optional[float] = None) -> TicketQuote:
    """Check ``t`` against ``market`` and size it at ``last_price`` (quote; the reference for a
    market order and for quote / equity amounts) with the account's ``equity`` (quote).

    The amount is truncated to the market's step, the limit price rounded to its tick; then the
    market's minimum amount (base) and minimum notional (quote) are checked. ``fee_override``:
    the connection's fee (fraction) instead of the market's. Raises :class:`TicketError`."""
    _check_shape(t)
    if t.symbol != market.symbol:
        raise TicketError(f"{t.symbol} is not {market.symbol}")
    price = last_price
    trigger = _check_trigger(t, market, last_price) if t.type in STOP_TYPES else None
    if trigger is not None:
        price = trigger  # a stop-market is sized at its trigger
    if t.type in ("limit", "stop_limit"):
        assert t.price is not None
        price = _round_tick(t.price, market.price_step)
    if not price > 0:
        raise TicketError(f"no price for {t.symbol} yet: wait for the first candle")
    maker = t.type in ("limit", "stop_limit") and t.tif != "IOC"
    rate = fee_override if fee_override is not None else (market.maker_fee if maker else market.taker_fee)
    if t.unit == "base":
        raw = t.amount
    elif t.unit == "quote":
        raw = t.amount / price
    else:
        raw = equity * t.amount / (price * (1 + rate)) if equity > 0 else 0.0
    amount = truncate_amount(raw, market.amount_step)
    if amount <= 0:
        raise TicketError(f"{raw:.8g} {market.base} rounds to 0 on the market's step of {market.amount_step:g}")
    if amount < market.min_amount:
        raise TicketError(f"amount {amount:g} {market.base} is under the market minimum {market.min_amount:g} "
                          f"{market.base}")
    notional = amount * price
    if notional < market.min_cost:
        raise TicketError(f"notional {notional:.8g} {market.quote} is under the market minimum "
                          f"{market.min_cost:g} {market.quote}")
    sl, tp = _protection(t, price)
    return TicketQuote(amount=amount, price=price, notional=notional, fee=notional * rate, fee_rate=rate,
                       stop_loss=sl, take_profit=tp, trigger=trigger)


def _check_trigger(t: Ticket, market: Market, last_price: float) -> float:
    """The stop's trigger on the market's tick; raises :class:`TicketError` when it is on the
    wrong side of ``last_price`` (a buy stop triggers above it, a sell stop below)."""
    assert t.trigger is not None
    if not last_price > 0:
        raise TicketError(f"no price for {t.symbol} yet: wait for the first candle")
    trigger = _round_tick(t.trigger, market.price_step)
    if (t.side == BUY and trigger <= last_price) or (t.side == SELL and trigger >= last_price):
        where = "above" if t.side == BUY else "below"
        raise TicketError(f"the trigger {trigger:g} of a {t.side} stop must be {where} the last price "
                          f"{last_price:g}")
    return trigger
