"""Trading by hand, for the GUI's order ticket and tables (and any command line to come).

:class:`TradingService` wraps :mod:`cts_desktop.engine.manual` for the engines of an
``AppServices``: a ticket's preview (amount, price, notional and fee, the risk verdict), the live
confirmation text, placing it (stop orders are held by the engine: :mod:`~cts_desktop.engine.stop_orders`),
and the tables' cancel / cancel all / amend / close / close at limit / close all. Every
message a trader sees for a bad ticket is raised from here as
:class:`~cts_desktop.core.manual.TicketError` (a ``ValueError``), so every front end says the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from ..core.manual import UNITS, Ticket, TicketError, is_stop
from ..core.models import FAILED, Market, Order
from ..engine import manual, move_stops, order_edits, stop_orders

__all__ = ["Preview", "Ticket", "TicketError", "TradingService", "UNITS"]


@dataclass
class Preview:
    """A ticket as it would go now: ``amount`` (base), ``price`` (quote: limit or last),
    ``notional`` and ``fee`` (quote), ``accepted`` and ``verdict`` (the risk checks' words), and
    ``text``: one line for the ticket. ``error``: why the ticket is not an order yet ("" if it is)."""

    accepted: bool = False
    verdict: str = ""
    amount: float = 0.0
    price: float = 0.0
    notional: float = 0.0
    fee: float = 0.0
    base: str = ""
    quote: str = ""
    error: str = ""

    @property
    def text(self) -> str:
        if self.error:
            return self.error
        return (f"{self.amount:g} {self.base} at {self.price:g}: {self.notional:,.2f} {self.quote} "
                f"+ fee {self.fee:,.4f} {self.quote}")


class TradingService:
    """Manual orders on the running engines of ``services`` (an ``AppServices``)."""

    def __init__(self, services: Any) -> None:
        self.services = services

    def _engine(self, name: str) -> Any:
        eng = self.services.engines.get(name)
        if eng is None or not eng.active or eng.core is None:
            raise TicketError(f"{name}: the engine is not running: start it to trade by hand")
        return eng

    def is_live(self, name: str) -> bool:
        """True when ``name``'s orders go to a real exchange with real money."""
        return bool(self.services.connection(name).live)

    def symbols(self, name: str) -> List[str]:
        """The symbols the running engine trades (the configured ones when it is not running)."""
        eng = self.services.engines.get(name)
        core = getattr(eng, "core", None)
        if core is not None:
            return list(core.markets)
        return list(getattr(self.services.connection(name), "symbols", []) or [])

    def market(self, name: str, symbol: str) -> Optional[Market]:
        """The market rules of ``symbol`` on the running engine (None when not running)."""
        core = getattr(self.services.engines.get(name), "core", None)
        return core.markets.get(symbol) if core is not None else None

    def last_price(self, name: str, symbol: str) -> float:
        """The last close of ``symbol`` the running engine saw (quote; 0 when none)."""
        core = getattr(self.services.engines.get(name), "core", None)
        return core.portfolio.last_prices.get(symbol, 0.0) if core is not None else 0.0

    def preview(self, name: str, ticket: Ticket) -> Preview:
        """What ``ticket`` comes to now and the risk verdict on it; never raises for a bad
        ticket (its message is in ``error``), so the ticket can show it as the trader types."""
        try:
            eng = self._engine(name)
            v = manual.verdict(eng.core, ticket, dry=True)
        except TicketError as exc:
            return Preview(error=str(exc))
        except RuntimeError:  # the engine's worker changed the account while we read it: next refresh
            return Preview(error="the engine is deciding on a candle: the estimate follows in a moment")
        q = v.quote
        assert q is not None
        m = eng.core.markets[ticket.symbol]
        return Preview(v.accepted, v.reason, q.amount, q.price, q.notional, q.fee, m.base, m.quote)

    def confirmation(self, name: str, ticket: Ticket) -> Optional[str]:
        """The question to ask before a live order (exchange, side, amount, notional), or None for
        paper connections, when the ``confirm_live_orders`` setting is off and when the connection's
        ``confirm_orders`` is off (:meth:`set_confirm_orders`). Raises :class:`TicketError` for a
        ticket that is not an order."""
        if not self.is_live(name) or not self._confirms() or not self.confirms_orders(name):
            return None
        p = self.preview(name, ticket)
        if p.error:
            raise TicketError(p.error)
        conn = self.services.connection(name)
        kind = _kind_text(ticket, p.price)
        return (f"LIVE order on {conn.exchange}{' testnet' if conn.testnet else ''} ({name}):\n"
                f"{ticket.side.upper()} {p.amount:g} {p.base} {ticket.symbol}, {kind}"
                f"{', reduce-only' if ticket.reduce_only else ''}\n"
                f"notional ~{p.notional:,.2f} {p.quote}, fee ~{p.fee:,.4f} {p.quote}\n\n"
                + ("Send it to the testnet?" if conn.testnet else "Send it with real money?"))

    def confirms_orders(self, name: str) -> bool:
        """False when connection ``name`` sends live orders by hand without asking."""
        return bool(getattr(self.services.connection(name), "confirm_orders", True))

    def set_confirm_orders(self, name: str, ask: bool) -> str:
        """Ask (``ask`` True) or no longer ask before ``name``'s live orders by hand; stored on
        the connection (the settings file), not for the others. Returns a line for the trader."""
        conn = self.services.connection(name)
        conn.confirm_orders = bool(ask)
        self.services.save_connection(conn)
        return (f"{name}: live orders by hand ask first" if ask else
                f"{name}: live orders by hand go out WITHOUT a question (turn it back on in the connection's settings)")

    def _confirms(self) -> bool:
        try:
            return bool(self.services.app_settings["confirm_live_orders"])
        except KeyError:
            return True

    async def place(self, name: str, ticket: Ticket) -> str:
        """Place ``ticket`` on ``name``'s running engine; returns one line for the trader. A risk
        refusal raises :class:`TicketError` with the verdict."""
        v = await stop_orders.place(self._engine(name), ticket)
        if not v.accepted or v.order is None:
            raise TicketError(f"refused: {v.reason}")
        o = v.order
        if is_stop(ticket):
            return (f"{o.side} {o.amount:g} {o.symbol} {o.type.replace('_', '-')} held until the trigger "
                    f"{o.trigger:g} ({o.clientOrderId})")
        if o.state == FAILED:  # refused by the exchange (or not sent): its words
            raise TicketError(f"order {o.clientOrderId} {o.status}: {o.error}")
        text = f"{o.side} {o.amount:g} {o.symbol} {o.type} placed ({o.clientOrderId}, {o.state})"
        return f"{text}: {o.error}" if o.error else text  # an IOC canceled unfilled says so

    def open_orders(self, name: str) -> List[Order]:
        """The running engine's orders that are not final (empty when it is not running)."""
        eng = self.services.engines.get(name)
        if eng is None or getattr(eng, "core", None) is None or not eng.active:
            return []
        return stop_orders.open_orders(eng.core)

    async def cancel(self, name: str, client_id: str) -> str:
        """Cancel one open order (by clientOrderId); returns a line for the trader."""
        o = await stop_orders.cancel(self._engine(name), client_id)
        return f"order {client_id} {o.state}"

    async def cancel_all(self, name: str) -> str:
        n = await stop_orders.cancel_all(self._engine(name))
        return f"{n} order{'' if n == 1 else 's'} canceled"

    async def close(self, name: str, symbol: str) -> str:
        """Close the position on ``symbol`` at market (recorded as ``"manual close"``)."""
        o = await manual.close(self._engine(name), symbol)
        return f"closing {symbol}: {o.side} {o.amount:g} at market ({o.clientOrderId})"

    async def close_all(self, name: str) -> str:
        orders = await manual.close_all(self._engine(name))
        return f"closing {len(orders)} position{'' if len(orders) == 1 else 's'} at market"

    # -- moving a position's stop-loss / take-profit (engine/move_stops.py) -----------------------
    def stops(self, name: str, symbol: str) -> Optional[Tuple[Optional[float], Optional[float]]]:
        """``(stop-loss, take-profit)`` (quote, None: none) of the open position on ``symbol`` of
        ``name``'s running engine; None when there is no such position (or the engine is stopped)."""
        eng = self.services.engines.get(name)
        core = getattr(eng, "core", None) if eng is not None and eng.active else None
        pos = core.portfolio.open.get(symbol) if core is not None else None
        return (pos.stop_loss, pos.take_profit) if pos is not None else None

    def stops_price(self, name: str, symbol: str) -> float:
        """The price (quote) moved stops of ``symbol`` are checked against now: the newest polled
        price of a running exchange engine, else the last close (0 when the engine is stopped)."""
        eng = self.services.engines.get(name)
        core = getattr(eng, "core", None) if eng is not None and eng.active else None
        return move_stops.last_price(eng, core, symbol) if core is not None else 0.0

    def move_confirmation(self, name: str, symbol: str, level: str, price: Optional[float]) -> Optional[str]:
        """The short question to ask before moving ``level`` (``"stop-loss"`` / ``"take-profit"``)
        of a live position to ``price`` (quote; None: remove it); None on paper connections."""
        if not self.is_live(name):
            return None
        conn, market = self.services.connection(name), self.market(name, symbol)
        if price is not None and market is not None:
            price = move_stops.on_tick(price, market.price_step)
        where = f"{conn.exchange}{' testnet' if conn.testnet else ''}"
        to = f"to {price:.10g}" if price is not None else "away (no " + level + ")"
        return f"Move the {level} of the LIVE {symbol} position on {where} ({name}) {to}?"

    async def move_stops(self, name: str, symbol: str, stop_loss: Optional[float],
                         take_profit: Optional[float]) -> str:
        """Set the stops of the open position on ``symbol`` (quote; None: none): checked against
        the last price (a long's stop-loss below it, take-profit above; a short the reverse),
        rounded to the tick, recorded, and at the exchange the protective orders replaced.
        Returns one line for the trader; raises :class:`TicketError` with the reason."""
        return (await move_stops.move(self._engine(name), symbol, stop_loss, take_profit)).text

    async def move_level(self, name: str, symbol: str, level: str, price: Optional[float]) -> str:
        """Move one ``level`` (``"stop-loss"`` or ``"take-profit"``) to ``price`` (quote; None:
        remove it), the other kept (:meth:`move_stops`). Raises :class:`TicketError`."""
        if level not in move_stops.LEVELS:
            raise TicketError(f"{level!r} is not a stop: {' or '.join(move_stops.LEVELS)}")
        now = self.stops(name, symbol)
        if now is None:
            self._engine(name)
            raise TicketError(f"no open position on {symbol}")
        sl, tp = (price, now[1]) if level == "stop-loss" else (now[0], price)
        return await self.move_stops(name, symbol, sl, tp)

    async def amend(self, name: str, client_id: str, price: Optional[float] = None,
                    amount: Optional[float] = None) -> str:
        """Cancel-replace the resting limit order ``client_id``: new ``price`` (quote) and/or
        ``amount`` (base, the new total; what filled already is taken off). Returns a line for the
        trader; :class:`TicketError` when nothing was placed (and why)."""
        v = await order_edits.amend(self._engine(name), client_id, price, amount)
        o = v.order
        assert o is not None
        if o.state == FAILED:
            raise TicketError(f"order {client_id} canceled; its replacement {o.clientOrderId} {o.status}: {o.error}")
        return f"order {client_id} replaced by {o.clientOrderId}: {o.side} {o.amount:g} at {o.price:g}"

    async def close_at_limit(self, name: str, symbol: str, price: float) -> str:
        """Close the position on ``symbol`` with a reduce-only limit order at ``price`` (quote)."""
        v = await order_edits.close_at_limit(self._engine(name), symbol, price)
        if not v.accepted or v.order is None:
            raise TicketError(f"refused: {v.reason}")
        o = v.order
        if o.state == FAILED:
            raise TicketError(f"order {o.clientOrderId} {o.status}: {o.error}")
        return f"closing {symbol}: {o.side} {o.amount:g} limit {o.price:g}, reduce-only ({o.clientOrderId})"

    def order(self, name: str, client_id: str) -> Optional[Order]:
        """The open order ``client_id`` of ``name``'s running engine (None when not open)."""
        return next((o for o in self.open_orders(name) if o.clientOrderId == client_id), None)


def _kind_text(t: Ticket, price: float) -> str:
    """The order type in the live confirmation: market, limit 20000 GTC, stop-market at 21000..."""
    if t.type == "market":
        return "market"
    if t.type == "limit":
        return f"limit {price:g} {t.tif}"
    then = "a market order" if t.type == "stop_market" else f"a limit {price:g} {t.tif}"
    return f"{t.type.replace('_', '-')}: at the trigger {t.trigger or 0:g} (held by the app), {then}"
