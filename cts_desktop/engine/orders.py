"""Live orders of the exchange engine: sent once, followed until settled, executions booked once.

For each order the core queues (``core.outbox``), :class:`OrderSender` waits until the order row
(state ``pending-create``) is committed, then sends it with its ``clientOrderId``.

* Accepted: the acknowledged state is recorded; executions are booked from ``fetch_my_trades``
  (exact prices, fees and trade ids; the trade id is the fill id; fees: :mod:`.fees`), an order
  still working is polled with ``fetch_order`` until it is closed or canceled, every new
  execution booked once.
* Refused (``insufficient-funds``, ``min-notional``, ``invalid-order``, ``bad-symbol``,
  ``not-supported``, and ``auth``/``permission``/``clock``): the order is failed/rejected with
  the exchange's message and the engine carries on, except for the last three, after which it
  cannot trade: :attr:`OrderSender.fatal` is set and the engine goes to error.
* Outcome unknown (a transient error: timeout, lost response, network, rate limit, maintenance;
  also ``exchange-error`` and ``internal``): the order stays ``pending-create`` and is queried by
  ``clientOrderId`` with backoff until a query settles it. It is **never resent**. It counts as
  *failed* only after the rule of :func:`unknown_order_window_ms`: two ``order-not-found``
  answers at least W apart, where W is the request's ``recvWindow`` plus
  :data:`CLOCK_MARGIN_MS` (an exchange drops a signed request older than its ``recvWindow``, so
  once W has passed since a not-found, the order can no longer appear).

What a settled order means is a :class:`Ledger`'s business: :class:`LiveLedger` books into the
running core; start-up reconciliation (:mod:`.reconcile`) has its own.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Dict, List, Optional, Protocol, Set, Tuple

from ..core import events as ev
from ..core.models import FAILED, REJECTED, STATE_CANCELED, TERMINAL_STATES, Fill, Market, Order
from ..core.gateway import Gateway
from ..core.order_state import NOT_OURS, OrderUpdate, apply, excess, snapshot
from ..exchange.errors import GatewayError
from ..store.recorder import Recorder
from .bus import EventBus
from .core import TradingCore
from .fees import FeeRates, fill_of_trade, increment_fill
from .lifecycle import LogFn, describe_error
from .refused_exits import RefusedExits, exit_order
from .tasks import end_tasks

log = logging.getLogger(__name__)

CLOCK_MARGIN_MS = 1_000  # added to recvWindow: clock difference between us and the exchange
DEFAULT_RECV_WINDOW_MS = 10_000  # exchanges without a recvWindow option

REFUSED_KINDS = frozenset({"insufficient-funds", "min-notional", "invalid-order", "bad-symbol", "not-supported",
                           "auth", "permission", "clock"})
"""Error kinds meaning the exchange refused the order: it does not exist."""
FATAL_KINDS = frozenset({"auth", "permission", "clock"})
"""Refusals after which no order can succeed: the engine goes to error."""


class Unsettled(Exception):
    """An order's state cannot be established (message: why)."""


def unknown_order_window_ms(gateway: Optional[Gateway]) -> int:
    """W of the unknown-outcome rule (ms): an order whose creation had an unknown outcome is
    failed only after two ``order-not-found`` answers at least W apart. W = the ``recvWindow``
    the requests are signed with + :data:`CLOCK_MARGIN_MS`."""
    rw = DEFAULT_RECV_WINDOW_MS
    if gateway is not None:
        try:
            rw = int(gateway.capabilities().recv_window_ms or DEFAULT_RECV_WINDOW_MS)
        except (TypeError, ValueError):
            rw = DEFAULT_RECV_WINDOW_MS
    return rw + CLOCK_MARGIN_MS


class Ledger(Protocol):
    """Where what the exchange says about an order goes."""

    def book(self, order: Order, fill: Fill) -> None:
        """A new execution of ``order``."""

    def reject(self, order: Order, reason: str) -> None:
        """``order`` ended failed or canceled (``reason`` for the log)."""

    def working(self, order: Order) -> None:
        """``order`` is still working at the exchange (may raise :class:`Unsettled`)."""

    def settled(self, order: Order) -> None:
        """``order`` is closed and every execution is booked."""


class LiveLedger:
    """Orders of the running live run: fills and rejections go to the core; state changes are
    recorded, published and logged."""

    def __init__(self, core: TradingCore, *, recorder: Optional[Recorder], run_id: Optional[int], name: str,
                 bus: EventBus):
        self.core = core
        self.recorder = recorder
        self.run_id = run_id
        self.name = name
        self.bus = bus
        self._last_state: Dict[str, Tuple[str, float]] = {}

    def book(self, order: Order, fill: Fill) -> None:
        self.core.external_fill(order, fill)

    def reject(self, order: Order, reason: str) -> None:
        self.core.external_reject(order, reason)

    def working(self, order: Order) -> None:
        if self._last_state.get(order.clientOrderId) != (order.state, order.filled):
            self._last_state[order.clientOrderId] = (order.state, order.filled)
            self.updated(order, f"is {order.state} ({order.filled:g} of {order.amount:g} filled)")

    def settled(self, order: Order) -> None:
        self.core.order_settled(order)
        self.updated(order, f"{order.state} ({order.filled:g} @ {order.average or 0:g})")

    def updated(self, order: Order, what: str) -> None:
        """Record and publish ``order`` as it is now; log ``what`` happened."""
        if self.recorder is not None and self.run_id is not None:  # live runs always have both
            self.recorder.order(self.run_id, self.name, order)
        if self.bus.has_subscribers:
            self.bus.publish(ev.OrderEvent(self.name, snapshot(order)))
        self.core.log(ev.CAT_ORDER, f"order {order.clientOrderId} {what}")


class OrderSender:
    """Sends the live run's orders and follows them (module docstring). ``markets``: the run's
    symbols. ``settle_interval``: first delay (s) between queries of an unsettled order (doubles
    up to ``max_settle_interval``). ``live``: the ledger of the running run, set once its core
    exists."""

    def __init__(self, gateway: Gateway, markets: Dict[str, Market], *, recorder: Recorder, log: LogFn,
                 secrets: Tuple[str, ...], settle_interval: float, max_settle_interval: float):
        self.gateway = gateway
        self.markets = markets
        self.recorder = recorder
        self._log = log
        self._secrets = secrets
        self.settle_interval = settle_interval
        self.max_settle_interval = max_settle_interval
        self.live: Optional[LiveLedger] = None
        self.fatal: Optional[str] = None  # set by background order tasks: the run must end in error
        self.settlers: Dict[str, asyncio.Task[None]] = {}  # clientOrderId -> task following the order
        self.booked: Dict[str, Tuple[Set[str], float]] = {}  # clientOrderId -> (trade ids, gross amount booked)
        self.exits = RefusedExits(gateway, log, delay=max(settle_interval * 4, 0.2))  # exits refused for lack of coins

    # -- sending --------------------------------------------------------------------------------
    async def drain(self, core: TradingCore) -> None:
        """Send every order queued in ``core.outbox``, in order."""
        while core.outbox:
            order = core.outbox.pop(0)
            await self.send(order)

    async def send(self, order: Order) -> None:
        """Make the order row durable, send the order once, and follow it (module docstring)."""
        live = self.live
        assert live is not None, "the live ledger is attached before any order is sent"
        try:
            if not (live.run_id is not None and self.recorder.commit_order_now(live.run_id, live.name, order)):
                await asyncio.wrap_future(self.recorder.flush())  # the priority lane was busy: behind the queue
        except Exception as exc:  # noqa: BLE001 - whatever the database raised: not durable, must not be sent
            apply(order, OrderUpdate(state=FAILED, source="recorder"))
            order.status = REJECTED
            live.reject(order, "not sent: the order could not be recorded first")
            self.fatal = f"the trade database cannot be written: {exc}"
            return
        try:
            await self.gateway.create_order(order)
        except GatewayError as err:
            if err.kind in REFUSED_KINDS:
                apply(order, OrderUpdate(state=FAILED, source="exchange refusal"))
                order.status = REJECTED
                live.reject(order, err.message)
                if err.kind in FATAL_KINDS:
                    self.fatal = err.message
                elif err.kind == "insufficient-funds" and order.reduce_only:
                    await self.exits.refused(order, live.core, self._resend_exit)
                return
            self._log(ev.CAT_ORDER, f"order {order.clientOrderId}: outcome unknown ({err.message}); querying it by "
                                    "client id, it will not be sent again", "warning")
            self.follow(order)
            return
        live.updated(order, f"accepted by the exchange as {order.id}: {order.state}")
        try:
            done = await self.advance(order, live)
        except GatewayError as err:
            self._log(ev.CAT_ORDER, f"order {order.clientOrderId}: executions not read yet ({err.message})", "warning")
            done = False
        if not done:
            self.follow(order)

    def follow(self, order: Order) -> None:
        """Start the background task that queries ``order`` until it is settled."""
        cid = order.clientOrderId
        task = asyncio.get_running_loop().create_task(self._settle_live(order), name=f"order:{cid}")
        self.settlers[cid] = task
        task.add_done_callback(lambda _t: self.settlers.pop(cid, None))

    async def _settle_live(self, order: Order) -> None:
        assert self.live is not None
        try:
            await self.settle(order, self.live, deadline=None)
        except asyncio.CancelledError:
            raise
        except Unsettled as exc:
            self.fatal = str(exc)
        except Exception as exc:  # noqa: BLE001 - never let a task die silently
            log.exception("following order %s failed", order.clientOrderId)
            self.fatal = f"cannot follow order {order.clientOrderId}: {describe_error(exc)}"

    async def _resend_exit(self, symbol: str) -> None:
        if self.live is not None and exit_order(self.live.core, symbol, "exit: sent again after a refusal"):
            await self.drain(self.live.core)

    async def cancel_all(self) -> None:
        """Stop following orders (they stay as they are at the exchange)."""
        self.exits.cancel()
        await end_tasks(list(self.settlers.values()), "an order follower")  # failures went through fatal

    # -- settling -------------------------------------------------------------------------------
    async def settle(self, order: Order, ledger: Ledger, *, deadline: Optional[float]) -> None:
        """Query ``order`` until it is terminal and all its executions are booked.

        ``deadline`` (monotonic s) or None: keep trying. Raises :class:`Unsettled` when the
        exchange gives an answer that cannot be resolved (an acknowledged order it no longer
        knows, a non-transient error) or the deadline passes. A never-acknowledged order
        answered ``order-not-found`` twice, W apart, is failed (:func:`unknown_order_window_ms`).
        """
        delay = self.settle_interval
        first_not_found: Optional[int] = None
        window = unknown_order_window_ms(self.gateway)
        last_error = ""
        while True:
            try:
                await self.gateway.fetch_order(order)
            except GatewayError as err:
                if err.kind == "order-not-found" and order.id is None:
                    now = int(time.time() * 1000)
                    if first_not_found is None:
                        first_not_found = now
                    elif now - first_not_found >= window:
                        apply(order, OrderUpdate(state=FAILED, source="not found"))
                        order.status = REJECTED
                        ledger.reject(order, f"the exchange never received it (not found {window / 1000:g} s "
                                             "after the request expired)")
                        return
                    wait = max((first_not_found + window - now) / 1000.0, 0.05)
                    if deadline is not None and time.monotonic() + wait > deadline:
                        raise Unsettled(f"cannot reconcile order {order.clientOrderId}: the exchange does not know it "
                                        "yet, and it may still appear") from None
                    await asyncio.sleep(wait)  # order tasks are canceled on stop
                    continue
                last_error = self._query_error(order, err)
            else:
                first_not_found = None
                if order.flag.startswith(NOT_OURS):  # never booked: another client's order
                    apply(order, OrderUpdate(state=FAILED, source="adoption check"))
                    order.status = REJECTED
                    self._log(ev.CAT_ORDER, f"order {order.clientOrderId}: {order.flag}", "error")
                    ledger.reject(order, order.flag)
                    return
                try:
                    if await self.advance(order, ledger):
                        return
                except GatewayError as err:
                    if not (err.transient or err.kind in ("exchange-error", "internal")):
                        raise Unsettled(f"cannot read the executions of order {order.clientOrderId}: "
                                        f"{err.message}") from None
                    last_error = err.message
            if deadline is not None and time.monotonic() + delay > deadline:
                raise Unsettled(f"cannot reconcile order {order.clientOrderId}: "
                                f"{last_error or 'it is still open at the exchange'}")
            await asyncio.sleep(delay)  # order tasks are canceled on stop
            delay = min(delay * 2, self.max_settle_interval)

    @staticmethod
    def _query_error(order: Order, err: GatewayError) -> str:
        """The message of a query error worth retrying; raises :class:`Unsettled` otherwise."""
        if err.kind == "order-not-found":
            raise Unsettled(f"cannot settle order {order.clientOrderId} ({order.id}): {err.message}") from None
        if not (err.transient or err.kind in ("exchange-error", "internal")):
            raise Unsettled(f"cannot settle order {order.clientOrderId}: {err.message}") from None
        return err.message

    async def advance(self, order: Order, ledger: Ledger) -> bool:
        """After a successful create or query of ``order``: record its state, book new
        executions; True when nothing is left to follow. Raises :class:`GatewayError` when the
        executions cannot be read."""
        try:
            return await self._advance(order, ledger)
        finally:
            if self.recorder is not None:
                self.recorder.flush()  # a commit point: what the exchange said is kept at once

    async def _advance(self, order: Order, ledger: Ledger) -> bool:
        ids, gross = self.booked.setdefault(order.clientOrderId, (set(), 0.0))
        order.trade_ids |= ids  # executions recorded before (start-up reconciliation)
        if order.filled > gross + 1e-12:
            executions, gross = await self._executions(order, gross)
            self.booked[order.clientOrderId] = (ids, gross)
            for fill, amount in executions:
                if fill.id in ids:
                    continue
                ids.add(fill.id)
                over = excess(order, amount)
                if apply(order, OrderUpdate(trade_id=fill.id, trade_amount=amount, source="trades")).duplicate:
                    continue
                if over > 0:  # never book more than the order's amount
                    self._log(ev.CAT_ORDER, f"order {order.clientOrderId}: trade {fill.id} of {amount:g} goes "
                                            f"{over:g} past the order's {order.amount:g}: only the rest is booked",
                                            "error")
                    order.error = order.error or order.flag
                    if over >= amount:
                        continue
                    fill.fee *= (amount - over) / amount
                    fill.amount *= (amount - over) / amount
                ledger.book(order, fill)
        if order.state not in TERMINAL_STATES:
            ledger.working(order)
            return False
        if order.filled > gross + 1e-9 * max(order.amount, 1.0):
            return False  # trades not visible yet: query again
        if order.state in (STATE_CANCELED, FAILED):
            ledger.reject(order, f"{order.status} at the exchange after {order.filled:g} filled")
        else:
            self.exits.filled(order)
            ledger.settled(order)
        return True

    async def _fee_rates(self, trades: List[dict], market: Market) -> FeeRates:
        """Prices of the third currencies (BNB) the ``trades`` paid fees in: ``FEE/QUOTE`` from
        the gateway's last ticker, else ``FEE/BASE`` (see :mod:`.fees`)."""
        rates: Dict[str, Tuple[float, bool]] = {}
        for t in trades:
            for f in t.get("fees") or ([t["fee"]] if t.get("fee") else []):
                ccy = (f or {}).get("currency")
                if not ccy or ccy in (market.base, market.quote) or ccy in rates:
                    continue
                price = await self.gateway.last_price(f"{ccy}/{market.quote}")
                if price:
                    rates[ccy] = (price, False)
                    continue
                price = await self.gateway.last_price(f"{ccy}/{market.base}")
                if price:
                    rates[ccy] = (price, True)
        return rates

    async def _executions(self, order: Order, gross_before: float) -> Tuple[List[Tuple[Fill, float]], float]:
        """``([(fill, its gross amount in base)], gross amount executed)`` of ``order``, oldest
        first (fill id = trade id).
        Exchanges without ``fetchMyTrades``: one fill per observed increase of ``filled`` over
        ``gross_before``."""
        market = self.markets.get(order.symbol) or self.gateway.markets().get(order.symbol)
        assert market is not None, "orders are only followed on listed markets"
        if not self.gateway.capabilities().fetch_my_trades:
            return [(f, f.amount) for f in increment_fill(order, market, gross_before)], max(order.filled, gross_before)
        raws = await self.gateway.fetch_order_trades(order)  # errors leave mapped, secrets redacted
        fills, gross = [], 0.0
        mine = [t for t in raws if str(t.get("order") or "") == str(order.id)]
        rates = await self._fee_rates(mine, market)
        for t in sorted(mine, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            fill, amount = fill_of_trade(order, t, market, self._log, rates)
            fills.append((fill, amount))
            gross += amount
        return fills, gross
