"""Market data of the exchange engine: closed candles of every symbol, by REST or by websocket.

REST (both modes)
    Closed candles of every configured symbol at the strategy's timeframe (``"auto"``: 1m), polled
    with ``fetch_ohlcv``. A candle counts as closed when the exchange already serves a later one,
    or when its end (open time + timeframe) is more than ``close_grace_ms`` in the past; the
    candle still forming is dropped. At start the last ``strategy.warmup`` closed candles are
    fetched for the warm-up (:meth:`MarketFeed.warm_up_batch`); only candles closing after
    that are traded. Candles of all symbols come in time order.

Websocket (``conn.api_type == "websocket"``)
    Where ccxt.pro supports the exchange, the candles come from the supervised stream of
    :mod:`.feeds_ws` while it is up. The closed-candle rule is the REST one: a candle is closed
    when an update of a later candle arrives (or, with ``close_grace_ms``, when its end is that
    far in the past: then a REST poll decides, as in REST mode). Where the stream and the
    candles already fed do not join up (after a (re)connect, a missed update), the candles in
    between are fetched over REST first, so no candle is lost, and none is fed twice (only
    candles after the last one fed are). Candles of one update round are fed in time order.
    While the stream is down, candles are polled over REST. Where ccxt.pro streams trades but
    no candles (``watchTrades`` without ``watchOHLCV``), the candles are built from the trade
    stream (:mod:`.trade_candles`). An exchange without either is polled over REST, with a log
    line saying so. :attr:`MarketFeed.data_source`
    tells which path is in use.

Freshness and late candles
    Every answer (REST) or stream update (websocket) whose newest candle moved calls
    ``on_fresh(symbol)`` (the staleness watchdog, :mod:`.staleness`). A closed candle that arrives
    more than one timeframe after it closed (:meth:`MarketFeed.late`: by the exchange's clock, or
    because a newer candle has closed since, as when candles pile up during a data outage) is
    for the warm-up only, never a decision.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable, Dict, List, Optional, Tuple

import ccxt

from ..core import events as ev
from ..core.models import Candle
from ..exchange.ccxt_gateway import CcxtGateway, pro_supports
from ..store.settings import ConnectionConfig
from .bus import EventBus
from .core import TradingCore
from .feeds_ws import WsStream
from .lifecycle import LogFn
from .staleness import FeedWatchdog, default_stale_after

MAX_CANDLES_PER_REQUEST = 500
WS_COALESCE_S = 0.02  # several symbols: wait this long after an update so siblings' updates join the round

Batch = List[Tuple[str, Candle]]  # (symbol, closed candle), in time order


def late_message(n: int) -> str:
    """The log line for ``n`` late candles (:meth:`MarketFeed.late`) fed as warm-up."""
    return (f"{n} candle{'s' if n != 1 else ''} arrived more than one timeframe after closing (piled up while "
            "market data was late): fed as warm-up only, no decisions on them")


class MarketFeed:
    """Closed candles of ``symbols`` at ``timeframe`` (``tf_ms`` ms) from ``gateway``; see the
    module docstring. ``poll_interval``: seconds between REST polls (None: a twentieth of the
    timeframe, between 1 and 15 s). ``close_grace_ms``: see :meth:`closed` (None: only a
    later candle closes one). ``retry_interval``, ``max_retry_interval``, ``sync_timeout``:
    the websocket's timing (:class:`WsStream`). ``stopped()``: true once the engine is stopping.
    """

    def __init__(self, conn: ConnectionConfig, gateway: CcxtGateway, symbols: List[str], timeframe: str,
                 tf_ms: int, *, name: str, log: LogFn, stopped: Callable[[], bool], secrets: Tuple[str, ...],
                 poll_interval: Optional[float], close_grace_ms: Optional[int], timeout_ms: Optional[int],
                 retry_interval: float, max_retry_interval: float, sync_timeout: float):
        self.conn = conn
        self.gateway = gateway
        self.symbols = symbols
        self.timeframe = timeframe
        self.tf_ms = tf_ms
        self.name = name
        self._log = log
        self._stopped = stopped
        self.poll_interval = poll_interval
        self.close_grace_ms = close_grace_ms
        self.last_ts: Dict[str, int] = {}  # symbol -> open time of the last closed candle seen
        self.catch_up = False  # next batch: warm-up pass only (after a pause)
        self.ws: Optional[WsStream] = None
        self._secrets = secrets
        self.timeout_ms = timeout_ms
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.sync_timeout = sync_timeout
        self.on_fresh: Callable[[str], None] = lambda symbol: None  # the watchdog's
        self.now_ms: Callable[[], int] = lambda: int(time.time() * 1000)  # the exchange's clock (ms)
        self.heads: Dict[str, Candle] = {}  # symbol -> newest candle the exchange showed (forming or closed)
        self.staleness: Optional[FeedWatchdog] = None  # see watch()
        self.late_candles = 0  # closed candles that arrived over a timeframe late (warm-up only)
        self._late_now = 0  # of them, since the last report_late()

    def watch(self, core: TradingCore, now_ms: Callable[[], int], stale_after_s: Optional[float], *, bus: EventBus,
              paused: Callable[[], bool]) -> None:
        """Watch the symbols' freshness (:mod:`.staleness`; ``stale_after_s`` None: two
        timeframes, at least three polls): entries on stale symbols are refused by the core's
        breakers. Late candles are judged by ``now_ms()`` (the exchange's clock, ms)."""
        limit = stale_after_s or default_stale_after(self.tf_ms, self.interval())
        self.staleness = FeedWatchdog(core.connection, self.symbols, limit, bus=bus, log=self._log, paused=paused)
        if core.breakers is not None:
            core.breakers.symbol_holds = self.staleness.blocked
        self.on_fresh, self.now_ms = self.staleness.fresh, now_ms

    def resume(self) -> None:
        """After a pause: the candles closed meanwhile are warm-up only, silence then was no staleness."""
        self.catch_up = True
        if self.staleness is not None:
            self.staleness.restart()

    def report_late(self) -> None:
        """Log the late candles (:meth:`late`) seen since the last report, if any."""
        if self._late_now:
            self._log(ev.CAT_ENGINE, late_message(self._late_now), "warning")
            self._late_now = 0

    def _saw(self, sym: str, newest: Optional[Candle]) -> None:
        """The exchange showed ``newest`` as ``sym``'s newest candle: fresh data when it moved."""
        if newest is None:
            return
        head = self.heads.get(sym)
        if head is None or newest[0] > head[0] or (newest[0] == head[0] and newest != head):
            self.heads[sym] = newest
            self.on_fresh(sym)

    def late(self, sym: str, candle: Candle) -> bool:
        """True when closed ``candle`` of ``sym`` arrives more than one timeframe after its close
        (by the exchange's clock, or a candle newer than the next one is already open): warm-up
        only, never a decision."""
        head = self.heads.get(sym)
        late = candle[0] + 2 * self.tf_ms <= max(self.now_ms(), head[0] if head is not None else 0)
        self.late_candles += late
        self._late_now += late
        return late

    @property
    def data_source(self) -> str:
        """Where candles come from right now: ``"rest"`` (polling) or ``"websocket"``."""
        return "websocket" if self.ws is not None and self.ws.up else "rest"

    def interval(self) -> float:
        """Seconds between REST polls."""
        if self.poll_interval is not None:
            return max(float(self.poll_interval), 0.01)
        return min(max(self.tf_ms / 1000.0 / 20.0, 1.0), 15.0)

    async def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; a stop ends it at once."""
        end = time.monotonic() + seconds
        while not self._stopped():
            left = end - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))

    def closed(self, candles: List[Candle]) -> List[Candle]:
        """The closed candles of one ``fetch_ohlcv`` answer (oldest first): all but a last one
        that is still forming (see the module docstring)."""
        if not candles:
            return []
        last = candles[-1]
        if self.close_grace_ms is not None and last[0] + self.tf_ms + self.close_grace_ms <= self.now_ms():
            return list(candles)
        return list(candles[:-1])

    async def warm_up_batch(self, n: int) -> Batch:
        """The last ``n`` closed candles of each symbol in time order; remembers the newest
        closed candle of each, so that only later ones trade."""
        batch: Batch = []
        for sym in self.symbols:
            candles = await self.gateway.fetch_ohlcv(sym, self.timeframe, limit=min(n + 2, 1000))
            self._saw(sym, candles[-1] if candles else None)
            closed = self.closed(candles)
            if closed:
                self.last_ts[sym] = closed[-1][0]
            batch.extend((sym, c) for c in closed[-n:] if n)
        batch.sort(key=lambda item: item[1][0])
        return batch

    # -- the running feed ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the staleness watchdog, and the websocket supervisor when the connection asks
        for websocket data and ccxt.pro supports the exchange; otherwise say that REST polling is used."""
        if self.staleness is not None:
            self.staleness.start()
        if self.conn.api_type != "websocket":
            return
        name = self.gateway.exchange.name
        from_trades = not pro_supports(self.conn.exchange) and pro_supports(self.conn.exchange, "watchTrades")
        if not pro_supports(self.conn.exchange) and not from_trades:
            self._log(ev.CAT_ENGINE, f"market data: {name} has no websocket candles in ccxt.pro {ccxt.__version__} "
                                     f"(watchOHLCV); polling closed candles over REST every {self.interval():g} s "
                                     "instead", "warning")
            return
        what = "trades (ccxt.pro watch_trades; candles built from them)" if from_trades else \
            "candles (ccxt.pro watch_ohlcv)"
        self._log(ev.CAT_ENGINE, f"market data: connecting the websocket for {', '.join(self.symbols)} "
                                 f"{self.timeframe} {what}; polling over REST until it delivers")
        self.ws = WsStream(self.conn, self.gateway, self.symbols, self.timeframe, name=self.name, log=self._log,
                           stopped=self._stopped, sleep=self.sleep, interval=self.interval, secrets=self._secrets,
                           timeout_ms=self.timeout_ms, retry_interval=self.retry_interval,
                           max_retry_interval=self.max_retry_interval, sync_timeout=self.sync_timeout,
                           from_trades=from_trades)
        self.ws.start()

    async def close(self) -> None:
        """Stop the websocket and the watchdog, if any."""
        if self.ws is not None:
            await self.ws.close()
        if self.staleness is not None:
            await self.staleness.close()

    async def batch(self) -> Tuple[Batch, bool]:
        """(newly closed candles of every symbol in time order, True when the websocket
        delivered them: no poll interval to sleep)."""
        if self.ws is not None and self.ws.up:
            return await self._ws_batch(self.ws), True
        return await self.poll(), False

    async def poll(self) -> Batch:
        """Newly closed candles of every symbol, in time order (REST)."""
        out: Batch = []
        for sym in self.symbols:
            fresh = await self._rest_closed(sym, self.last_ts.get(sym))
            if fresh:
                self.last_ts[sym] = fresh[-1][0]
                out.extend((sym, c) for c in fresh)
        out.sort(key=lambda item: item[1][0])
        return out

    async def _rest_closed(self, sym: str, last: Optional[int]) -> List[Candle]:
        """The closed candles of ``sym`` after open time ``last`` (REST, :meth:`closed`)."""
        candles = await self.gateway.fetch_ohlcv(sym, self.timeframe, since=None if last is None else last + 1,
                                                 limit=MAX_CANDLES_PER_REQUEST)
        self._saw(sym, candles[-1] if candles else None)
        return [c for c in self.closed(candles) if last is None or c[0] > last]

    async def _rest_between(self, sym: str, last: Optional[int], newest: int) -> List[Candle]:
        """Candles of ``sym`` opened after ``last`` and before ``newest`` (all closed: a later
        candle exists), over REST, page by page."""
        out: List[Candle] = []
        since = None if last is None else last + 1
        while True:
            candles = await self.gateway.fetch_ohlcv(sym, self.timeframe, since=since, limit=MAX_CANDLES_PER_REQUEST)
            out.extend(c for c in candles if (last is None or c[0] > last) and c[0] < newest)
            if since is None or len(candles) < MAX_CANDLES_PER_REQUEST or candles[-1][0] >= newest - self.tf_ms:
                return out
            since = candles[-1][0] + 1

    # -- websocket rounds ------------------------------------------------------------------------
    async def _ws_batch(self, ws: WsStream) -> Batch:
        """Newly closed candles from the stream (see the module docstring), in time order."""
        if not self.catch_up and not ws.gaps:
            await ws.wait(self.interval())
            if len(self.symbols) > 1 and ws.changed.is_set():
                await asyncio.sleep(WS_COALESCE_S)
        if not ws.up:
            return []  # went down: the next round polls
        found = self._ws_closed(ws, ws.take_updates())
        overdue = self._overdue(ws)
        gen = ws.gen
        for sym, newest in list(ws.gaps.items()):
            last = self.last_ts.get(sym)
            rows = found.setdefault(sym, {})
            for c in await self._rest_between(sym, last, newest):
                rows.setdefault(c[0], c)
            if gen == ws.gen:
                ws.gaps.pop(sym, None)
        for sym in overdue:  # no later candle yet although this one ended: REST's rule decides
            rows = found.setdefault(sym, {})
            for c in await self._rest_closed(sym, self.last_ts.get(sym)):
                rows.setdefault(c[0], c)
        out: Batch = []
        for sym in self.symbols:
            got = found.get(sym)
            if not got:
                continue
            last = self.last_ts.get(sym)
            fresh = [got[t] for t in sorted(got) if last is None or t > last]
            if fresh:
                self.last_ts[sym] = fresh[-1][0]
                out.extend((sym, c) for c in fresh)
        out.sort(key=lambda item: item[1][0])
        return out

    def _ws_closed(self, ws: WsStream, updates: Dict[str, Dict[int, Candle]]) -> Dict[str, Dict[int, Candle]]:
        """symbol -> open time -> candle closed by the stream's ``updates`` and not fed yet;
        records the gaps REST must fill in."""
        tf = self.tf_ms
        found: Dict[str, Dict[int, Candle]] = {}
        for sym, rows in updates.items():
            forming = ws.forming.get(sym)
            known = {} if forming is None else {forming[0]: forming}
            for ts, c in rows.items():
                if forming is None or ts >= forming[0]:
                    known[ts] = c
            if not known:
                continue
            newest = max(known)
            ws.forming[sym] = known[newest]
            self._saw(sym, known[newest])
            last = self.last_ts.get(sym)
            closed = {t: c for t, c in known.items() if t < newest and (last is None or t > last)}
            found[sym] = closed
            if last is not None and len(closed) < (newest - last) // tf - 1:
                ws.gaps[sym] = max(newest, ws.gaps.get(sym, 0))  # the stream missed some: REST fills in
        return found

    def _overdue(self, ws: WsStream) -> List[str]:
        """Symbols whose newest streamed candle ended ``close_grace_ms`` ago with no later one
        (at most one REST poll for them per poll interval)."""
        if self.close_grace_ms is None:
            return []
        now = self.now_ms()
        overdue = [s for s, f in ws.forming.items()
                   if f[0] + self.tf_ms + self.close_grace_ms <= now and s not in ws.gaps]
        if overdue and time.monotonic() - ws.last_rest >= self.interval():
            ws.last_rest = time.monotonic()
            return overdue
        return []
