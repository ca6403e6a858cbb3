"""The kill switch of one engine: cancel every open order, flatten every position, stop.

:func:`kill_engine` runs on the event loop and never calls a strategy, so a strategy stuck in
``on_candle`` (on the exchange engine's step thread, :mod:`.watchdog`) cannot delay it. In order:

1. new entries are held (close-only), so nothing new goes out; the run itself is stopped only at
   the end (stopping closes its exchange session, which the next steps need);
2. queued entries that have not been sent are dropped;
3. open orders are canceled: at the exchange every open order on the run's symbols (live; in
   parallel), at the paper exchange every resting order (paper, replays);
4. with ``flatten`` (the ``kill_flattens`` setting, on by default) every open position is closed
   with a market order: live orders are recorded first and sent in parallel, paper ones fill at
   the last price;
5. the engine stops (``reason`` "kill switch"); its end of run is recorded as usual.

The result is a :class:`KillReport`; every step is also in the run's activity log.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import List, Optional

from ..core import events as ev
from ..core.models import BUY, FAILED, LONG, REJECTED, SELL, TERMINAL_STATES, Order
from ..core.risk import truncate_amount
from ..exchange.errors import GatewayError
from . import stop_orders
from .breakers import Breakers
from .core import TradingCore
from .lifecycle import EngineLifecycle, describe_error

KILL_REASON = "kill switch"
SETTLE_TIMEOUT_S = 10.0  # how long the flattening orders may take to be filled and booked


@dataclass
class KillReport:
    """What the kill switch did on ``connection``: orders ``canceled``, positions ``flattened``
    (closing orders filled), ``left_open`` (positions still open, as text), ``errors`` (exchange
    messages), ``seconds`` (wall clock) and the engine's ``state`` afterwards."""

    connection: str
    canceled: int = 0
    flattened: int = 0
    left_open: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    seconds: float = 0.0
    state: str = ""

    def line(self) -> str:
        """One human line (CLI, the GUI's message)."""
        text = (f"{self.connection}: kill switch: {_count(self.canceled, 'order')} canceled, "
                f"{_count(self.flattened, 'position')} closed, engine {self.state} ({self.seconds:.2f} s)")
        if self.left_open:
            text += "; STILL OPEN: " + ", ".join(self.left_open)
        if self.errors:
            text += "; errors: " + "; ".join(self.errors)
        return text


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _hold(core: TradingCore) -> None:
    if core.breakers is None:
        core.breakers = Breakers(core.connection, core.limits, quote=core.portfolio.currency, store=None,
                                 publish=core.bus.publish, log=core.log)
    core.breakers.hold("kill", "kill switch: no new entries")


def _drop_queued_entries(core: TradingCore) -> None:
    for order in [o for o in core.outbox if not o.reduce_only]:
        core.outbox.remove(order)
        order.state, order.status = FAILED, REJECTED
        core.external_reject(order, "not sent: kill switch")


async def _cancel_live(eng: EngineLifecycle, report: KillReport) -> None:
    gateway = getattr(eng, "gateway", None)
    markets = list(getattr(eng, "markets", {}) or {})
    if gateway is None:
        return
    lists = await asyncio.gather(*(gateway.fetch_open_orders(sym) for sym in markets), return_exceptions=True)
    open_orders: List[Order] = []
    for sym, found in zip(markets, lists, strict=True):
        if isinstance(found, BaseException):
            report.errors.append(f"listing open orders on {sym}: {describe_error(found)}")
        else:
            open_orders.extend(found)
    results = await asyncio.gather(*(gateway.cancel_order(o) for o in open_orders), return_exceptions=True)
    for order, res in zip(open_orders, results, strict=True):
        if isinstance(res, GatewayError) and res.kind == "order-not-found":
            continue  # filled or canceled meanwhile
        if isinstance(res, BaseException):
            report.errors.append(f"canceling {order.clientOrderId or order.id}: {describe_error(res)}")
        else:
            report.canceled += 1


def _cancel_paper(core: TradingCore, report: KillReport) -> None:
    for order in core.paper.open_orders():
        if core.paper.cancel(order):
            report.canceled += 1
            core.external_reject(order, "canceled by the kill switch")


def _closing_orders(core: TradingCore, ts: int) -> List[Order]:
    orders = []
    for pos in list(core.portfolio.open.values()):
        market = core.markets.get(pos.symbol)
        amount = truncate_amount(pos.amount, market.amount_step) if market is not None else pos.amount
        if amount <= 0:
            continue
        side = SELL if pos.side == LONG else BUY
        orders.append(core._new_order(pos.symbol, side, amount, ts, KILL_REASON, pos.strategy, reduce_only=True))
    return orders


async def _flatten(eng: EngineLifecycle, core: TradingCore, report: KillReport) -> None:
    ts = core.last_ts
    closing = _closing_orders(core, ts)
    sender = getattr(eng, "orders", None)
    if core.external_execution and sender is not None:
        for order in closing:
            core._submit(order, ts)  # recorded (pending-create) and queued
            core.outbox.remove(order)
        await asyncio.gather(*(sender.send(o) for o in closing))
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while any(o.state not in TERMINAL_STATES for o in closing) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    else:
        for order in closing:
            price = core.portfolio.last_prices.get(order.symbol, 0.0)
            core.orders.append(order)
            core.journal.order(order)
            core._on_fill(order, core.paper.fill_now(order, price, ts))
    report.flattened = sum(1 for o in closing if o.filled > 0)
    for o in closing:
        if o.error:
            report.errors.append(f"closing {o.symbol}: {o.error}")


async def kill_engine(eng: EngineLifecycle, *, flatten: bool = True) -> KillReport:
    """Run the kill switch on ``eng`` (module docstring); returns once the engine has stopped.
    An engine that is not running is only reported. Exchange errors are collected in the
    report, never raised: the kill goes on with the next step."""
    t0 = time.perf_counter()
    report = KillReport(eng.name)
    core: Optional[TradingCore] = eng.core
    if not eng.active or core is None:
        await eng.stop(KILL_REASON)
        report.state = eng.state
        return report
    _hold(core)  # the run goes on until the end (its gateway stays open for the kill's requests), close-only
    core.log(ev.CAT_ENGINE, "KILL SWITCH: canceling every open order" + (", closing every position" if flatten else "")
             + " and stopping", "warning")
    _drop_queued_entries(core)
    report.canceled += stop_orders.end_all(core, "canceled by the kill switch")  # stops held by the app
    try:
        if core.external_execution:
            await _cancel_live(eng, report)
        _cancel_paper(core, report)
        if flatten:
            await _flatten(eng, core, report)
    except Exception as exc:  # noqa: BLE001 - the engine must still stop; the error is reported
        report.errors.append(describe_error(exc))
    report.left_open = [f"{p.side} {p.amount:g} {p.symbol}" for p in core.portfolio.open.values()]
    report.state = ev.STOPPING
    report.seconds = time.perf_counter() - t0
    core.log(ev.CAT_ENGINE, report.line(), "warning" if not (report.errors or report.left_open) else "error")
    await eng.stop(KILL_REASON)
    report.state = eng.state
    report.seconds = time.perf_counter() - t0
    return report
