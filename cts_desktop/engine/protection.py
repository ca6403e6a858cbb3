"""Protection of open positions: stop-loss and take-profit that do not depend on the app.

A position opened by an entry with stops (``Position.stop_loss`` / ``take_profit``, prices in
quote) is armed by :class:`Protector` as soon as no order of its symbol is in flight:

* **At the exchange** (live runs, where :func:`~cts_desktop.exchange.stops.exchange_stop_kind`
  allows it): on Binance spot one OCO list holding both (a ``LIMIT_MAKER`` target and a
  ``STOP_LOSS_LIMIT`` stop), or a single stop-limit order when only one is set; on Binance USD-M
  perpetuals two reduce-only trigger orders (``STOP_MARKET``, ``TAKE_PROFIT_MARKET``) for the
  position's amount; there is no OCO there: when one executes, the position closes and the other
  is canceled with it. The legs are
  recorded as orders (reason ``stop-loss`` / ``take-profit``, linked to the position) before they
  are sent. They are replaced when the position's size or stops change, canceled when it closes,
  and canceled **before** any exit of the engine is sent (an exit that finds its position closed
  by a leg is dropped; one that finds it smaller is resized). The legs are queried every
  ``interval`` seconds: an execution is booked once, through the order follower
  (:meth:`OrderSender.advance`), and closes or reduces the position like any fill. The
  position's ``protection`` is ``"exchange"``; the core does not check its stops itself.
* **In the app** (paper runs, other exchanges, or when the exchange refused the orders): the
  position's ``protection`` is ``"app"``; the stops are checked on every closed candle (as
  before) **and** every ``interval`` seconds (default 1 s) against the newest price: the
  websocket's forming candle while the feed streams, else the ticker's last price (one request
  per symbol with such a position). A trigger queues the exit
  (live) or fills it (paper) at once.

Restart: the position's stops and ``protection`` are in the positions table. Start-up
reconciliation (:mod:`.reconcile`) leaves protective legs of earlier runs that still rest at the
exchange untouched (:func:`~.protection_restart.leftover_protection`) and books those that executed
while the app was down; :func:`~.protection_restart.close_positions_of_stops` then closes the earlier run's position such a leg
executed (once: only rows still open are changed). :meth:`Protector.adopt` takes the legs still
resting over for a carried position of the same symbol and size; a carried position without them
is armed again by the first :meth:`Protector.sync`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..core import events as ev
from ..core.models import BUY, FAILED, LONG, REJECTED, SELL, Fill, Order, Position
from ..core.order_state import OrderUpdate, apply, is_terminal
from ..exchange.ccxt_gateway import CcxtGateway
from ..exchange.conditional import CONDITIONAL_TYPES
from ..exchange.errors import GatewayError
from ..exchange.stops import cancel_protection, exchange_stop_kind, last_price, place_protection
from .core import TradingCore
from .exits import triggered_exit
from .feeds import MarketFeed
from .lifecycle import LogFn
from .orders import OrderSender
from .protection_restart import reconcile_with_stops, sort_leftovers  # noqa: F401 - re-exported for the engine
from .tasks import end_task

log = logging.getLogger(__name__)

APP, EXCHANGE = "app", "exchange"
PRICE_INTERVAL_S = 1.0
"""Default: seconds between price polls (app-held stops) and leg queries (exchange-held ones)."""


@dataclass
class Guard:
    """The protection armed for one position: its size and stops when armed, and the legs at
    the exchange (none when the app holds the stops)."""

    position_id: int
    symbol: str
    amount: float
    stop_loss: Optional[float]
    take_profit: Optional[float]
    legs: List[Order] = field(default_factory=list)
    list_id: str = ""

    def matches(self, pos: Position) -> bool:
        return (self.position_id, self.amount, self.stop_loss, self.take_profit) == (
            pos.id, pos.amount, pos.stop_loss, pos.take_profit)

    @property
    def live_legs(self) -> List[Order]:
        return [leg for leg in self.legs if not is_terminal(leg.state)]


class _LegLedger:
    """Where what the exchange says about a protective leg goes: executions into the core (they
    close the position), end states to the records (an expired OCO sibling is no error)."""

    def __init__(self, protector: "Protector"):
        self.p = protector

    def book(self, order: Order, fill: Fill) -> None:
        self.p.core.external_fill(order, fill)

    def reject(self, order: Order, reason: str) -> None:
        self.p.record(order, f"({order.reason}) {order.state} at the exchange")

    def working(self, order: Order) -> None:
        """Resting at the exchange: nothing to do."""

    def settled(self, order: Order) -> None:
        self.p.record(order, f"({order.reason}) executed at the exchange: {order.filled:g} @ {order.average or 0:g}")


class Protector:
    """Arms, follows and disarms the protection of ``core``'s open positions (module docstring).

    ``sender``: the live run's :class:`OrderSender` (None: a paper run, stops held by the app).
    ``leftovers``: protective orders of earlier runs still resting at the exchange (:meth:`adopt`).
    ``feed``: the run's market feed; while its websocket is up, app-held stops are checked
    against the newest streamed price instead of a ticker request.
    ``interval``: seconds between price polls and leg queries. ``use_exchange``: False keeps
    every stop in the app even where the exchange could hold it.
    """

    def __init__(self, core: TradingCore, gateway: CcxtGateway, *, sender: Optional[OrderSender], log: LogFn,
                 interval: float = PRICE_INTERVAL_S, use_exchange: bool = True, leftovers: Sequence[Order] = (),
                 feed: Optional[MarketFeed] = None, busy: Callable[[], bool] = lambda: False):
        self.core = core
        self.gateway = gateway
        self.sender = sender
        self._log = log
        self.interval = interval
        self.use_exchange = use_exchange
        self.guards: Dict[str, Guard] = {}  # symbol -> the armed protection
        self.retired: List[Order] = []  # canceled legs whose end state is not known yet
        self.prices: Dict[str, float] = {}  # symbol -> last polled price
        self.feed = feed
        self.busy = busy  # a strategy step runs off the loop: the core is not touched meanwhile
        self.leftovers: List[Order] = list(leftovers)  # earlier runs' legs still resting (see adopt)
        self.lock = asyncio.Lock()
        self.ledger = _LegLedger(self)
        self._task: Optional[asyncio.Task[None]] = None

    # -- life cycle ----------------------------------------------------------------------------
    @classmethod
    def start_for(cls, engine: Any, core: TradingCore, gateway: CcxtGateway) -> "Protector":
        """The running protector of an :class:`~.live.ExchangeEngine` (its ``orders``, ``_log``,
        ``protect_interval``, ``exchange_stops``, ``_leftover_stops``, ``feed`` and ``worker``)."""
        worker = engine.worker
        p = cls(core, gateway, sender=engine.orders, log=engine._log, interval=engine.protect_interval,
                use_exchange=engine.exchange_stops, leftovers=engine._leftover_stops, feed=engine.feed,
                busy=lambda: bool(worker is not None and worker.busy))
        p.start()
        return p

    def start(self) -> None:
        """Start the background loop (price polls, leg queries, re-arming)."""
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="protection")

    async def close(self) -> None:
        """Stop the loop; protective orders stay at the exchange (they protect the coins)."""
        task, self._task = self._task, None
        await end_task(task, "the protection loop")

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except GatewayError as err:
                self._log(ev.CAT_ORDER, f"protective orders / prices: {err.message}; trying again", "warning")
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        """One round: query the legs at the exchange, arm what needs it, check app-held stops
        (skipped while a strategy step runs, and once the kill switch is on)."""
        breakers = self.core.breakers
        if self.busy() or (breakers is not None and "kill" in breakers.holds):
            return  # the kill switch cancels and flattens: nothing is armed again under it
        async with self.lock:
            await self._poll_legs()
            await self.sync()
        await self.check_prices()

    # -- the run's order path ------------------------------------------------------------------
    async def drain(self) -> None:
        """Send ``core.outbox`` (live): exits first disarm their position's protection, then
        whatever the orders left is armed."""
        assert self.sender is not None
        async with self.lock:
            await self._before_exits()
            await self.sender.drain(self.core)
            await self.sync()

    async def _before_exits(self) -> None:
        core = self.core
        for order in list(core.outbox):
            guard = self.guards.get(order.symbol)
            if not order.reduce_only or guard is None or not guard.live_legs:
                continue
            await self._disarm(guard, f"exit {order.clientOrderId} goes first")
            pos = core.portfolio.open.get(order.symbol)
            if pos is None:
                core.outbox.remove(order)
                apply(order, OrderUpdate(state=FAILED, source="protection"))
                order.status = REJECTED
                core.external_reject(order, "not sent: the position was closed by its protective order at the exchange")
            elif pos.amount < order.amount:
                order.amount = pos.amount

    # -- arming --------------------------------------------------------------------------------
    def where(self, symbol: str) -> str:
        """``"exchange"`` or ``"app"``: where a new position's stops on ``symbol`` go."""
        live = self.sender is not None and self.use_exchange
        return EXCHANGE if live and exchange_stop_kind(self.gateway, symbol) else APP

    async def sync(self) -> None:
        """Arm every open position with stops that is not armed as it is now (re-arm after a
        change of size or stops); disarm the protection of positions that closed."""
        core = self.core
        if self.leftovers:
            orphans, self.leftovers = self._adopt(self.leftovers), []
            if orphans:  # futures legs are reduce-only: left resting they would act on a later position
                await cancel_protection(self.gateway, orphans, None)
        for sym, pos in list(core.portfolio.open.items()):
            guard = self.guards.get(sym)
            if pos.stop_loss is None and pos.take_profit is None:  # (removed by hand: engine/move_stops.py)
                if guard is not None and sym not in core._inflight:
                    await self._disarm(guard, "the stops were removed")
                continue
            if sym in core._inflight:
                continue
            if guard is not None and guard.matches(pos):
                continue
            if guard is not None:
                await self._disarm(guard, "the position changed")
                if core.portfolio.open.get(sym) is not pos:
                    continue  # a leg executed meanwhile
            if self.where(sym) == EXCHANGE:
                await self._arm(pos)
            else:
                self.guards[sym] = Guard(pos.id, sym, pos.amount, pos.stop_loss, pos.take_profit)
                self._mark(pos, APP)
        for sym, guard in list(self.guards.items()):
            now = core.portfolio.open.get(sym)
            if now is None or now.id != guard.position_id:
                await self._disarm(guard, "the position closed")

    def _mark(self, pos: Position, where: str) -> None:
        if pos.protection != where:
            pos.protection = where
            self.core.journal.position_changed(pos)
            self._log(ev.CAT_POSITION, f"stops of {pos.symbol} position #{pos.id} held by the {where}"
                      + (f": stop-loss {pos.stop_loss:g}" if pos.stop_loss is not None else "")
                      + (f", take-profit {pos.take_profit:g}" if pos.take_profit is not None else ""))

    def _leg(self, pos: Position, reason: str, otype: str, price: float) -> Order:
        side = SELL if pos.side == LONG else BUY
        leg = self.core._new_order(pos.symbol, side, pos.amount, int(time.time() * 1000), reason, pos.strategy,
                                   reduce_only=True)
        leg.type, leg.price, leg.position_id = otype, price, pos.id
        return leg

    async def _arm(self, pos: Position) -> None:
        core = self.core
        pair = exchange_stop_kind(self.gateway, pos.symbol) == "pair"  # futures: two reduce-only trigger orders
        tp_type, sl_type = ("take_profit_market", "stop_loss_market") if pair else ("limit_maker", "stop_loss_limit")
        tp = self._leg(pos, "take-profit", tp_type, pos.take_profit) if pos.take_profit is not None else None
        sl = self._leg(pos, "stop-loss", sl_type, pos.stop_loss) if pos.stop_loss is not None else None
        legs = [leg for leg in (tp, sl) if leg is not None]
        guard = Guard(pos.id, pos.symbol, pos.amount, pos.stop_loss, pos.take_profit, legs)
        for leg in legs:
            if leg is tp and sl is None and not pair:
                leg.type = "take_profit_limit"
            core.orders.append(leg)
            core.journal.order(leg)
        if core.journal.recorder is not None:
            await asyncio.wrap_future(core.journal.recorder.flush())  # recorded before the exchange sees them
        try:
            guard.list_id = await place_protection(self.gateway, tp, sl, f"{sl.clientOrderId}-oco" if sl else "")
        except GatewayError as err:
            if not (err.transient and await self._found(legs)):
                for leg in legs:
                    apply(leg, OrderUpdate(state=FAILED, source="exchange refusal"))
                    leg.status, leg.error = REJECTED, err.message
                    self.record(leg, f"({leg.reason}) not placed: {err.message}")
                self._log(ev.CAT_ORDER, f"protective orders for {pos.symbol} refused by the exchange ({err.message}): "
                                        "the app holds the stops", "warning")
                self.guards[pos.symbol] = Guard(pos.id, pos.symbol, pos.amount, pos.stop_loss, pos.take_profit)
                self._mark(pos, APP)
                return
        for leg in legs:
            self.record(leg, f"({leg.reason}) placed at the exchange as {leg.id}, at {leg.price:g}: {leg.state}")
        self.guards[pos.symbol] = guard
        self._mark(pos, EXCHANGE)

    async def _found(self, legs: List[Order]) -> bool:
        """After an unknown outcome: True when the exchange has every leg."""
        try:
            for leg in legs:
                await self.gateway.fetch_order(leg)
        except GatewayError:
            return False
        return True

    def adopt(self, leftovers: List[Order]) -> None:
        """Protective legs of earlier runs still resting at the exchange, taken over at the first
        :meth:`sync` (after the run carried its positions over): those of a symbol whose open
        position has their size protect it now; the others are left as they are (logged), but
        futures legs (reduce-only trigger orders of this app) are canceled."""
        self.leftovers = list(leftovers)

    def _adopt(self, leftovers: List[Order]) -> List[Order]:
        """Adopt what fits (:meth:`adopt`); returns the futures legs that do not (to cancel)."""
        fit, orphans = sort_leftovers(leftovers, self.core.portfolio.open, self._log)
        for sym, legs in fit.items():
            pos = self.core.portfolio.open[sym]
            for leg in legs:
                leg.position_id = pos.id
                self.core.orders.append(leg)
            oco = len(legs) > 1 and not any(leg.type in CONDITIONAL_TYPES for leg in legs)
            list_id = f"{legs[-1].clientOrderId}-oco" if oco else ""
            self.guards[sym] = Guard(pos.id, sym, pos.amount, pos.stop_loss, pos.take_profit, legs, list_id)
            self._mark(pos, EXCHANGE)
            self._log(ev.CAT_ORDER, f"protective orders of an earlier run on {sym} adopted for position #{pos.id}")
        return orphans

    # -- following and disarming ---------------------------------------------------------------
    def record(self, leg: Order, what: str) -> None:
        """Record ``leg`` as it is now and log ``what``."""
        if self.sender is not None and self.sender.live is not None:
            self.sender.live.updated(leg, what)

    async def _refresh(self, leg: Order) -> bool:
        """Query ``leg``; book new executions. True when it is settled."""
        assert self.sender is not None
        await self.gateway.fetch_order(leg)
        return await self.sender.advance(leg, self.ledger)

    async def _poll_legs(self) -> None:
        for guard in list(self.guards.values()):
            for leg in guard.live_legs:
                await self._refresh(leg)
        for leg in list(self.retired):
            if await self._refresh(leg):
                self.retired.remove(leg)

    async def _disarm(self, guard: Guard, why: str) -> None:
        """Cancel ``guard``'s legs still at the exchange and book whatever they executed."""
        self.guards.pop(guard.symbol, None)
        legs = guard.live_legs
        if not legs:
            return
        await cancel_protection(self.gateway, legs, guard.list_id)
        self._log(ev.CAT_ORDER, f"protective orders of {guard.symbol} canceled: {why}")
        for leg in legs:
            try:
                done = await self._refresh(leg)
            except GatewayError:
                done = False
            if not done:
                self.retired.append(leg)

    # -- app-held stops ------------------------------------------------------------------------
    async def check_prices(self) -> None:
        """Poll the last price of every symbol whose position's stops the app holds and check
        them (:meth:`on_price`); exits go out at once (live)."""
        core = self.core
        symbols = [s for s, p in core.portfolio.open.items() if p.protection == APP
                   and (p.stop_loss is not None or p.take_profit is not None) and s not in core._inflight]
        for sym in symbols:
            price = self._streamed(sym) or await last_price(self.gateway, sym)
            if price > 0:
                self.prices[sym] = price
                if self.on_price(sym, price, int(time.time() * 1000)) and self.sender is not None:
                    await self.drain()

    def _streamed(self, symbol: str) -> Optional[float]:
        """The close of ``symbol``'s newest streamed candle while the websocket is up, else None."""
        ws = self.feed.ws if self.feed is not None else None
        candle = ws.forming.get(symbol) if ws is not None and ws.up else None
        return candle[4] if candle else None

    def on_price(self, symbol: str, price: float, ts: int) -> bool:
        """Check the app-held stops of ``symbol``'s position against ``price`` (quote) at ``ts``
        (ms); True when one triggered (live: the exit is queued; paper: filled at the trigger)."""
        core = self.core
        pos = core.portfolio.open.get(symbol)
        if pos is None or pos.protection == EXCHANGE or symbol in core._inflight or self.busy():
            return False  # (busy: the candle step holds the core; no await from here to the exit)
        tick = (ts, price, price, price, price, 0.0)
        if triggered_exit(pos, tick) is None:
            return False
        core._check_exits(pos, tick)
        return True

