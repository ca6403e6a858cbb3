"""A live exit the exchange refused for lack of coins (sold or moved by hand at the exchange).

On each such refusal the wallet is read again (:meth:`RefusedExits.refused`):

* it holds at least the market minimum (base: the larger of ``min_amount`` and ``min_cost`` at
  the last price) but less than the position: the position is resized to what the wallet holds
  (truncated to the lot step), with a log line and the position record saying why;
* it holds less than the market minimum: the position is closed as "closed outside the app" at
  the last price (no order, no fill: the coins are gone);
* then, while fewer than ``limit`` exits of the symbol were refused in a row, the exit is sent
  again after a back-off (``delay``, doubling); at the limit an alert goes out (an error log line
  and a :class:`~cts_desktop.core.events.SymbolPaused` event) and the symbol is paused: no
  entries and no automatic exits on it until :meth:`TradingCore.resume_symbol`.

A filled exit of the symbol resets its count.
"""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Dict, Optional

from ..core import events as ev
from ..core.models import LONG, SELL, Fill, Order
from ..core.risk import truncate_amount
from ..exchange.ccxt_gateway import CcxtGateway
from ..exchange.errors import GatewayError
from .core import TradingCore
from .lifecycle import LogFn

CLOSED_OUTSIDE = "closed outside the app"
DEFAULT_LIMIT = 3


class RefusedExits:
    """The refused-exit rule of one live run (module docstring). ``resend(symbol)``: queue and
    send a new exit of the symbol's position (the order sender's drain)."""

    def __init__(self, gateway: CcxtGateway, log: LogFn, *, delay: float, limit: int = DEFAULT_LIMIT):
        self.gateway = gateway
        self._log = log
        self.delay = delay
        self.limit = limit
        self.counts: Dict[str, int] = {}  # symbol -> exits refused in a row
        self.tasks: Dict[str, asyncio.Task[None]] = {}

    def filled(self, order: Order) -> None:
        """An exit of ``order.symbol`` went through: its refusals are forgotten."""
        if order.reduce_only:
            self.counts.pop(order.symbol, None)

    async def refused(self, order: Order, core: TradingCore, resend: Callable[[str], Awaitable[None]]) -> None:
        """Exit ``order`` was refused for lack of coins: apply the rule of the module docstring."""
        symbol = order.symbol
        n = self.counts[symbol] = self.counts.get(symbol, 0) + 1
        if not await self._match_wallet(order, core):
            self.counts.pop(symbol, None)
            return
        if n >= self.limit:
            reason = (f"{symbol} paused: {n} exits in a row refused by the exchange for lack of coins; "
                      "check the wallet, then resume the symbol")
            core.paused[symbol] = reason
            self._log(ev.CAT_ERROR, reason, "error")
            if core.bus.has_subscribers:
                core.bus.publish(ev.SymbolPaused(core.connection, symbol, reason))
            return
        wait = self.delay * 2 ** (n - 1)
        self._log(ev.CAT_ORDER, f"exit of {symbol} refused ({n} of {self.limit}): sent again in {wait:g} s", "warning")
        self.tasks[symbol] = asyncio.get_running_loop().create_task(self._later(wait, symbol, resend))

    async def _later(self, wait: float, symbol: str, resend: Callable[[str], Awaitable[None]]) -> None:
        await asyncio.sleep(wait)  # canceled with the run
        await resend(symbol)

    async def _match_wallet(self, order: Order, core: TradingCore) -> bool:
        """Resize or close the position to what the wallet holds; True while one is left open."""
        symbol = order.symbol
        pos = core.portfolio.open.get(symbol)
        if pos is None or pos.side != LONG:
            return False
        market = core.markets[symbol]
        try:
            balance = await self.gateway.fetch_balance()
        except GatewayError as err:
            self._log(ev.CAT_ORDER, f"exit of {symbol} refused; the wallet cannot be read ({err.message})", "warning")
            return True
        free = balance.get(market.base, {}).get("free", 0.0)
        held = truncate_amount(free, market.amount_step) if market.amount_step else free
        price = core.portfolio.last_prices.get(symbol) or pos.last_price or pos.entry_price
        minimum = max(market.min_amount, market.min_cost / price if price else 0.0)
        if held < minimum or held <= 0:
            self._close_outside(core, symbol, held, price)
            return False
        if held < pos.amount:
            self._log(ev.CAT_POSITION, f"position {symbol} #{pos.id} adjusted from {pos.amount:g} to {held:g} "
                                       f"{market.base}: the wallet holds only that (coins sold or moved outside "
                                       "the app)", "warning")
            pos.amount = held
            core.journal.position_changed(pos)
        return True

    def _close_outside(self, core: TradingCore, symbol: str, held: float, price: float) -> None:
        pos = core.portfolio.open[symbol]
        self._log(ev.CAT_POSITION, f"position {symbol} #{pos.id} ({pos.amount:g}) {CLOSED_OUTSIDE}: the wallet holds "
                                   f"{held:g}, less than the market minimum; booked at the last price {price:g}",
                                   "warning")
        fill = Fill(id=f"outside-{pos.id}", order_id="", clientOrderId="", symbol=symbol, side=SELL,
                    amount=pos.amount, price=price, timestamp=int(time.time() * 1000))
        core.portfolio.apply_fill(fill, reason=CLOSED_OUTSIDE, spot=True)

    def cancel(self) -> None:
        """Drop the pending re-sends (the run ends)."""
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()


def exit_order(core: TradingCore, symbol: str, reason: str) -> Optional[Order]:
    """Queue a reduce-only market exit of ``symbol``'s whole position (None when flat, paused or
    an order is in flight)."""
    pos = core.portfolio.open.get(symbol)
    if pos is None or symbol in core._inflight or symbol in core.paused:
        return None
    side = SELL if pos.side == LONG else "buy"
    order = core._new_order(symbol, side, pos.amount, core.last_ts, reason, pos.strategy, reduce_only=True)
    core._submit(order, core.last_ts)
    return order
