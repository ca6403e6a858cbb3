"""Order updates of a live run by websocket: ccxt.pro ``watch_my_trades`` and ``watch_orders``.

Where ccxt.pro offers them for the exchange (``has['watchMyTrades']``; for Binance spot the
user data stream of its WebSocket API) and the connection asks for websocket data
(``conn.api_type == "websocket"``), :class:`OrderStream` follows the account's executions as
they happen and hands each one to the same booking path as REST polling
(:func:`book_stream_trade`: the order state table's ``apply`` and the sender's record of booked
trade ids): the trade id is the key, so a fill is booked once, whichever path sees it first. A
trade whose fee is paid in a third currency (BNB) is left to REST, which prices that fee. REST stays on as before: every order is
still read after it is sent and polled until it is settled (the periodic cross-check, and the
fallback while the stream is down: it needs nothing from the stream).

The stream is supervised like the candle stream (:mod:`.feeds_ws`): a failure is logged, and it
reconnects after a backoff delay (``retry_interval`` doubling up to ``max_retry_interval``).
:attr:`OrderStream.up` tells whether it is delivering; :attr:`OrderStream.booked` counts the
fills it booked first.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

import ccxt

from ..core import events as ev
from ..core.order_state import OrderUpdate, apply, excess
from ..exchange.ccxt_gateway import CcxtGateway, pro_supports
from ..exchange.errors import map_exception, redact
from ..store.settings import ConnectionConfig
from .fees import fill_of_trade
from .lifecycle import LogFn
from .orders import OrderSender
from .tasks import end_task

log = logging.getLogger(__name__)


class OrderStream:
    """The supervised order-update websocket of one live run (see the module docstring).

    The credentials are the REST gateway's (never stored here beyond the run). ``stopped()``:
    true once the engine is stopping.
    """

    def __init__(self, conn: ConnectionConfig, gateway: CcxtGateway, sender: OrderSender, *,
                 log: LogFn, stopped: Callable[[], bool], timeout_ms: Optional[int],
                 retry_interval: float, max_retry_interval: float):
        self.conn = conn
        self.gateway = gateway
        self.sender = sender
        self._secret_values: Tuple[str, ...] = gateway.secret_values()
        self._log = log
        self._stopped = stopped
        self.timeout_ms = timeout_ms
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.task: Optional["asyncio.Task[None]"] = None
        self.up = False
        self.booked = 0  # fills this stream booked before REST saw them
        self.updates = 0  # order updates received

    @staticmethod
    def wanted(conn: ConnectionConfig) -> bool:
        """True when ``conn`` asks for websocket data and ccxt.pro follows its orders."""
        return conn.api_type == "websocket" and pro_supports(conn.exchange, "watchMyTrades")

    def start(self) -> None:
        """Start the supervisor task on the running loop."""
        self.task = asyncio.get_running_loop().create_task(self._supervise(), name=f"orders-ws:{self.conn.name}")

    async def close(self) -> None:
        """Stop the stream (its failures were logged)."""
        task, self.task = self.task, None
        await end_task(task, "the order stream")
        self.up = False

    async def _supervise(self) -> None:
        delay = self.retry_interval
        while not self._stopped():
            pro = None
            tasks: List["asyncio.Task[None]"] = []
            try:
                pro = self.gateway.stream_client(timeout_ms=self.timeout_ms, fresh=True, private=True)
                loop = asyncio.get_running_loop()
                tasks = [loop.create_task(self._trades(pro)), loop.create_task(self._orders(pro))]
                self._log(ev.CAT_ORDER, "order updates: following the account's executions by websocket "
                                        "(REST polling stays on as the cross-check)")
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    t.result()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: REST alone until the retry
                self.up = False
                if self._stopped():
                    return
                self._log(ev.CAT_ORDER, f"order updates: the websocket failed ({self._reason(exc, pro)}); orders "
                                        f"are followed by REST polling, retrying in {delay:g} s", "warning")
            finally:
                self.up = False
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if pro is not None:
                    try:
                        await pro.close()
                    except Exception:  # noqa: BLE001 - closing a dead connection must not raise
                        log.debug("closing the order websocket failed", exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry_interval)

    async def _trades(self, pro: Any) -> None:
        while True:
            trades = await pro.watch_my_trades()
            self.up = True
            for t in trades:
                if book_stream_trade(self.sender, t, self._log):
                    self.booked += 1

    async def _orders(self, pro: Any) -> None:
        if not (pro.has or {}).get("watchOrders"):
            await asyncio.Event().wait()  # trades alone: nothing to do here
            return
        while True:
            orders = await pro.watch_orders()
            self.up = True
            self.updates += len(orders)

    def _reason(self, exc: BaseException, pro: Any) -> str:
        if isinstance(exc, ccxt.BaseError):
            text = redact(str(exc) or type(exc).__name__, self._secret_values)
            return text if len(text) <= 200 else text[:197] + "..."
        return map_exception(exc, secrets=self._secret_values, exchange=pro, action="reading the order stream").message


def book_stream_trade(sender: OrderSender, raw: Dict[str, Any], log: LogFn) -> bool:
    """Book an execution the stream saw (a ccxt trade structure) for one of the run's orders,
    through the path REST uses (``apply`` refuses a trade id seen before; nothing past the
    order's amount). False when it is not ours, was booked already, or is left to REST."""
    live = sender.live
    info = raw.get("info") or {}
    cid, oid = str(info.get("c") or raw.get("clientOrderId") or ""), str(raw.get("order") or "")
    order = None if live is None else next(
        (o for o in reversed(live.core.orders) if (cid and o.clientOrderId == cid) or (oid and o.id == oid)), None)
    market = None if order is None else sender.markets.get(order.symbol)
    if live is None or order is None or market is None:
        return False
    fee_ccys = {(f or {}).get("currency") for f in (raw.get("fees") or [raw.get("fee")])} - {None}
    if fee_ccys - {market.base, market.quote}:
        return False  # a third-currency fee: REST books it with its price
    ids, gross = sender.booked.setdefault(order.clientOrderId, (set(), 0.0))
    order.id = order.id or oid or None
    fill, amount = fill_of_trade(order, raw, market, log)
    if not fill.id or fill.id in ids:
        return False
    over = excess(order, amount)
    if apply(order, OrderUpdate(trade_id=fill.id, trade_amount=amount, source="order stream")).duplicate:
        return False
    ids.add(fill.id)
    sender.booked[order.clientOrderId] = (ids, gross + amount)
    if over > 0:
        log(ev.CAT_ORDER, f"order {order.clientOrderId}: trade {fill.id} of {amount:g} goes {over:g} past the "
                          f"order's {order.amount:g}: only the rest is booked", "error")
    if over >= amount:
        return False
    if over > 0:
        fill.fee *= (amount - over) / amount
        fill.amount *= (amount - over) / amount
    live.book(order, fill)
    return True


def follow_orders(conn: ConnectionConfig, gateway: Optional[CcxtGateway], sender: Optional[OrderSender], *,
                  log: LogFn, stopped: Callable[[], bool], timeout_ms: Optional[int],
                  retry: Tuple[float, float]) -> Optional[OrderStream]:
    """A started :class:`OrderStream` for a live run (``sender`` not None) whose connection
    wants one (:meth:`OrderStream.wanted`); None otherwise (REST polling alone). ``retry``: the
    first and the longest delay (s) before reconnecting."""
    if gateway is None or sender is None or not OrderStream.wanted(conn):
        return None
    stream = OrderStream(conn, gateway, sender, log=log, stopped=stopped, timeout_ms=timeout_ms,
                         retry_interval=retry[0], max_retry_interval=retry[1])
    stream.start()
    return stream
