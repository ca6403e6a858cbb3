"""The exchange engine: one connection on a real exchange, paper or live.

:class:`ExchangeEngine` has the life cycle of every engine
(:class:`~cts_desktop.engine.lifecycle.EngineLifecycle`) and runs the same
:class:`~cts_desktop.engine.core.TradingCore` as a replay; only where candles come from and
where orders go differ. It composes the rooms that do the work:

* :mod:`.feeds` (:mod:`.feeds_ws`, :mod:`.trade_candles`, :mod:`.staleness`): closed candles by
  REST or websocket (warm-up fetch, fallback, backoff, gap fill), stale feeds, late candles;
* :mod:`.orders` (:mod:`.fees`, :mod:`.order_stream`): live orders sent once, followed until
  settled, executions booked once; :mod:`.reconcile`: orders earlier live runs left in flight.

Warm-up
    At start the last ``strategy.warmup`` closed candles go to the strategies without trading;
    only later ones trade. Candles that closed during a pause, or arrived over a timeframe late,
    also only warm up (a decision on them would act on stale prices).

Paper mode (``conn.live`` False): no keys are read; the core's paper exchange fills orders at
the next candle's open, on the exchange's real candles, from ``conn.starting_balance``
(USDT-equivalent; converted at the last ``QUOTE/USDT`` close when the quote is not a dollar).

Live mode (``conn.live`` True): ``core.external_execution`` is on; after each candle the engine
drains ``core.outbox`` through the :class:`~cts_desktop.engine.orders.OrderSender`. Earlier runs'
orders, fills, then positions are reconciled first (:mod:`.reconcile`, :mod:`.carryover`); the
starting balance is the *free* quote balance plus the carried positions' entry value.

Stop leaves positions and exchange orders as they are (listed in the log; the next start
reconciles); the kill switch (:mod:`.kill`) cancels and closes first. Every entry also passes
:class:`~.breakers.Breakers`; each candle's strategy step runs on a worker thread
(:mod:`.watchdog`), awaited for at most ``strategy_budget_s``.

Errors end in the ``error`` state with a human ``reason`` (a
:class:`~cts_desktop.exchange.errors.GatewayError` message: no traceback, no secret); market
data errors that may pass are retried with backoff up to ``max_data_failures`` times. Secrets
come from the OS keyring at start, live only, unless the caller passed ``secrets``. Nothing here
imports Qt or blocks the loop (keyring and database reads run in the default executor).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Dict, List, Mapping, Optional, Tuple
from pathlib import Path

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.models import Candle, Market, Order, timeframe_ms
from ..core.risk import RiskLimits
from ..exchange.ccxt_gateway import CcxtGateway
from ..exchange.errors import GatewayError
from ..store.installation import order_id_prefix
from ..store.recorder import Recorder
from ..store.settings import ConnectionConfig
from .breakers import Breakers, latch_store_for
from .bus import EventBus
from .carryover import ReconcileReport, start_run_of
from .core import TradingCore
from .feeds import MarketFeed
from .lifecycle import EngineError, EngineLifecycle
from . import gc_pause, priority
from .budget_feed import watch_budgets
from .live_setup import load_markets, open_gateway
from .orders import LiveLedger, OrderSender, Unsettled, unknown_order_window_ms
from .order_stream import OrderStream, follow_orders
from .protection import Protector
from .reconcile import starting_balance_of
from .reconnect import recheck_engine
from .strategies import Strategy, build_strategies
from .watchdog import LoopBus, StepWorker, timed_step
from .wind_down import wind_down

log = logging.getLogger(__name__)

DEFAULT_TIMEFRAME = "1m"  # for strategies whose timeframe is "auto"
CLOSE_GRACE_MS = 2_000  # a candle whose end is this far in the past is closed even if it is the last served


class ExchangeEngine(EngineLifecycle):
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
    ``close_grace_ms``: see :meth:`MarketFeed.closed` (None: only a later candle closes one).
    Websocket market data (``conn.api_type == "websocket"``): ``ws_retry_interval`` first delay
    (s) before reconnecting (doubles up to ``max_ws_retry_interval``); ``ws_sync_timeout``: how
    long a (re)connected stream may take to deliver every symbol before it counts as failed.

    The state machine, commands and :meth:`summary` are :class:`EngineLifecycle`'s;
    :meth:`set_speed` has no effect (real time is the only speed).
    """

    protect_interval, exchange_stops = 1.0, True  # protection.py: s between price polls; stops at the exchange

    def __init__(self, conn: ConnectionConfig, *, bus: Optional[EventBus] = None, recorder: Optional[Recorder] = None,
                 secrets: Optional[Mapping[str, str]] = None, poll_interval: Optional[float] = None,
                 recv_window_ms: Optional[int] = None, settle_interval: float = 0.5, max_settle_interval: float = 10.0,
                 reconcile_timeout_s: float = 60.0, max_data_failures: int = 8, timeout_ms: Optional[int] = None,
                 default_timeframe: str = DEFAULT_TIMEFRAME, close_grace_ms: Optional[int] = CLOSE_GRACE_MS,
                 ws_retry_interval: float = 1.0, max_ws_retry_interval: float = 60.0, ws_sync_timeout: float = 15.0,
                 order_prefix: Optional[str] = None, strategy_budget_s: float = 10.0):
        super().__init__(conn, bus=bus, recorder=recorder, mode="live" if conn.live else "paper")
        #: live clientOrderId prefix (store.installation.order_id_prefix); None: made from the database's folder
        self.order_prefix = order_prefix
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
        #: a candle whose end is this many ms in the past counts as closed even when it is the
        #: last one served; None: only a later candle closes one
        self.close_grace_ms: Optional[int] = close_grace_ms
        self.ws_retry_interval = ws_retry_interval
        self.max_ws_retry_interval = max_ws_retry_interval
        self.ws_sync_timeout = ws_sync_timeout
        self.gateway: Optional[CcxtGateway] = None
        self.markets: Dict[str, Market] = {}
        self.timeframe = ""
        self.tf_ms = 0
        self.live = bool(conn.live)
        self.feed: Optional[MarketFeed] = None  # market data, once the gateway is open
        self.orders: Optional[OrderSender] = None  # live mode: sends and follows the orders
        self.reconciled: List[Order] = []  # orders of earlier runs settled at start
        self.reconciliation: Optional[ReconcileReport] = None  # what the start found (carryover.py)
        self._adopt: List[Order] = []  # orders at the exchange this run follows from its start
        self.strategy_budget_s = strategy_budget_s  # a candle's strategy step longer than this is reported (watchdog.py)
        self.worker: Optional[StepWorker] = None
        self.protector: Optional[Protector] = None  # the open positions' stops (protection.py)
        self._leftover_stops: List[Order] = []  # protective orders of earlier runs still resting
        self.order_stream: Optional[OrderStream] = None  # live + websocket: order updates by stream (.order_stream)

    @property
    def data_source(self) -> str:
        """Where candles come from right now: ``"rest"`` (polling) or ``"websocket"``."""
        return self.feed.data_source if self.feed is not None else "rest"

    # -- commands -----------------------------------------------------------------------------
    def resume(self) -> None:
        super().resume()
        if self.feed is not None:
            self.feed.resume()

    def resume_symbol(self, symbol: str) -> None:
        """Lift the pause of ``symbol`` (exits refused, see :mod:`.refused_exits`): entries and
        automatic exits on it again."""
        if self.core is not None and self.core.paused.pop(symbol, None) is not None:
            if self.orders is not None:
                self.orders.exits.counts.pop(symbol, None)
            self._log(ev.CAT_ENGINE, f"{symbol} resumed: entries and exits allowed again")

    def unknown_order_window_ms(self) -> int:
        """W of the unknown-outcome rule (ms): see :func:`~cts_desktop.engine.orders.unknown_order_window_ms`."""
        return unknown_order_window_ms(self.gateway)

    # -- start --------------------------------------------------------------------------------
    async def _initialize(self) -> None:
        conn = self.conn
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
        self.gateway, self._secret_values = await open_gateway(conn, tf, live=self.live, secrets=self._given_secrets,
                                                               timeout_ms=self.timeout_ms,
                                                               recv_window_ms=self.recv_window_ms)
        gateway = self.gateway
        self._unwatch_budgets = watch_budgets(gateway, self.name, self.bus)  # the Activity tab's gauge
        all_markets = await self._load_markets(gateway)
        quote = next(iter(self.markets.values())).quote
        balance = await starting_balance_of(self, gateway, quote, all_markets)  # live: reconciliation first
        if self.recorder is not None:
            self.run_id = await asyncio.wrap_future(self.recorder.begin_run_future(
                conn.name, self.mode, dataset=f"{conn.exchange}:{conn.market_type}:{tf}", strategy=conn.strategy,
                params=strategy.p, currency=quote, starting_balance=balance))
        core = self.core = TradingCore(
            conn.name, self.markets, strategies, portfolio=Portfolio(balance, quote), limits=limits,
            data_timeframe_ms=self.tf_ms, default_size=strategy.p.get("size", 0.2), fee=conn.fee,
            bus=self.bus, recorder=self.recorder, run_id=self.run_id,
        )
        core.external_execution = self.live
        if self.live and self.recorder is not None:
            prefix = self.order_prefix
            if prefix is None:
                prefix = await asyncio.get_running_loop().run_in_executor(
                    None, order_id_prefix, Path(str(self.recorder.db.database)).parent)
            core.id_prefix = prefix
        core.bus = core.journal.bus = LoopBus(self.bus, asyncio.get_running_loop())  # steps run off the loop
        core.breakers = Breakers(conn.name, limits, quote=quote, store=latch_store_for(self.recorder),
                                 publish=self.bus.publish, log=core.log)
        self.worker = StepWorker(f"cts-strategy:{conn.name}")
        assert self.feed is not None
        self.feed.watch(core, gateway.clock.now_ms, conn.stale_after_s, bus=self.bus,
                        paused=lambda: not self._resume.is_set())
        if self.orders is not None:
            self.orders.live = LiveLedger(core, recorder=self.recorder, run_id=self.run_id, name=self.name, bus=self.bus)
        self.protector = Protector.start_for(self, core, gateway)
        self._log_start(gateway, strategy, balance, quote)
        await start_run_of(self, core)  # carryover.py: carried positions, report stored, orders adopted
        core.start()
        await self._warm_up_recent(max(int(getattr(strategy, "warmup", 0) or 0), 0))
        self.started_wall = time.time()

    async def _load_markets(self, gateway: CcxtGateway) -> Dict[str, Market]:
        """Every market of the exchange; sets :attr:`markets` (the configured symbols, one quote)
        and the feed."""
        all_markets, self.markets = await load_markets(gateway, self.conn)
        self.feed = MarketFeed(
            self.conn, gateway, list(self.markets), self.timeframe, self.tf_ms, name=self.name, log=self._log,
            stopped=lambda: self._stop_requested, secrets=self._secret_values, poll_interval=self.poll_interval,
            close_grace_ms=self.close_grace_ms, timeout_ms=self.timeout_ms, retry_interval=self.ws_retry_interval,
            max_retry_interval=self.max_ws_retry_interval, sync_timeout=self.ws_sync_timeout)
        return all_markets

    def _log_start(self, gateway: CcxtGateway, strategy: Strategy, balance: float, quote: str) -> None:
        conn = self.conn
        where = f"{gateway.name}{' testnet' if conn.testnet else ''}"
        self._log(ev.CAT_ENGINE, f"started {'LIVE' if self.live else 'paper'} run #{self.run_id or '-'} on {where}: "
                                 f"{', '.join(conn.symbols)} {self.timeframe}, strategy {conn.strategy} {strategy.p}, "
                                 f"balance {balance:.8g} {quote}")
        for o in self.reconciled:
            self._log(ev.CAT_ORDER, f"reconciled order {o.clientOrderId} of an earlier run: {o.state}"
                                    + (f", filled {o.filled:g} {o.symbol} @ {o.average:g}" if o.filled and o.average else ""))

    async def _warm_up_recent(self, n: int) -> None:
        """Feed the last ``n`` closed candles of each symbol to the strategies without trading;
        the feed remembers the newest closed candle so that only later ones trade."""
        assert self.feed is not None
        batch = await self.feed.warm_up_batch(n)
        for sym, c in batch:
            self._warm(sym, c)
        if batch:
            self._log(ev.CAT_ENGINE, f"warm-up: {len(batch)} closed candles fed to the strategy without trading")

    def _warm(self, symbol: str, candle: Candle) -> None:
        """One candle to the strategies only (``TradingCore.warm``: signals dropped). A strategy
        that raises here ends the run in error, naming the strategy."""
        assert self.core is not None
        try:
            self.core.warm(symbol, candle)
        except Exception as exc:  # noqa: BLE001 - a strategy's bug: reported, not a traceback
            log.exception("strategy failed during warm-up")
            raise EngineError(f"strategy {self.conn.strategy} raised {type(exc).__name__}: {exc} "
                              "(on a warm-up candle)") from None

    # -- the run ------------------------------------------------------------------------------
    async def _run(self) -> None:
        feed = self.feed
        assert feed is not None
        failures = 0
        priority.exchange_engine_started()  # replays yield the loop sooner while this runs
        gc_pause.freeze_old_objects()  # full collections walk only what the run allocates
        try:
            feed.start()
            self.order_stream = follow_orders(self.conn, self.gateway, self.orders, log=self._log,
                                              timeout_ms=self.timeout_ms, stopped=lambda: self._stop_requested,
                                              retry=(self.ws_retry_interval, self.max_ws_retry_interval))
            while True:
                if not self._resume.is_set():
                    await self._resume.wait()
                if self._stop_requested:
                    break
                self._check_health()
                try:
                    batch, streamed = await feed.batch()
                except GatewayError as err:
                    if not err.transient:
                        raise
                    failures += 1
                    if failures >= self.max_data_failures:
                        raise EngineError(f"market data failed {failures} times in a row: {err.message}") from None
                    self._log(ev.CAT_ENGINE, f"candles not available ({err.message}); retrying", "warning")
                    await feed.sleep(min(feed.interval() * 2 ** failures, 60.0, err.retry_after or 60.0))
                    continue
                if failures and self.live:  # the exchange answers again: check it before trading on
                    await recheck_engine(self)
                failures = 0
                with priority.live_work():  # replays hold back until this batch's orders are out
                    await self._feed(batch)
                if not streamed:
                    await feed.sleep(feed.interval())
            self._check_health()
            reason = self._stop_reason
            self._set_state(ev.STOPPING, reason)
            await self._finish("stopped", reason)
        except asyncio.CancelledError:
            await self._finish("stopped", "cancelled")
            raise
        except (EngineError, GatewayError, Unsettled) as exc:
            await self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever ends the run becomes the error state
            log.exception("engine %s failed", self.name)
            await self._fail(self._describe(exc))
        finally:
            priority.exchange_engine_stopped()
            gc_pause.unfreeze()

    async def _feed(self, batch: List[Tuple[str, Candle]]) -> None:
        """One batch of closed candles to the core (to the warm-up pass after a pause); live
        orders the core queued are sent after each candle."""
        core, feed = self.core, self.feed
        assert core is not None and feed is not None and self.worker is not None
        catch_up, feed.catch_up = feed.catch_up, False
        for sym, candle in batch:
            if self._stop_requested:
                break
            if catch_up or feed.late(sym, candle):  # late: piled up while data was late (.feeds)
                self._warm(sym, candle)
                continue
            if not await timed_step(self.worker, core, sym, candle, budget_s=self.strategy_budget_s,
                                    stopped=lambda: self._stop_requested):
                break
            self._check_health()
            if self.live and core.outbox and self.protector is not None:
                await self.protector.drain()  # exits disarm their protection first
                self._check_health()
        if catch_up and batch:
            self._log(ev.CAT_ENGINE, f"{len(batch)} candles closed during the pause: fed without trading")
        feed.report_late()
        if batch:
            self._progress(0)

    def _check_health(self) -> None:
        core = self.core
        assert core is not None
        if self.orders is not None and self.orders.fatal:
            raise EngineError(self.orders.fatal)
        if core.failed_reason:
            raise EngineError(core.failed_reason)
        if self.recorder is not None and self.recorder.error is not None:
            raise EngineError(f"the trade database cannot be written: {self.recorder.error}")

    # -- end ----------------------------------------------------------------------------------
    async def _wind_down(self) -> None:
        """Stop following orders (they stay as they are), list what is open, close the gateway
        (:func:`~cts_desktop.engine.wind_down.wind_down`)."""
        await wind_down(self)

    async def _finish(self, state: str, reason: str) -> None:
        await self._wind_down()
        await super()._finish(state, reason)

    async def _fail(self, reason: str) -> None:
        try:
            await self._wind_down()
        except Exception:  # noqa: BLE001 - the failure itself is what must be reported
            log.exception("winding down after an error failed")
        await super()._fail(reason)
