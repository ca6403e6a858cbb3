"""Moving an open position's stop-loss / take-profit by hand (the Positions table's dialog, a
dragged line in the chart).

:func:`check_stops` is the rule: a long's stop-loss sits below the last price and its
take-profit above it, a short's the other way round; prices are rounded to the market's tick;
``None`` clears one. :func:`move` applies it to a running engine: the position's stops change
(recorded: the position row, an Activity line ``"stop-loss moved from X to Y (manual)"``), then

* where the stops rest at the exchange (``Position.protection == "exchange"``, see
  :mod:`.protection`), the :class:`~.protection.Protector` replaces the protective orders (the
  old OCO / stop order canceled, the new one placed, both through its own code) before this
  returns; should the exchange refuse the new one, the app holds the stops (the protector's rule);
* where the app holds them (paper runs, other exchanges), the new levels are checked from the
  next price on: nothing else to do.

Prices in quote. Messages for the trader are raised as
:class:`~cts_desktop.core.manual.TicketError` (a ``ValueError``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from ..core import events as ev
from ..core.manual import MANUAL, TicketError
from ..core.models import LONG, Market, Position
from .core import TradingCore
from .manual import _core

LEVELS = ("stop-loss", "take-profit")


@dataclass
class Moved:
    """What a move did: the position's ``symbol``, ``side``, the stops ``before`` and ``after``
    (``(stop-loss, take-profit)``, quote, None: none), ``protection`` where they rest now
    (``"exchange"``, ``"app"`` or ``""``) and ``text``, one line for the trader."""

    symbol: str
    side: str
    before: Tuple[Optional[float], Optional[float]]
    after: Tuple[Optional[float], Optional[float]]
    protection: str
    text: str = ""


def _fmt(price: Optional[float]) -> str:
    """A price as the trader typed it: every digit up to 10 (``:g`` would print 16637.74 as 16637.7)."""
    return "none" if price is None else f"{price:.10g}"


def _rounded(price: Optional[float], market: Market, what: str) -> Optional[float]:
    if price is None:
        return None
    if not price > 0:
        raise TicketError(f"the {what} must be a price above 0 (leave it empty to remove it)")
    return on_tick(price, market.price_step)


def on_tick(price: float, step: float) -> float:
    """``price`` rounded to the tick ``step`` (quote), printed as typed: 17141.92, not 17141.920000000002."""
    if step <= 0:
        return price
    decimals = len(f"{step:.12f}".rstrip("0").split(".")[1])  # 0.01 -> 2
    return round(round(price / step) * step, decimals)


def check_stops(pos: Position, market: Market, last: float, stop_loss: Optional[float],
                take_profit: Optional[float]) -> Tuple[Optional[float], Optional[float]]:
    """The new ``(stop-loss, take-profit)`` of ``pos`` rounded to ``market``'s tick, checked
    against the ``last`` price (quote): a long's stop-loss below it and take-profit above it, a
    short's the reverse. None clears one. Raises :class:`TicketError` with the reason."""
    if not last > 0:
        raise TicketError(f"no price for {pos.symbol} yet: wait for the next candle")
    sl = _rounded(stop_loss, market, "stop-loss")
    tp = _rounded(take_profit, market, "take-profit")
    long = pos.side == LONG
    if sl is not None and (sl >= last if long else sl <= last):
        raise TicketError(f"a {pos.side}'s stop-loss must be {'below' if long else 'above'} the last price "
                          f"{_fmt(last)} (it would trigger at once): {_fmt(sl)}")
    if tp is not None and (tp <= last if long else tp >= last):
        raise TicketError(f"a {pos.side}'s take-profit must be {'above' if long else 'below'} the last price "
                          f"{_fmt(last)} (it would trigger at once): {_fmt(tp)}")
    return sl, tp


def _changes(before: Tuple[Optional[float], Optional[float]], after: Tuple[Optional[float], Optional[float]]) -> List[str]:
    out = []
    for name, old, new in zip(LEVELS, before, after, strict=True):
        if old != new:
            out.append(f"{name} moved from {_fmt(old)} to {_fmt(new)} ({MANUAL})")
    return out


def last_price(eng: Any, core: TradingCore, symbol: str) -> float:
    """The price stops are checked against (quote): the protector's newest poll, else the last close."""
    protector = getattr(eng, "protector", None)
    polled = protector.prices.get(symbol) if protector is not None else None
    return float(polled or core.portfolio.last_prices.get(symbol, 0.0))


def _move_now(eng: Any, core: TradingCore, symbol: str, stop_loss: Optional[float],
              take_profit: Optional[float]) -> Moved:
    pos = core.portfolio.open.get(symbol)
    if pos is None:
        raise TicketError(f"no open position on {symbol}")
    if symbol in core._inflight:
        raise TicketError(f"an order for {symbol} is in flight: move the stops once it has settled")
    if core.breakers is not None and "kill" in core.breakers.holds:  # it flattens: nothing is armed again
        raise TicketError("the kill switch is on: its positions are being closed, their stops stay as they are")
    sl, tp = check_stops(pos, core.markets[symbol], last_price(eng, core, symbol), stop_loss, take_profit)
    before = (pos.stop_loss, pos.take_profit)
    moved = Moved(symbol, pos.side, before, (sl, tp), pos.protection)
    changes = _changes(before, (sl, tp))
    if not changes:
        moved.text = f"{symbol}: the stops are unchanged (stop-loss {_fmt(sl)}, take-profit {_fmt(tp)})"
        return moved
    pos.stop_loss, pos.take_profit = sl, tp
    core.journal.position_changed(pos)
    for line in changes:
        core.log(ev.CAT_POSITION, f"{symbol} {pos.side} position #{pos.id}: {line}")
    moved.text = f"{symbol}: " + "; ".join(changes)
    return moved


def _unprotect(core: TradingCore, symbol: str) -> None:
    pos = core.portfolio.open.get(symbol)
    if pos is not None and pos.protection:
        pos.protection = ""
        core.journal.position_changed(pos)


async def move(eng: Any, symbol: str, stop_loss: Optional[float], take_profit: Optional[float]) -> Moved:
    """Set the stops of the open position on ``symbol`` of the running engine ``eng`` to
    ``stop_loss`` / ``take_profit`` (quote; None: none). Exchange-held protection is replaced
    before this returns (see the module docstring). Raises :class:`TicketError`."""
    core = _core(eng)
    moved = _move_now(eng, core, symbol, stop_loss, take_profit)
    protector = getattr(eng, "protector", None)
    if moved.before == moved.after:
        return moved
    if protector is None:  # a paper replay: the core checks the new levels on the next candle
        if moved.after == (None, None):
            _unprotect(core, symbol)
        return moved
    async with protector.lock:
        await protector.sync()
    pos, was = core.portfolio.open.get(symbol), moved.protection
    if moved.after == (None, None):
        _unprotect(core, symbol)  # nothing left to hold (the legs at the exchange were canceled)
    moved.protection = pos.protection if pos is not None else ""
    if moved.protection == "exchange":
        moved.text += " (protective orders at the exchange replaced)"
    elif was == "exchange" and moved.after == (None, None):
        moved.text += " (protective orders at the exchange canceled)"
    elif moved.protection == "app" and moved.before != (None, None) and protector.sender is not None \
            and protector.where(symbol) == "exchange":
        moved.text += " (the exchange refused the new orders: the app holds the stops)"
    return moved
