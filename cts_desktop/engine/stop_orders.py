"""Stop orders from the ticket (stop-market, stop-limit), held by the engine until triggered.

Why the app holds the trigger: the same behaviour on every exchange and on paper (exchanges
differ in which stop types they take, their trigger prices and how they report them), and one
path for the order once triggered. The *positions'* protective stops are a different matter: they
use exchange orders where the exchange allows it (:mod:`.protection`), because they must protect
the coins while the app is down; a ticket's stop opens or reduces a position when the trader
asked for it, and ends with the run.

A :class:`StopBook` per running core keeps the pending stops. Each is an :class:`Order` of type
``"stop_market"`` / ``"stop_limit"`` with its ``trigger`` (quote), state ``open``, recorded and
shown in the Orders table like any open order, cancelable like any. The trigger is checked on
every price the engine gets:

* every closed candle of the symbol (its high for a buy stop, its low for a sell stop), inside the
  candle step, through the event bus; live orders queued there are sent after the step as a
  strategy's are;
* every :data:`POLL_S` seconds while stops are pending, the newest streamed price (the
  websocket's forming candle) or else the ticker's last price (exchange engines only).

Triggered, the stop sends :func:`~cts_desktop.core.manual.fired_ticket` (a market order, or a limit
at the stop-limit's price) for the amount sized when it was placed, through the same manual
order path as the ticket (:func:`.manual._place_now`: risk checks, breakers, order records, the
order manager). The stop's own record ends ``triggered`` (or ``failed`` with the verdict when the
risk checks refuse it then). A stop waits while another order of its symbol is in flight.
When the run ends (stopping, stopped or in error), pending stops are recorded ``canceled`` with
the reason; they are not re-armed by the next run (a crash leaves them ``open``: the connection's
next start marks them canceled, :func:`cts_desktop.store.stop_rows.end_leftover_stops`). The
kill switch cancels them first.
"""
from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Optional

from ..core import events as ev
from ..core.manual import (ENTRY_REASON, EXIT_REASON, MANUAL, Ticket, TicketError, fired_ticket, is_stop,
                           order_type_text, reached)
from ..core.models import CANCELED, CLOSED, FAILED, OPEN, STATE_CANCELED, STATE_OPEN, Order
from ..exchange.errors import GatewayError
from ..exchange.stops import last_price
from . import manual
from .core import TradingCore
from .manual import Verdict

POLL_S = 1.0  # seconds between price checks while stops are pending
TRIGGERED = "triggered"  # the end state of a stop whose order went out
ENDED_REASON = "the engine stopped before the trigger was reached (stops from the ticket are held by the app)"
_books: "weakref.WeakKeyDictionary[TradingCore, StopBook]" = weakref.WeakKeyDictionary()


@dataclass
class PendingStop:
    """One stop waiting for its trigger: the ``order`` record and the ``ticket`` it came from;
    ``after``: candles opening at or before this time (ms) were seen before it was placed."""

    order: Order
    ticket: Ticket
    after: int


class StopBook:
    """The pending stops of ``eng``'s running ``core`` (module docstring)."""

    def __init__(self, eng: Any, core: TradingCore):
        self.eng = eng
        self.core = core
        self.pending: Dict[str, PendingStop] = {}  # clientOrderId -> stop
        self._unsubscribe: Optional[Callable[[], None]] = None
        self._task: Optional[asyncio.Task[None]] = None

    # -- placing and canceling (on the core: no candle step runs) --------------------------------
    def arm(self, t: Ticket) -> Verdict:
        """Check stop ticket ``t`` (risk verdict as if sent at its trigger) and hold it."""
        core = self.core
        v = manual.verdict(core, t, dry=True)
        if not v.accepted or v.quote is None:
            core.log(ev.CAT_RISK, f"manual {t.side} stop {t.symbol} refused: {v.reason}", "warning")
            return v
        q = v.quote
        pos = core.portfolio.open.get(t.symbol)
        reason, strategy = (EXIT_REASON, pos.strategy) if t.reduce_only and pos is not None else (ENTRY_REASON, MANUAL)
        ts = core.last_ts + core.data_tf_ms
        order = core._new_order(t.symbol, t.side, q.amount, ts, reason, strategy, reduce_only=t.reduce_only)
        order.type, order.trigger = t.type, q.trigger
        order.price = q.price if t.type == "stop_limit" else None
        order.time_in_force = t.tif if t.type == "stop_limit" else ""
        order.status, order.state = OPEN, STATE_OPEN
        self.pending[order.clientOrderId] = PendingStop(order, replace(t, amount=q.amount, unit="base"), core.last_ts)
        self._record(order, f"{t.side} {q.amount:g} {t.symbol} {order_type_text(order)} ({reason}) "
                            f"id {order.clientOrderId}: held by the app until the trigger")
        self._watch()
        v.order = order
        return v

    def cancel(self, client_id: str, why: str = "canceled by hand") -> Optional[Order]:
        """End the pending stop ``client_id`` (recorded canceled, ``error``: ``why`` unless by
        hand); None when it is not pending."""
        ps = self.pending.pop(client_id, None)
        if ps is None:
            return None
        o = ps.order
        o.status, o.state = CANCELED, STATE_CANCELED
        o.error = "" if why == "canceled by hand" else why
        self._record(o, f"stop {client_id} {why}")
        return o

    def end_all(self, why: str) -> int:
        """Cancel every pending stop with reason ``why``; returns how many."""
        return sum(1 for cid in list(self.pending) if self.cancel(cid, why) is not None)

    # -- triggers ---------------------------------------------------------------------------------
    def check(self, symbol: str, low: float, high: float, ts: int, after: int = -1) -> int:
        """Fire the pending stops of ``symbol`` that prices ``low``..``high`` (quote) reach at
        ``ts`` (ms); ``after``: only stops placed before this candle's open. Returns how many fired."""
        core = self.core
        breakers = core.breakers
        if breakers is not None and "kill" in breakers.holds:
            self.end_all("canceled by the kill switch")
            return 0
        fired = 0
        for ps in [p for p in list(self.pending.values()) if p.order.symbol == symbol]:
            o = ps.order
            if after >= 0 and after <= ps.after:
                continue
            if not reached(o.side, o.trigger or 0.0, low, high):
                continue
            if symbol in core._inflight or symbol in core.paused:
                continue  # waits for the order in flight; the next price checks again
            self._fire(ps, ts)
            fired += 1
        return fired

    def _fire(self, ps: PendingStop, ts: int) -> None:
        o, core = ps.order, self.core
        if self.pending.pop(o.clientOrderId, None) is None:
            return  # canceled meanwhile (the run ending, from the loop's thread)
        v = manual._place_now(core, fired_ticket(ps.ticket))
        if v.accepted and v.order is not None:
            o.status, o.state = CLOSED, TRIGGERED
            self._record(o, f"stop {o.clientOrderId} triggered at {o.trigger:g}: sent as {v.order.clientOrderId}")
        else:
            o.status, o.state, o.error = CANCELED, FAILED, f"triggered, but refused: {v.reason}"
            self._record(o, f"stop {o.clientOrderId} triggered at {o.trigger:g}, but refused: {v.reason}", "warning")

    def _record(self, o: Order, what: str, level: str = "info") -> None:
        self.core.journal.order(o)
        self.core.journal.order_changed(o)
        self.core.log(ev.CAT_ORDER, what, level)

    def _on_event(self, event: Any) -> None:
        """Bus handler: a closed candle of this run (called inside the candle step), or the run
        ending (its pending stops are recorded canceled while the recorder is still open)."""
        if getattr(event, "connection", None) != self.core.connection or not self.pending:
            return
        if isinstance(event, ev.CandleEvent):
            c = event.candle
            self.check(event.symbol, c[3], c[2], c[0] + event.timeframe_ms, after=c[0])
        elif isinstance(event, ev.EngineStateChanged) and event.state in (ev.STOPPING, ev.STOPPED, ev.ERROR):
            self.end_all(ENDED_REASON)

    # -- watching prices --------------------------------------------------------------------------
    def _watch(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.core.bus.subscribe(self._on_event)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="stop orders")

    def _running(self) -> bool:
        return bool(getattr(self.eng, "active", False)) and getattr(self.eng, "core", None) is self.core

    async def _loop(self) -> None:
        try:
            while self.pending and self._running():
                await asyncio.sleep(POLL_S)
                if self._running():
                    await self.poll()
        finally:
            if self.pending and not self._running():
                self.end_all(ENDED_REASON)
            if not self.pending and self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    async def poll(self) -> None:
        """Check the pending stops against the newest price of each of their symbols (streamed,
        else the ticker's; exchange engines only) and send what fired (live)."""
        gateway = getattr(self.eng, "gateway", None)
        if gateway is None:
            return  # a replay: its candles are its prices
        for sym in sorted({p.order.symbol for p in list(self.pending.values())}):
            try:
                price = _streamed(self.eng, sym) or await last_price(gateway, sym)
            except GatewayError:
                continue  # the next poll tries again
            if price > 0:
                try:
                    n = self.check(sym, price, price, int(time.time() * 1000))
                except TicketError:
                    continue  # a long strategy step: the next poll
                if n:
                    await manual._send(self.eng, self.core)


def _streamed(eng: Any, symbol: str) -> Optional[float]:
    feed = getattr(eng, "feed", None)
    ws = getattr(feed, "ws", None)
    candle = ws.forming.get(symbol) if ws is not None and ws.up else None
    return float(candle[4]) if candle else None


def book(core: TradingCore, eng: Any = None) -> Optional[StopBook]:
    """The stop book of ``core`` (created with ``eng``; None when there is none and no ``eng``)."""
    b = _books.get(core)
    if b is None and eng is not None:
        b = _books[core] = StopBook(eng, core)
    return b


async def place(eng: Any, t: Ticket) -> Verdict:
    """Place ticket ``t``: a stop is held (:meth:`StopBook.arm`), any other goes to
    :func:`.manual.place`. Raises :class:`TicketError`."""
    if not is_stop(t):
        return await manual.place(eng, t)
    core = manual._core(eng)
    b = book(core, eng)
    assert b is not None
    return b.arm(t)


def end_all(core: TradingCore, why: str) -> int:
    """Cancel ``core``'s pending stops (the kill switch) with reason ``why``; returns how many."""
    b = book(core)
    return b.end_all(why) if b is not None else 0


def open_orders(core: TradingCore) -> List[Order]:
    """The run's open orders (:func:`.manual.open_orders`) and its pending stops."""
    b = book(core)
    return manual.open_orders(core) + ([p.order for p in list(b.pending.values())] if b is not None else [])


async def cancel(eng: Any, client_id: str) -> Order:
    """Cancel open order or pending stop ``client_id``. Raises :class:`TicketError`."""
    core = manual._core(eng)
    b = book(core)
    if b is not None and client_id in b.pending:
        o = b.cancel(client_id)
        if o is not None:
            return o
    return await manual.cancel(eng, client_id)


async def cancel_all(eng: Any) -> int:
    """Cancel every pending stop and open order of the run; returns how many."""
    core = manual._core(eng)
    b = book(core)
    n = b.end_all("canceled by hand") if b is not None else 0
    return n + await manual.cancel_all(eng)
