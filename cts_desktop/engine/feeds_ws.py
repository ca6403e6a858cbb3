"""The websocket candle stream of the exchange engine: supervision, fallback and backoff.

Where ccxt.pro supports the exchange (``watchOHLCV``), :class:`WsStream` follows one
``watch_ohlcv`` subscription per symbol at the strategy's timeframe (where it has only
``watchTrades``, ``from_trades``: one ``watch_trades`` subscription per symbol, the candles built
from the trades by :class:`~cts_desktop.engine.trade_candles.TradeCandles`), on a ccxt.pro exchange
configured like the REST one (:func:`~cts_desktop.exchange.ccxt_gateway.create_pro_exchange`;
public data, no keys). Every update lands in :attr:`WsStream.updates` (latest values per open
time); :attr:`WsStream.up` turns true once every symbol delivers on a connection.

If the websocket cannot connect, stops delivering within ``sync_timeout``, drops, or is silently
reopened by ccxt, the stream goes down (REST polling takes over: see :mod:`.feeds`), the reason
is logged, and it reconnects after a backoff delay (``retry_interval`` doubling up to
``max_retry_interval``); it is up again once every symbol delivers again. What the stream
decides about closed candles is :class:`~cts_desktop.engine.feeds.MarketFeed`'s business.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple, cast

import ccxt

from ..core import events as ev
from ..core.models import Candle, timeframe_ms
from ..exchange.ccxt_gateway import CcxtGateway
from ..exchange.errors import map_exception, redact
from ..store.settings import ConnectionConfig
from . import priority
from .lifecycle import LogFn
from .trade_candles import TradeCandles
from .tasks import end_task

log = logging.getLogger(__name__)


class WsLost(Exception):
    """The websocket stopped delivering (message: why, for the log)."""


class WsStream:
    """The supervised websocket of ``symbols`` (see the module docstring).

    ``stopped()``: true once the engine is stopping. ``sleep(s)``: a stop-aware sleep.
    ``interval()``: the REST poll interval (s), only for the log lines.
    """

    def __init__(self, conn: ConnectionConfig, gateway: CcxtGateway, symbols: List[str], timeframe: str, *,
                 name: str, log: LogFn, stopped: Callable[[], bool], sleep: Callable[[float], Awaitable[None]],
                 interval: Callable[[], float], secrets: Tuple[str, ...], timeout_ms: Optional[int],
                 retry_interval: float, max_retry_interval: float, sync_timeout: float, from_trades: bool = False):
        self.conn = conn
        self.from_trades = from_trades  # candles built from watch_trades (no watchOHLCV)
        self.gateway = gateway
        self.symbols = symbols
        self.timeframe = timeframe
        self.name = name
        self._log = log
        self._stopped = stopped
        self._sleep = sleep
        self._interval = interval
        self._secrets = secrets
        self.timeout_ms = timeout_ms
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.sync_timeout = sync_timeout
        self.task: Optional[asyncio.Task[None]] = None  # the supervisor
        self.up = False  # every symbol's stream delivers: candles come from it
        self.gen = 0  # connection attempt; watchers of an older one are ignored
        self.changed = asyncio.Event()  # a stream update arrived, or the stream went down
        self.updates: Dict[str, Dict[int, Candle]] = {}  # symbol -> open time -> latest update not yet looked at
        self.synced: Set[str] = set()  # symbols whose stream delivered on this connection
        self.forming: Dict[str, Candle] = {}  # symbol -> newest candle the stream showed
        self.gaps: Dict[str, int] = {}  # symbol -> open time before which REST must fill in
        self.last_rest = 0.0  # monotonic time of the last REST poll for an overdue candle

    def start(self) -> None:
        """Start the supervisor task."""
        self.task = asyncio.get_running_loop().create_task(self._supervise(), name=f"ws:{self.name}")

    async def close(self) -> None:
        """Stop the supervisor (its failures were logged) and forget the stream."""
        if self.task is None:
            return
        task, self.task = self.task, None
        await end_task(task, "the websocket supervisor")
        self.down()

    async def _supervise(self) -> None:
        """Connect, wait until every symbol delivers (then candles come from the stream), and
        on any failure fall back to REST and reconnect after a backoff delay."""
        delay = self.retry_interval
        connected_once = False
        while not self._stopped():
            pro = None
            tasks: List[asyncio.Task[None]] = []
            self.gen += 1
            gen = self.gen
            self.synced = set()
            try:
                pro = self.gateway.stream_client(timeout_ms=self.timeout_ms, fresh=True,
                                                 on_candle_close=priority.data_arrived)  # replays hold back
                loop = asyncio.get_running_loop()
                tasks = [loop.create_task(self._watch(pro, sym, gen), name=f"ws:{self.name}:{sym}")
                         for sym in self.symbols]
                if not await self._synced(tasks):
                    return
                self.up = True
                self.changed.set()
                self._log(ev.CAT_ENGINE, f"market data: websocket {'reconnected' if connected_once else 'connected'}; "
                                         f"{', '.join(self.symbols)} {self.timeframe} candles arrive by websocket"
                          + (" again" if connected_once else ""))
                connected_once = True
                delay = self.retry_interval
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    t.result()
                raise WsLost("the stream ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: REST fallback and retry
                was_up = self.up
                self.down()
                if self._stopped():
                    return
                what = "dropped" if was_up else "cannot connect"
                self._log(ev.CAT_ENGINE, f"market data: the websocket {what} ({self._reason(exc, pro)}); polling "
                                         f"candles over REST every {self._interval():g} s, retrying the websocket in "
                                         f"{delay:g} s", "warning")
            finally:
                await self._close_attempt(tasks, pro)
            await self._sleep(delay)
            delay = min(delay * 2, self.max_retry_interval)

    async def _synced(self, tasks: List[asyncio.Task[None]]) -> bool:
        """Until every symbol delivered (True) or a stop (False); raises what ended a watcher,
        or :class:`WsLost` after ``sync_timeout``."""
        deadline = time.monotonic() + self.sync_timeout
        while len(self.synced) < len(self.symbols):
            done, _ = await asyncio.wait(tasks, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # raises what ended it
            if self._stopped():
                return False
            if time.monotonic() > deadline:
                missing = [s for s in self.symbols if s not in self.synced]
                raise WsLost(f"no {', '.join(missing)} candles within {self.sync_timeout:g} s of subscribing")
        return True

    @staticmethod
    async def _close_attempt(tasks: List[asyncio.Task[None]], pro: Any) -> None:
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if pro is not None:
            try:
                await pro.close()
            except Exception:  # noqa: BLE001 - closing a dead connection must not raise
                log.debug("closing the websocket connection failed", exc_info=True)

    async def _watch(self, pro: Any, sym: str, gen: int) -> None:
        """Follow ``sym``'s candles: every update goes to :attr:`updates` (latest values per
        open time). Raises when the stream fails; :class:`WsLost` when ccxt reopened the
        connection by itself (updates may have been missed)."""
        clients = None
        builder = TradeCandles(timeframe_ms(self.timeframe)) if self.from_trades else None
        while True:
            if builder is None:
                rows = await pro.watch_ohlcv(sym, self.timeframe)
            else:
                rows = builder.add_trades(await pro.watch_trades(sym))
                rows.extend([builder.forming] if builder.forming is not None else [])
            now = frozenset(id(c) for c in (getattr(pro, "clients", None) or {}).values())
            if clients is not None and now != clients:
                raise WsLost("the connection was lost and reopened")
            clients = now
            if gen != self.gen:
                return
            store = self.updates.setdefault(sym, {})
            for r in rows:
                if r and r[0] is not None:
                    c = cast(Candle, (int(r[0]), *(float(x) if x is not None else 0.0 for x in r[1:6])))
                    store[c[0]] = c
            priority.candle_update((id(self), sym), max(store) if store else None)  # replays hold back at a close
            self.synced.add(sym)
            self.changed.set()

    def down(self) -> None:
        """The stream failed: REST takes over; what the stream showed is forgotten (REST
        fetches everything after the last candle fed)."""
        self.up = False
        self.gen += 1
        self.updates = {}
        self.forming = {}
        self.gaps = {}
        self.synced = set()
        self.changed.set()

    def _reason(self, exc: BaseException, pro: Any) -> str:
        if isinstance(exc, WsLost):
            return str(exc)
        if isinstance(exc, ccxt.BaseError):
            text = redact(str(exc) or type(exc).__name__, self._secrets)
            return text if len(text) <= 200 else text[:197] + "..."
        return map_exception(exc, secrets=self._secrets, exchange=pro, action="reading the websocket").message

    async def wait(self, seconds: float) -> None:
        """Until a stream update, the stream going down, a stop, or ``seconds``."""
        end = time.monotonic() + seconds
        while not self._stopped() and self.up and not self.changed.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.05))
            except asyncio.TimeoutError:
                pass

    def take_updates(self) -> Dict[str, Dict[int, Candle]]:
        """The updates since the last call (clears them and the change flag)."""
        self.changed.clear()
        updates, self.updates = self.updates, {}
        return updates
