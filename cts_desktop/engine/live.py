"""The exchange engine: one connection on a real exchange, paper or live.

:class:`ExchangeEngine` has the public interface and the state machine of
:class:`~cts_desktop.engine.engine.TradeEngine` (it reuses them) and runs the same
:class:`~cts_desktop.engine.core.TradingCore`; only where candles come from and where orders go
differ.

Market data (both modes)
    Closed candles of every configured symbol at the strategy's timeframe (``"auto"``: 1m), polled
    with ``fetch_ohlcv``. A candle counts as closed when the exchange already serves a later one,
    or when its end (open time + timeframe) is more than :data:`CLOSE_GRACE_MS` in the past;
    the candle still forming is dropped. At start the last ``strategy.warmup`` closed candles go
    to the strategies without trading (their signals are discarded), so the first live decision
    is taken on a warmed-up indicator; only candles closing after that are traded. Candles of
    all symbols are fed in time order. After a pause, the candles that closed meanwhile also go
    through the warm-up pass (a decision on them would act on stale prices).

Market data by websocket (``conn.api_type == "websocket"``)
    Where ccxt.pro supports the exchange (``watchOHLCV``), the candles come from
    ``watch_ohlcv`` instead: one subscription per symbol at the strategy's timeframe, on a
    ccxt.pro exchange configured like the REST one (:func:`create_pro_exchange`; public data,
    no keys). The closed-candle rule is the REST one: a candle is closed when an update of a
    later candle arrives (or, with ``close_grace_ms``, when its end is that far in the past: then
    a REST poll decides, as in REST mode); the warm-up is the REST one. Where the stream and
    the candles already fed do not join up (after a (re)connect, a missed update), the
    candles in between are fetched over REST first, so no candle is lost, and none is fed twice
    (only candles after the last one fed are). Candles of one update round are fed in time
    order. If the websocket cannot connect, stops delivering within ``ws_sync_timeout``, drops,
    or is silently reopened by ccxt, the engine logs it and polls over REST while it retries the
    websocket with backoff (``ws_retry_interval`` doubling up to ``max_ws_retry_interval``),
    and goes back to the stream once every symbol delivers again. An exchange without ccxt.pro
    support is polled over REST, with a log line saying so. :attr:`ExchangeEngine.data_source`
    tells which path is in use.

Paper mode (``conn.live`` False)
    No keys are read. The core's own paper exchange fills orders at the next candle's open, as in
    a replay, but the candles are the exchange's real ones. Starting balance:
    ``conn.starting_balance`` (USDT-equivalent; converted at the last ``QUOTE/USDT`` close when
    the quote currency is not a dollar).

Live mode (``conn.live`` True)
    ``core.external_execution`` is on. After each candle the engine drains ``core.outbox``: for
    each order it waits until the order row (state ``pending-create``) is committed, then sends
    it with its ``clientOrderId``. Starting balance: the exchange's *free* balance of the quote
    currency at start (money locked in open orders or held in other assets is not counted).

    * Accepted: the acknowledged state is recorded; executions are booked from
      ``fetch_my_trades`` (exact prices, fees and trade ids; the trade id is the fill id), an
      order still working is polled with ``fetch_order`` until it is closed or canceled, every
      new execution booked once.
    * Refused (``insufficient-funds``, ``min-notional``, ``invalid-order``, ``bad-symbol``,
      ``not-supported``, and ``auth``/``permission``/``clock``): the order is failed/rejected
      with the exchange's message and the engine carries on, except for the last three, after
      which it cannot trade: it goes to error.
    * Outcome unknown (a transient error: timeout, lost response, network, rate limit,
      maintenance; also ``exchange-error`` and ``internal``): the order stays ``pending-create``
      and is queried by ``clientOrderId`` with backoff until a query settles it. It is **never
      resent**. It counts as *failed* only after the rule of :meth:`ExchangeEngine.unknown_order_window_ms`:
      two ``order-not-found`` answers at least W apart, where W is the request's ``recvWindow``
      plus :data:`CLOCK_MARGIN_MS` (an exchange drops a signed request older than its
      ``recvWindow``, so once W has passed since a not-found, the order can no longer appear).

    Fees: a fee paid in the base currency of a buy (Binance without BNB) is taken off the booked
    amount, so the position matches what the wallet holds, and the amount is truncated to the
    market's lot step so the position can be sold in full; the fee and that dust, valued at the
    fill price, are booked as the fill's fee in quote (the dust stays in the wallet, unused).
    A base-currency fee on a sell is booked at the fill price in quote. A fee in a third
    currency (BNB) is not part of the quote balance: it is logged and booked as 0.

Start-up reconciliation (live, fail closed)
    Before trading, every order of this connection's earlier *live* runs still non-terminal in
    the database (``pending-create``, ``open``, ``partially-filled``, ``pending-cancel``) is
    queried (orders of paper runs never reached the exchange and are ignored). Executions that happened while the app was down are recorded as fills of the
    order's own run (the ``(connection, fill_id)`` key makes this idempotent) and the order's
    final state is recorded. An order that cannot be settled within ``reconcile_timeout_s``, is
    still open at the exchange, or is on a market the exchange no longer lists puts the engine
    in error (``cannot reconcile order X: ...``) instead of trading. Positions of earlier runs are
    not carried into the new run: it starts flat with the free balance; what the wallet holds
    stays at the exchange.

Stop
    Stopping leaves positions and exchange orders as they are: in-flight orders are logged (the
    next start reconciles them), open orders at the exchange and open positions are listed in the
    log. Nothing is canceled or closed.

Errors
    Every failure ends in the engine's ``error`` state with a human ``reason`` (a
    :class:`~cts_desktop.exchange.errors.GatewayError` message: no traceback, no secret). Market
    data errors that may pass (network, rate limit) are retried with backoff up to
    ``max_data_failures`` consecutive attempts.

Secrets are read from the OS keyring (:class:`~cts_desktop.store.secrets.SecretStore`) at start,
only in live mode, unless the caller passed ``secrets``. Nothing here imports Qt, and nothing
blocks the loop (keyring and database reads run in the default executor).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.models import (BUY, FAILED, PARTIALLY_FILLED, PENDING_CANCEL, PENDING_CREATE,
                           REJECTED, STATE_CANCELED, STATE_OPEN, TERMINAL_STATES, Candle, Fill, Market, Order,
                           timeframe_ms)
from ..core.risk import RiskLimits, truncate_amount
from ..exchange.ccxt_gateway import BINANCE_FAMILY, CcxtGateway, create_pro_exchange, pro_supports
from ..exchange.errors import GatewayError, map_exception, redact
from ..store.settings import SPEEDS, ConnectionConfig
from .bus import EventBus
from .core import TradingCore
from .engine import EngineError, TradeEngine, build_strategies

log = logging.getLogger(__name__)

DEFAULT_TIMEFRAME = "1m"  # for strategies whose timeframe is "auto"
CLOSE_GRACE_MS = 2_000  # a candle whose end is this far in the past is closed even if it is the last served
CLOCK_MARGIN_MS = 1_000  # added to recvWindow: clock difference between us and the exchange
DEFAULT_RECV_WINDOW_MS = 10_000  # exchanges without a recvWindow option
MAX_CANDLES_PER_REQUEST = 500
WS_COALESCE_S = 0.02  # several symbols: wait this long after an update so siblings' updates join the round
DOLLARS = frozenset({"USDT", "USD", "USDC", "BUSD", "FDUSD", "TUSD", "DAI"})
NON_TERMINAL = (PENDING_CREATE, STATE_OPEN, PARTIALLY_FILLED, PENDING_CANCEL)

REFUSED_KINDS = frozenset({"insufficient-funds", "min-notional", "invalid-order", "bad-symbol", "not-supported",
                           "auth", "permission", "clock"})
"""Error kinds meaning the exchange refused the order: it does not exist."""
FATAL_KINDS = frozenset({"auth", "permission", "clock"})
"""Refusals after which no order can succeed: the engine goes to error."""


class _Unsettled(Exception):
    """An order's state cannot be established (message: why)."""


class _WsLost(Exception):
    """The websocket stopped delivering (message: why, for the log)."""


class ExchangeEngine(TradeEngine):
    """Runs one connection on the ccxt exchange ``conn.exchange``: paper (real candles, simulated
    fills) or live (orders sent to the exchange). See the module docstring for the rules.

    ``secrets``: credentials (field -> value) to use instead of reading the keyring; live mode
    only. ``poll_interval``: seconds between candle polls (default: a twentieth of the
    timeframe, between 1 and 15 s). ``recv_window_ms``: the ``recvWindow`` to sign requests
    with (Binance family; default ccxt's, 10 s); it sets the unknown-order window.
    ``settle_interval``: first delay (s) between queries of an unsettled order (doubles up to
    ``max_settle_interval``). ``reconcile_timeout_s``: how long start-up reconciliation may
    try. ``max_data_failures``: consecutive transient market-data failures before giving up.
    ``timeout_ms``: HTTP timeout of each request. ``default_timeframe``: for ``"auto"``.
    ``close_grace_ms``: see :meth:`_closed` (None: only a later candle closes one).
    Websocket market data (``conn.api_type == "websocket"``): ``ws_retry_interval`` first delay
    (s) before reconnecting (doubles up to ``max_ws_retry_interval``); ``ws_sync_timeout``: how
    long a (re)connected stream may take to deliver every symbol before it counts as failed.

    The state machine, commands and :meth:`summary` are :class:`TradeEngine`'s;
    :meth:`set_speed` has no effect (real time is the only speed).
    """

    def __init__(self, conn: ConnectionConfig, *, bus: Optional[EventBus] = None, recorder=None,
                 secrets: Optional[Mapping[str, str]] = None, poll_interval: Optional[float] = None,
                 recv_window_ms: Optional[int] = None, settle_interval: float = 0.5, max_settle_interval: float = 10.0,
                 reconcile_timeout_s: float = 60.0, max_data_failures: int = 8, timeout_ms: Optional[int] = None,
                 default_timeframe: str = DEFAULT_TIMEFRAME, close_grace_ms: Optional[int] = CLOSE_GRACE_MS,
                 ws_retry_interval: float = 1.0, max_ws_retry_interval: float = 60.0, ws_sync_timeout: float = 15.0):
        super().__init__(conn, bus=bus, recorder=recorder, mode="live" if conn.live else "paper")
        self._given_secrets = dict(secrets) if secrets is not None else None
        self._secret_values: Tuple[str, ...] = ()
        self.poll_interval = poll_interval
        self.recv_window_ms = recv_window_ms
        self.settle_interval = settle_interval
        self.max_settle_interval = max_settle_interval
        self.reconcile_timeout_s = reconcile_timeout_s
        self.max_data_failures = max_data_failures
        self.timeout_ms = timeout_ms
        self.default_timeframe = default_timeframe
        self.gateway: Optional[CcxtGateway] = None
        self.markets: Dict[str, Market] = {}
        self.timeframe = ""
        self.tf_ms = 0
        self.live = bool(conn.live)
        self._last_ts: Dict[str, int] = {}  # symbol -> open time of the last closed candle seen
        self._catch_up = False  # next poll: warm-up pass only (after a pause)
        self._fatal: Optional[str] = None  # set by background order tasks: the run must end in error
        self._settlers: Dict[str, asyncio.Task] = {}  # clientOrderId -> task following the order
        self._booked: Dict[str, Tuple[set, float]] = {}  # clientOrderId -> (trade ids, gross amount booked)
        self.reconciled: List[Order] = []  # orders of earlier runs settled at start
        self._old_run: Optional[int] = None  # run of the order being reconciled
        self._last_state: Dict[str, tuple] = {}
        #: a candle whose end is this many ms in the past counts as closed even when it is the
        #: last one served; None: only a later candle closes one
        self.close_grace_ms: Optional[int] = close_grace_ms
        self.ws_retry_interval = ws_retry_interval
        self.max_ws_retry_interval = max_ws_retry_interval
        self.ws_sync_timeout = ws_sync_timeout
        #: where candles come from right now: ``"rest"`` (polling) or ``"websocket"``
        self.data_source = "rest"
        self._ws_task: Optional[asyncio.Task] = None  # the websocket supervisor
        self._ws_up = False  # every symbol's stream delivers: candles come from it
        self._ws_gen = 0  # connection attempt; watchers of an older one are ignored
        self._ws_changed = asyncio.Event()  # a stream update arrived, or the stream went down
        self._ws_updates: Dict[str, Dict[int, Candle]] = {}  # symbol -> open time -> latest update not yet looked at
        self._ws_synced: set = set()  # symbols whose stream delivered on this connection
        self._ws_forming: Dict[str, Candle] = {}  # symbol -> newest candle the stream showed
        self._ws_gaps: Dict[str, int] = {}  # symbol -> open time before which REST must fill in
        self._ws_last_rest = 0.0  # monotonic time of the last REST poll for an overdue candle

    # -- commands -----------------------------------------------------------------------------
    def set_speed(self, speed: str) -> None:
        """No effect: an exchange runs in real time. Raises :class:`EngineError` for an unknown key."""
        if speed not in SPEEDS:
            raise EngineError(f"unknown speed {speed!r}; choose one of {', '.join(SPEEDS)}")

    def resume(self) -> None:
        super().resume()
        self._catch_up = True

    def unknown_order_window_ms(self) -> int:
        """W of the unknown-outcome rule (ms): an order whose creation had an unknown outcome is
        failed only after two ``order-not-found`` answers at least W apart. W = the
        ``recvWindow`` the requests are signed with + :data:`CLOCK_MARGIN_MS`."""
        rw = DEFAULT_RECV_WINDOW_MS
        if self.gateway is not None:
            try:
                rw = int(self.gateway.exchange.options.get("recvWindow") or DEFAULT_RECV_WINDOW_MS)
            except (TypeError, ValueError):
                rw = DEFAULT_RECV_WINDOW_MS
        return rw + CLOCK_MARGIN_MS

    # -- start --------------------------------------------------------------------------------
    async def _initialize(self) -> None:
        conn = self.conn
        loop = asyncio.get_running_loop()
        if conn.is_paper_replay:
            raise EngineError(f"{conn.name}: the recorded-market paper exchange runs in TradeEngine")
        if not conn.symbols:
            raise EngineError(f"{conn.name}: no symbols configured; add the markets to trade (e.g. BTC/USDT)")
        strategies = build_strategies(conn)
        limits = RiskLimits(**conn.risk)
        strategy = strategies[0]
        tf = strategy.timeframe if strategy.timeframe != "auto" else self.default_timeframe
        try:
            self.tf_ms = timeframe_ms(tf)
        except ValueError as exc:
            raise EngineError(f"{strategy.name}: {exc}") from None
        self.timeframe = tf
        if self.live and self.recorder is None:
            raise EngineError("live trading needs the trade database (orders are recorded before they are sent)")

        secrets: Dict[str, str] = {}
        if self.live:
            secrets = self._given_secrets if self._given_secrets is not None else \
                await loop.run_in_executor(None, self._read_keyring)
        self._secret_values = tuple(v for v in secrets.values() if v)
        self.gateway = CcxtGateway(conn, secrets, timeout_ms=self.timeout_ms)
        ex = self.gateway.exchange
        if self.recv_window_ms is not None and ex.id in BINANCE_FAMILY:
            ex.options["recvWindow"] = int(self.recv_window_ms)
        if self.live and not ex.check_required_credentials(False):
            missing = [k for k, need in (ex.requiredCredentials or {}).items() if need and not getattr(ex, k, None)]
            raise EngineError(f"{conn.name}: live trading needs the API credentials ({', '.join(missing)}); "
                              "none are stored in the keyring for this connection")
        if not ex.has.get("fetchOHLCV"):
            raise EngineError(f"{ex.name} does not provide candles (OHLCV) through ccxt")
        if isinstance(ex.timeframes, dict) and ex.timeframes and tf not in ex.timeframes:
            raise EngineError(f"{ex.name} has no {tf} candles; it offers {', '.join(ex.timeframes)}")

        all_markets = await self.gateway.load_markets()
        for sym in conn.symbols:
            if sym not in all_markets:
                raise EngineError(f"{ex.name} does not list {sym} ({conn.market_type} markets); "
                                  "check the symbol (unified form, e.g. BTC/USDT)")
        self.markets = {s: all_markets[s] for s in conn.symbols}
        quotes = sorted({m.quote for m in self.markets.values()})
        if len(quotes) > 1:
            raise EngineError(f"{conn.name}: all symbols must share one quote currency (found {', '.join(quotes)})")
        quote = quotes[0]

        if self.live:
            await self._reconcile()
            balances = await self.gateway.fetch_balance()
            balance = (balances.get(quote) or {}).get("free", 0.0)
            if not balance > 0:
                raise EngineError(f"no free {quote} at {ex.name}: live trading starts from the account's free "
                                  f"{quote} balance")
        else:
            balance = await self._paper_balance(quote, all_markets)

        if self.recorder is not None:
            self.run_id = await asyncio.wrap_future(self.recorder.begin_run_future(
                conn.name, self.mode, dataset=f"{conn.exchange}:{conn.market_type}:{tf}", strategy=conn.strategy,
                params=strategy.p, currency=quote, starting_balance=balance))
        self.core = TradingCore(
            conn.name, self.markets, strategies, portfolio=Portfolio(balance, quote), limits=limits,
            data_timeframe_ms=self.tf_ms, default_size=strategy.p.get("size", 0.2), fee=conn.fee,
            bus=self.bus, recorder=self.recorder, run_id=self.run_id,
        )
        self.core.external_execution = self.live
        where = f"{ex.name}{' testnet' if conn.testnet else ''}"
        self._log(ev.CAT_ENGINE, f"started {'LIVE' if self.live else 'paper'} run #{self.run_id or '-'} on {where}: "
                                 f"{', '.join(conn.symbols)} {tf}, strategy {conn.strategy} {strategy.p}, "
                                 f"balance {balance:.8g} {quote}")
        for o in self.reconciled:
            self._log(ev.CAT_ORDER, f"reconciled order {o.clientOrderId} of an earlier run: {o.state}"
                                    + (f", filled {o.filled:g} {o.symbol} @ {o.average:g}" if o.filled and o.average else ""))
        self.core.start()
        await self._warm_up(max(int(getattr(strategy, "warmup", 0) or 0), 0))
        self.started_wall = time.time()

    def _read_keyring(self) -> Dict[str, str]:
        from ..store.secrets import SecretStore

        fields = self.conn.credential_fields or ["apiKey", "secret"]
        return SecretStore.open().get_all(self.conn.name, fields)

    async def _paper_balance(self, quote: str, all_markets: Dict[str, Market]) -> float:
        balance = float(self.conn.starting_balance)
        if quote in DOLLARS:
            return balance
        pair = f"{quote}/USDT"
        if pair in all_markets:
            candles = await self.gateway.fetch_ohlcv(pair, self.timeframe, limit=2)
            if candles and candles[-1][4] > 0:
                return balance / candles[-1][4]
        raise EngineError(f"cannot express the starting balance in {quote}: the exchange lists no {pair}; "
                          "use symbols quoted in a dollar stablecoin")

    async def _warm_up(self, n: int) -> None:
        """Fetch the recent closed candles; feed the last ``n`` of each symbol to the strategies
        without trading, and remember the newest closed candle so that only later ones trade."""
        batch: List[Tuple[str, Candle]] = []
        for sym in self.markets:
            candles = await self.gateway.fetch_ohlcv(sym, self.timeframe, limit=min(n + 2, 1000))
            closed = self._closed(candles)
            if closed:
                self._last_ts[sym] = closed[-1][0]
            batch.extend((sym, c) for c in closed[-n:] if n)
        batch.sort(key=lambda item: item[1][0])
        for sym, c in batch:
            self._warm(sym, c)
        if batch:
            self._log(ev.CAT_ENGINE, f"warm-up: {len(batch)} closed candles fed to the strategy without trading")

    def _warm(self, symbol: str, candle: Candle) -> None:
        """One candle to the strategies only (``TradingCore.warm``: signals dropped). A strategy
        that raises here ends the run in error, naming the strategy."""
        try:
            self.core.warm(symbol, candle)
        except Exception as exc:  # noqa: BLE001 - a strategy's bug: reported, not a traceback
            log.exception("strategy failed during warm-up")
            raise EngineError(f"strategy {self.conn.strategy} raised {type(exc).__name__}: {exc} "
                              "(on a warm-up candle)") from None

    def _closed(self, candles: List[Candle]) -> List[Candle]:
        """The closed candles of one ``fetch_ohlcv`` answer (oldest first): all but a last one
        that is still forming (see the module docstring)."""
        if not candles:
            return []
        last = candles[-1]
        if self.close_grace_ms is not None and last[0] + self.tf_ms + self.close_grace_ms <= time.time() * 1000:
            return list(candles)
        return list(candles[:-1])

    # -- the run ------------------------------------------------------------------------------
    async def _run(self) -> None:
        core = self.core
        failures = 0
        try:
            self._start_stream()
            while True:
                if not self._resume.is_set():
                    await self._resume.wait()
                if self._stop_requested:
                    break
                self._check_health()
                try:
                    batch, streamed = await self._market_batch()
                except GatewayError as err:
                    if not err.transient:
                        raise
                    failures += 1
                    if failures >= self.max_data_failures:
                        raise EngineError(f"market data failed {failures} times in a row: {err.message}") from None
                    self._log(ev.CAT_ENGINE, f"candles not available ({err.message}); retrying", "warning")
                    await self._sleep(min(self._interval() * 2 ** failures, 60.0, err.retry_after or 60.0))
                    continue
                failures = 0
                catch_up, self._catch_up = self._catch_up, False
                for sym, candle in batch:
                    if self._stop_requested:
                        break
                    if catch_up:
                        self._warm(sym, candle)
                        continue
                    core.on_candle(sym, candle)
                    self._check_health()
                    if self.live and core.outbox:
                        await self._drain_outbox()
                        self._check_health()
                if catch_up and batch:
                    self._log(ev.CAT_ENGINE, f"{len(batch)} candles closed during the pause: fed without trading")
                if batch:
                    self._progress(0)
                if not streamed:
                    await self._sleep(self._interval())
            self._check_health()
            reason = getattr(self, "_stop_reason", "stopped")
            self._set_state(ev.STOPPING, reason)
            await self._finish("stopped", reason)
        except asyncio.CancelledError:
            await self._finish("stopped", "cancelled")
            raise
        except (EngineError, GatewayError, _Unsettled) as exc:
            await self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001
            log.exception("engine %s failed", self.name)
            await self._fail(self._describe(exc))

    def _check_health(self) -> None:
        core = self.core
        if self._fatal:
            raise EngineError(self._fatal)
        if core.failed_reason:
            raise EngineError(core.failed_reason)
        if self.recorder is not None and self.recorder.error is not None:
            raise EngineError(f"the trade database cannot be written: {self.recorder.error}")

    def _interval(self) -> float:
        if self.poll_interval is not None:
            return max(float(self.poll_interval), 0.01)
        return min(max(self.tf_ms / 1000.0 / 20.0, 1.0), 15.0)

    async def _sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; a stop ends it at once."""
        end = time.monotonic() + seconds
        while not self._stop_requested:
            left = end - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))

    async def _poll(self) -> List[Tuple[str, Candle]]:
        """Newly closed candles of every symbol, in time order."""
        out: List[Tuple[str, Candle]] = []
        for sym in self.markets:
            fresh = await self._rest_closed(sym, self._last_ts.get(sym))
            if fresh:
                self._last_ts[sym] = fresh[-1][0]
                out.extend((sym, c) for c in fresh)
        out.sort(key=lambda item: item[1][0])
        return out

    async def _rest_closed(self, sym: str, last: Optional[int]) -> List[Candle]:
        """The closed candles of ``sym`` after open time ``last`` (REST, :meth:`_closed`)."""
        candles = await self.gateway.fetch_ohlcv(sym, self.timeframe, since=None if last is None else last + 1,
                                                 limit=MAX_CANDLES_PER_REQUEST)
        return [c for c in self._closed(candles) if last is None or c[0] > last]

    async def _market_batch(self) -> Tuple[List[Tuple[str, Candle]], bool]:
        """(newly closed candles of every symbol in time order, True when the websocket
        delivered them: no poll interval to sleep)."""
        if self._ws_up:
            return await self._ws_batch(), True
        return await self._poll(), False

    # -- websocket market data ----------------------------------------------------------------
    def _start_stream(self) -> None:
        """Start the websocket supervisor when the connection asks for websocket data and
        ccxt.pro supports the exchange; otherwise say that REST polling is used."""
        if self.conn.api_type != "websocket":
            return
        name = self.gateway.exchange.name
        if not pro_supports(self.conn.exchange):
            import ccxt

            self._log(ev.CAT_ENGINE, f"market data: {name} has no websocket candles in ccxt.pro {ccxt.__version__} "
                                     f"(watchOHLCV); polling closed candles over REST every {self._interval():g} s "
                                     "instead", "warning")
            return
        self._log(ev.CAT_ENGINE, f"market data: connecting the websocket for {', '.join(self.markets)} "
                                 f"{self.timeframe} candles (ccxt.pro watch_ohlcv); polling over REST until it delivers")
        self._ws_task = asyncio.get_running_loop().create_task(self._ws_supervise(), name=f"ws:{self.name}")

    async def _ws_supervise(self) -> None:
        """Connect, wait until every symbol delivers (then candles come from the stream), and
        on any failure fall back to REST and reconnect after a backoff delay."""
        loop = asyncio.get_running_loop()
        delay = self.ws_retry_interval
        connected_once = False
        while not self._stop_requested:
            pro = None
            tasks: List[asyncio.Task] = []
            self._ws_gen += 1
            gen = self._ws_gen
            self._ws_synced = set()
            try:
                pro = create_pro_exchange(self.conn, {}, timeout_ms=self.timeout_ms)
                ex = self.gateway.exchange
                pro.set_markets(ex.markets, ex.currencies)
                tasks = [loop.create_task(self._ws_watch(pro, sym, gen), name=f"ws:{self.name}:{sym}")
                         for sym in self.markets]
                deadline = time.monotonic() + self.ws_sync_timeout
                while len(self._ws_synced) < len(self.markets):
                    done, _ = await asyncio.wait(tasks, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
                    for t in done:
                        t.result()  # raises what ended it
                    if self._stop_requested:
                        return
                    if time.monotonic() > deadline:
                        missing = [s for s in self.markets if s not in self._ws_synced]
                        raise _WsLost(f"no {', '.join(missing)} candles within {self.ws_sync_timeout:g} s of subscribing")
                self._ws_up = True
                self.data_source = "websocket"
                self._ws_changed.set()
                self._log(ev.CAT_ENGINE, f"market data: websocket {'reconnected' if connected_once else 'connected'}; "
                                         f"{', '.join(self.markets)} {self.timeframe} candles arrive by websocket"
                          + (" again" if connected_once else ""))
                connected_once = True
                delay = self.ws_retry_interval
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    t.result()
                raise _WsLost("the stream ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: REST fallback and retry
                was_up = self._ws_up
                self._ws_down()
                if self._stop_requested:
                    return
                what = "dropped" if was_up else "cannot connect"
                self._log(ev.CAT_ENGINE, f"market data: the websocket {what} ({self._ws_reason(exc, pro)}); polling "
                                         f"candles over REST every {self._interval():g} s, retrying the websocket in "
                                         f"{delay:g} s", "warning")
            finally:
                for t in tasks:
                    t.cancel()
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)
                if pro is not None:
                    try:
                        await pro.close()
                    except Exception:  # noqa: BLE001 - closing must not raise
                        pass
            await self._sleep(delay)
            delay = min(delay * 2, self.max_ws_retry_interval)

    async def _ws_watch(self, pro, sym: str, gen: int) -> None:
        """Follow ``sym``'s candles: every update goes to ``_ws_updates`` (latest values per
        open time). Raises when the stream fails; :class:`_WsLost` when ccxt reopened the
        connection by itself (updates may have been missed)."""
        clients = None
        while True:
            rows = await pro.watch_ohlcv(sym, self.timeframe)
            now = frozenset(id(c) for c in (getattr(pro, "clients", None) or {}).values())
            if clients is not None and now != clients:
                raise _WsLost("the connection was lost and reopened")
            clients = now
            if gen != self._ws_gen:
                return
            store = self._ws_updates.setdefault(sym, {})
            for r in rows:
                if r and r[0] is not None:
                    c = (int(r[0]), *(float(x) if x is not None else 0.0 for x in r[1:6]))
                    store[c[0]] = c
            self._ws_synced.add(sym)
            self._ws_changed.set()

    def _ws_down(self) -> None:
        """The stream failed: REST takes over; what the stream showed is forgotten (REST
        fetches everything after the last candle fed)."""
        self._ws_up = False
        self.data_source = "rest"
        self._ws_gen += 1
        self._ws_updates = {}
        self._ws_forming = {}
        self._ws_gaps = {}
        self._ws_synced = set()
        self._ws_changed.set()

    def _ws_reason(self, exc: BaseException, pro) -> str:
        if isinstance(exc, _WsLost):
            return str(exc)
        import ccxt

        if isinstance(exc, ccxt.BaseError):
            text = redact(str(exc) or type(exc).__name__, self._secret_values)
            return text if len(text) <= 200 else text[:197] + "..."
        return map_exception(exc, secrets=self._secret_values, exchange=pro, action="reading the websocket").message

    async def _ws_wait(self, seconds: float) -> None:
        """Until a stream update, the stream going down, a stop, or ``seconds``."""
        end = time.monotonic() + seconds
        while not self._stop_requested and self._ws_up and not self._ws_changed.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._ws_changed.wait(), min(left, 0.05))
            except asyncio.TimeoutError:
                pass

    async def _ws_batch(self) -> List[Tuple[str, Candle]]:
        """Newly closed candles from the stream (see the module docstring), in time order."""
        if not self._catch_up and not self._ws_gaps:
            await self._ws_wait(self._interval())
            if len(self.markets) > 1 and self._ws_changed.is_set():
                await asyncio.sleep(WS_COALESCE_S)
        if not self._ws_up:
            return []  # went down: the next round polls
        self._ws_changed.clear()
        tf = self.tf_ms
        updates, self._ws_updates = self._ws_updates, {}
        found: Dict[str, Dict[int, Candle]] = {}
        for sym, rows in updates.items():
            forming = self._ws_forming.get(sym)
            known = {} if forming is None else {forming[0]: forming}
            for ts, c in rows.items():
                if forming is None or ts >= forming[0]:
                    known[ts] = c
            if not known:
                continue
            newest = max(known)
            self._ws_forming[sym] = known[newest]
            last = self._last_ts.get(sym)
            closed = {t: c for t, c in known.items() if t < newest and (last is None or t > last)}
            found[sym] = closed
            if last is not None and len(closed) < (newest - last) // tf - 1:
                self._ws_gaps[sym] = max(newest, self._ws_gaps.get(sym, 0))  # the stream missed some: REST fills in
        overdue: List[str] = []
        if self.close_grace_ms is not None:
            now = time.time() * 1000
            overdue = [s for s, f in self._ws_forming.items()
                       if f[0] + tf + self.close_grace_ms <= now and s not in self._ws_gaps]
            if overdue and time.monotonic() - self._ws_last_rest >= self._interval():
                self._ws_last_rest = time.monotonic()
            else:
                overdue = []
        gen = self._ws_gen
        for sym, newest in list(self._ws_gaps.items()):
            last = self._last_ts.get(sym)
            rows = found.setdefault(sym, {})
            for c in await self._rest_between(sym, last, newest):
                rows.setdefault(c[0], c)
            if gen == self._ws_gen:
                self._ws_gaps.pop(sym, None)
        for sym in overdue:  # no later candle yet although this one ended: REST's rule decides
            rows = found.setdefault(sym, {})
            for c in await self._rest_closed(sym, self._last_ts.get(sym)):
                rows.setdefault(c[0], c)
        out: List[Tuple[str, Candle]] = []
        for sym in self.markets:
            rows = found.get(sym)
            if not rows:
                continue
            last = self._last_ts.get(sym)
            fresh = [rows[t] for t in sorted(rows) if last is None or t > last]
            if fresh:
                self._last_ts[sym] = fresh[-1][0]
                out.extend((sym, c) for c in fresh)
        out.sort(key=lambda item: item[1][0])
        return out

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

    # -- live orders --------------------------------------------------------------------------
    async def _drain_outbox(self) -> None:
        core = self.core
        while core.outbox:
            order = core.outbox.pop(0)
            await self._send(order)

    async def _send(self, order: Order) -> None:
        """Make the order row durable, send the order once, and follow it (module docstring)."""
        core = self.core
        try:
            await asyncio.wrap_future(self.recorder.flush())
        except Exception as exc:  # noqa: BLE001 - not durable: must not be sent
            order.state, order.status = FAILED, REJECTED
            core.external_reject(order, "not sent: the order could not be recorded first")
            self._fatal = f"the trade database cannot be written: {exc}"
            return
        try:
            await self.gateway.create_order(order)
        except GatewayError as err:
            if err.kind in REFUSED_KINDS:
                order.state, order.status = FAILED, REJECTED
                core.external_reject(order, err.message)
                if err.kind in FATAL_KINDS:
                    self._fatal = err.message
                return
            core.log(ev.CAT_ORDER, f"order {order.clientOrderId}: outcome unknown ({err.message}); querying it by "
                                   "client id, it will not be sent again", "warning")
            self._follow(order)
            return
        self._order_updated(order, f"accepted by the exchange as {order.id}: {order.state}")
        try:
            done = await self._advance(order, self._book_live)
        except GatewayError as err:
            core.log(ev.CAT_ORDER, f"order {order.clientOrderId}: executions not read yet ({err.message})", "warning")
            done = False
        if not done:
            self._follow(order)

    def _order_updated(self, order: Order, what: str) -> None:
        core = self.core
        if self.recorder is not None:
            self.recorder.order(self.run_id, self.name, order)
        if self.bus.has_subscribers:
            self.bus.publish(ev.OrderEvent(self.name, order))
        core.log(ev.CAT_ORDER, f"order {order.clientOrderId} {what}")

    def _book_live(self, order: Order, fill: Fill) -> None:
        self.core.external_fill(order, fill)

    def _follow(self, order: Order) -> None:
        """Start the background task that queries ``order`` until it is settled."""
        task = asyncio.get_running_loop().create_task(self._settle_live(order), name=f"order:{order.clientOrderId}")
        self._settlers[order.clientOrderId] = task
        task.add_done_callback(lambda t, cid=order.clientOrderId: self._settlers.pop(cid, None))

    async def _settle_live(self, order: Order) -> None:
        try:
            await self._settle(order, self._book_live, deadline=None)
        except asyncio.CancelledError:
            raise
        except _Unsettled as exc:
            self._fatal = str(exc)
        except Exception as exc:  # noqa: BLE001 - never let a task die silently
            log.exception("following order %s failed", order.clientOrderId)
            self._fatal = f"cannot follow order {order.clientOrderId}: {self._describe(exc)}"

    async def _settle(self, order: Order, book: Callable[[Order, Fill], None], *, deadline: Optional[float]) -> None:
        """Query ``order`` until it is terminal and all its executions are booked.

        ``deadline`` (monotonic s) or None: keep trying. Raises :class:`_Unsettled` when the
        exchange gives an answer that cannot be resolved (an acknowledged order it no longer
        knows, a non-transient error) or the deadline passes. A never-acknowledged order
        answered ``order-not-found`` twice, W apart, is failed (:meth:`unknown_order_window_ms`).
        """
        delay = self.settle_interval
        first_not_found: Optional[int] = None
        window = self.unknown_order_window_ms()
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
                        order.state, order.status = FAILED, REJECTED
                        self._rejected(order, book, f"the exchange never received it (not found {window / 1000:g} s "
                                                    "after the request expired)")
                        return
                    wait = max((first_not_found + window - now) / 1000.0, 0.05)
                    if deadline is not None and time.monotonic() + wait > deadline:
                        raise _Unsettled(f"cannot reconcile order {order.clientOrderId}: the exchange does not know it "
                                         "yet, and it may still appear") from None
                    await self._sleep_order(wait)
                    continue
                if err.kind == "order-not-found":
                    raise _Unsettled(f"cannot settle order {order.clientOrderId} ({order.id}): {err.message}") from None
                if not (err.transient or err.kind in ("exchange-error", "internal")):
                    raise _Unsettled(f"cannot settle order {order.clientOrderId}: {err.message}") from None
                last_error = err.message
            else:
                first_not_found = None
                try:
                    if await self._advance(order, book):
                        return
                except GatewayError as err:
                    if not (err.transient or err.kind in ("exchange-error", "internal")):
                        raise _Unsettled(f"cannot read the executions of order {order.clientOrderId}: {err.message}") from None
                    last_error = err.message
            if deadline is not None and time.monotonic() + delay > deadline:
                raise _Unsettled(f"cannot reconcile order {order.clientOrderId}: "
                                 f"{last_error or 'it is still open at the exchange'}")
            await self._sleep_order(delay)
            delay = min(delay * 2, self.max_settle_interval)

    async def _sleep_order(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # order tasks are canceled on stop

    async def _advance(self, order: Order, book: Callable[[Order, Fill], None]) -> bool:
        """After a successful create or query of ``order``: record its state, book new
        executions; True when nothing is left to follow. Raises :class:`GatewayError` when the
        executions cannot be read."""
        try:
            return await self._advance_inner(order, book)
        finally:
            if self.recorder is not None:
                self.recorder.flush()  # a commit point: what the exchange said is kept at once

    async def _advance_inner(self, order: Order, book: Callable[[Order, Fill], None]) -> bool:
        ids, gross = self._booked.setdefault(order.clientOrderId, (set(), 0.0))
        if order.filled > gross + 1e-12:
            executions, gross = await self._executions(order, gross)
            self._booked[order.clientOrderId] = (ids, gross)
            for fill in executions:
                if fill.id in ids:
                    continue
                ids.add(fill.id)
                book(order, fill)
        if order.state not in TERMINAL_STATES:
            if book != self._book_live:
                raise _Unsettled(f"cannot reconcile order {order.clientOrderId}: it is still {order.state} at "
                                 f"{self.gateway.exchange.name} ({order.filled:g} of {order.amount:g} filled); cancel "
                                 "it there or let it finish, then start again")
            if self._last_state.get(order.clientOrderId) != (order.state, order.filled):
                self._last_state[order.clientOrderId] = (order.state, order.filled)
                self._order_updated(order, f"is {order.state} ({order.filled:g} of {order.amount:g} filled)")
            return False
        if order.filled > gross + 1e-9 * max(order.amount, 1.0):
            return False  # trades not visible yet: query again
        if order.state in (STATE_CANCELED, FAILED):
            self._rejected(order, book, f"{order.status} at the exchange after {order.filled:g} filled")
        elif book == self._book_live:
            self._order_updated(order, f"{order.state} ({order.filled:g} @ {order.average or 0:g})")
        else:
            self._record_old(order)
        return True

    def _rejected(self, order: Order, book, reason: str) -> None:
        if book == self._book_live:
            self.core.external_reject(order, reason)
        else:
            order.error = order.error or reason
            self._record_old(order)

    # -- executions ---------------------------------------------------------------------------
    async def _executions(self, order: Order, gross_before: float) -> Tuple[List[Fill], float]:
        """``(fills, gross amount executed)`` of ``order``, oldest first (fill id = trade id).
        Exchanges without ``fetchMyTrades``: one fill per observed increase of ``filled`` over
        ``gross_before``."""
        ex = self.gateway.exchange
        market = self.markets.get(order.symbol) or self.gateway.markets().get(order.symbol)
        if not ex.has.get("fetchMyTrades"):
            return self._increment_fill(order, market, gross_before), max(order.filled, gross_before)
        try:
            if ex.id in BINANCE_FAMILY and order.id:
                raws = await ex.fetch_my_trades(order.symbol, None, None, {"orderId": order.id})
            else:
                since = order.timestamp - 60_000 if order.timestamp else None
                raws = await ex.fetch_my_trades(order.symbol, since)
        except Exception as exc:  # noqa: BLE001 - mapped, secrets redacted
            raise map_exception(exc, secrets=self._secret_values, exchange=ex,
                                action="reading the order's executions") from None
        fills, gross = [], 0.0
        for t in sorted((t for t in raws if str(t.get("order") or "") == str(order.id)),
                        key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            fill, amount = self._fill_of(order, t, market)
            fills.append(fill)
            gross += amount
        return fills, gross

    def _fill_of(self, order: Order, t: dict, market: Market) -> Tuple[Fill, float]:
        amount = float(t.get("amount") or 0.0)
        price = float(t.get("price") or 0.0)
        fees = t.get("fees") or ([t["fee"]] if t.get("fee") else [])
        fee_quote = base_fee = 0.0
        for f in fees:
            if not f or not f.get("cost"):
                continue
            cost, ccy = float(f["cost"]), f.get("currency")
            if ccy in (None, market.quote):
                fee_quote += cost
            elif ccy == market.base:
                base_fee += cost
            else:
                self._log(ev.CAT_FILL, f"fee of {cost:g} {ccy} on trade {t.get('id')} is paid outside the "
                                           f"{market.quote} balance: not in the P&L", "warning")
        booked = amount
        if base_fee and order.side == BUY:
            net = amount - base_fee
            booked = truncate_amount(net, market.amount_step) if market.amount_step else net
            if booked <= 0:
                booked = net
            fee_quote += (amount - booked) * price
        elif base_fee:
            fee_quote += base_fee * price
        fill = Fill(id=str(t.get("id") or ""), order_id=str(order.id or ""), clientOrderId=order.clientOrderId,
                    symbol=order.symbol, side=order.side, amount=booked, price=price,
                    timestamp=int(t.get("timestamp") or order.timestamp or 0), fee=fee_quote,
                    fee_currency=market.quote, takerOrMaker=t.get("takerOrMaker") or "taker")
        return fill, amount

    def _increment_fill(self, order: Order, market: Market, gross: float) -> List[Fill]:
        amount = order.filled - gross
        if amount <= 0 or not order.average:
            return []
        cost_before = gross * (order.average or 0.0)
        price = (order.cost - cost_before) / amount if order.cost > cost_before else order.average
        fill = Fill(id=f"{order.id}:{order.filled:.12g}", order_id=str(order.id or ""), clientOrderId=order.clientOrderId,
                    symbol=order.symbol, side=order.side, amount=amount, price=price,
                    timestamp=order.timestamp or int(time.time() * 1000),
                    fee=order.fee * (amount / order.filled) if order.filled else 0.0,
                    fee_currency=market.quote, takerOrMaker="taker")
        return [fill]

    # -- start-up reconciliation --------------------------------------------------------------
    async def _reconcile(self) -> None:
        """Settle this connection's non-terminal orders of earlier runs (module docstring);
        raises :class:`_Unsettled` (fail closed)."""
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(None, self._open_order_rows)
        if not rows:
            return
        self._log(ev.CAT_ENGINE, f"reconciling {len(rows)} order(s) left in flight by earlier runs")
        deadline = time.monotonic() + self.reconcile_timeout_s
        for run_id, order in rows:
            self._old_run = run_id
            if order.symbol not in self.gateway.markets():
                raise _Unsettled(f"cannot reconcile order {order.clientOrderId}: {self.gateway.exchange.name} "
                                 f"no longer lists {order.symbol}")
            known = await loop.run_in_executor(None, self._known_fills, order.clientOrderId)
            self._booked[order.clientOrderId] = known
            await self._settle(order, self._book_old, deadline=deadline)
            if order.state not in TERMINAL_STATES:  # pragma: no cover - _settle only returns settled
                raise _Unsettled(f"cannot reconcile order {order.clientOrderId}: still {order.state}")
            self.reconciled.append(order)
        await asyncio.wrap_future(self.recorder.flush())

    def _open_order_rows(self) -> List[Tuple[int, Order]]:
        from ..store.db import OrderRec, Run

        # only orders of live runs: a paper run's orders never reached the exchange
        q = (OrderRec.select().join(Run, on=(OrderRec.run == Run.id))
             .where((OrderRec.connection == self.name) & OrderRec.state.in_(NON_TERMINAL) & (Run.mode == "live"))
             .order_by(OrderRec.id))
        out = []
        for r in q:
            o = Order(clientOrderId=r.client_order_id, symbol=r.symbol, side=r.side, type=r.type, amount=r.amount,
                      price=r.price, id=r.exchange_id, timestamp=r.timestamp, status=r.status, state=r.state,
                      filled=r.filled, remaining=r.remaining, average=r.average, cost=r.cost, fee=r.fee,
                      fee_currency=r.fee_currency, reason=r.reason, position_id=r.position_id, strategy=r.strategy,
                      error=r.error)
            out.append((r.run_id, o))
        return out

    def _known_fills(self, client_order_id: str) -> Tuple[set, float]:
        """(fill ids already recorded for the order, 0.0): the trades are read again and only
        those not recorded yet are booked (the table keeps net amounts, so the gross executed
        amount is recounted from the trades)."""
        from ..store.db import FillRec

        rows = FillRec.select(FillRec.fill_id).where(
            (FillRec.connection == self.name) & (FillRec.client_order_id == client_order_id))
        return {r.fill_id for r in rows}, 0.0

    def _book_old(self, order: Order, fill: Fill) -> None:
        self.recorder.fill(self._old_run, self.name, fill, order.position_id)
        self._log(ev.CAT_FILL, f"reconciled: order {order.clientOrderId} (run #{self._old_run}) filled "
                               f"{fill.side} {fill.amount:g} {fill.symbol} @ {fill.price:g} while the app was down "
                               f"(trade {fill.id})")

    def _record_old(self, order: Order) -> None:
        self.recorder.order(self._old_run, self.name, order)

    # -- end ----------------------------------------------------------------------------------
    async def _wind_down(self) -> None:
        """Stop following orders (they stay as they are), list what is open, close the gateway."""
        if self._ws_task is not None:
            self._ws_task.cancel()
            try:
                await self._ws_task
            except BaseException:  # noqa: BLE001 - canceled, or failed: its failure was logged
                pass
            self._ws_task = None
            self._ws_down()
        tasks = list(self._settlers.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except BaseException:  # noqa: BLE001 - canceled or already reported
                pass
        core = self.core
        if core is not None and self.live:
            for o in core.orders:
                if o.state not in TERMINAL_STATES:
                    self._log(ev.CAT_ORDER, f"order {o.clientOrderId} is still {o.state}: left as it is; "
                                            "the next start reconciles it", "warning")
            if self.gateway is not None and self.gateway.markets():
                try:
                    open_orders = await asyncio.wait_for(self._open_orders(), 5.0)
                except Exception as exc:  # noqa: BLE001 - only a report
                    self._log(ev.CAT_ORDER, f"could not list the open orders at the exchange: {self._describe(exc)}",
                              "warning")
                else:
                    for o in open_orders:
                        self._log(ev.CAT_ORDER, f"open at the exchange, left as it is: {o.side} {o.amount:g} "
                                                f"{o.symbol} ({o.clientOrderId or o.id}, {o.state})")
        if core is not None:
            for p in core.portfolio.open.values():
                self._log(ev.CAT_POSITION, f"position left open: {p.side} {p.amount:g} {p.symbol} "
                                           f"entry {p.entry_price:g}")
        if self.gateway is not None:
            await self.gateway.close()

    async def _open_orders(self) -> List[Order]:
        out: List[Order] = []
        for sym in self.markets:
            out.extend(await self.gateway.fetch_open_orders(sym))
        return out

    async def _finish(self, state: str, reason: str) -> None:
        await self._wind_down()
        await super()._finish(state, reason)

    async def _fail(self, reason: str) -> None:
        try:
            await self._wind_down()
        except Exception:  # noqa: BLE001 - the failure itself is what must be reported
            log.exception("winding down after an error failed")
        await super()._fail(reason)
