"""The trading core: one candle in, the whole flow of a trade out, synchronously.

candle -> paper fills of resting orders -> stop-loss / take-profit -> mark to market ->
strategy signals -> risk verdict -> order (recorded, then submitted) -> fill -> accounting ->
records and events.

The same :class:`TradingCore` runs replays, backtests (identical fills) and exchange engines.

Per candle of ``symbol`` with open time ``ts`` (ms), in this order:

1. Orders resting at the paper exchange fill against the candle (market orders at its open).
2. Stop-loss and take-profit of the open position are checked against the candle's range
   (:mod:`.exits`: when one candle touches both, the stop-loss is assumed to have come first).
3. The position is marked at the close; equity and drawdown are updated.
4. The candle goes to the strategies (aggregated first when a strategy's timeframe is longer
   than the data's); then their signals are handled, at the candle's close time ``ts + timeframe``.
   Exchange engines call the strategies on a worker thread (a time budget: ``watchdog.py``);
   everything that touches the account stays on the engine's loop.
"""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.manual import ENTRY_REASONS, order_kind
from ..core.models import BUY, LONG, SELL, Candle, Fill, Market, Order, Position, Signal
from ..core.order_state import is_terminal
from ..core.risk import RiskLimits, check_entry
from ..exchange.paper import PaperError, PaperExchange
from ..store.recorder import Recorder
from .breakers import Breakers
from .bus import EventBus
from .curve import EquityCurve
from .exits import protective_prices, triggered_exit
from .journal import RunJournal
from .order_guard import held_long, spot_excess
from .recovery import resume_core
from .runners import StrategyRunner
from .strategies import Strategy

SNAPSHOT_INTERVAL_S = 0.1  # account snapshots to the UI at most this often (wall clock)


class TradingCore:
    """The synchronous heart of one engine run. See the module docstring for the flow.

    ``markets``: symbol -> Market. ``strategies``: Strategy instances (validated).
    ``default_size``: fraction of equity for signals without a size. ``fee``: taker fee override
    (fraction) or None for the market's. ``data_timeframe_ms``: spacing of the input candles.
    ``recorder``: a :class:`~cts_desktop.store.recorder.Recorder` (or None: nothing is stored).
    Records and events go through a :class:`~cts_desktop.engine.journal.RunJournal`.
    """

    def __init__(self, connection: str, markets: Dict[str, Market], strategies: Sequence[Strategy], *,
                 portfolio: Portfolio, limits: RiskLimits, data_timeframe_ms: int,
                 default_size: float = 0.2, fee: Optional[float] = None, slippage: float = 0.0,
                 bus: Optional[EventBus] = None, recorder: Optional[Recorder] = None, run_id: Optional[int] = None):
        self.connection = connection
        self.markets = markets
        self.portfolio = portfolio
        self.limits = limits
        self.data_tf_ms = data_timeframe_ms
        self.default_size = default_size
        self.paper = PaperExchange(markets, fee=fee, slippage=slippage, funds=lambda: self.portfolio.available,
                                   on_reduced=lambda o, msg, ts: self.log(ev.CAT_ORDER, msg, "warning", ts=ts),
                                   on_reject=self.external_reject)
        self._paper_pending = self.paper.resting  # symbol -> resting orders (read on every candle)
        self.bus = bus or EventBus()
        self.run_id = run_id
        self.runners = [StrategyRunner(s, data_timeframe_ms) for s in strategies]
        self._order_seq = 0
        #: clientOrderIds are ``<id_prefix><run>-<seq>``; live runs set the installation's
        #: prefix (:func:`cts_desktop.store.installation.order_id_prefix`)
        self.id_prefix = "cts-"
        self._entry_meta: Dict[str, Dict[str, Any]] = {}  # clientOrderId -> the entry signal's meta
        self._inflight: Dict[str, Order] = {}  # symbol -> its order until that order is terminal
        self.paused: Dict[str, str] = {}  # symbol -> why no entries nor automatic exits (refused_exits)
        self.orders: List[Order] = []
        self.fills: List[Fill] = []
        self.candles_seen = 0
        self.last_ts = 0
        self.failed_reason = ""
        # External execution (live trading): orders are not matched by the paper exchange but
        # queued in ``outbox`` for the async engine to send; it reports back through
        # external_fill / external_reject. Triggered exits become market orders too.
        self.external_execution = False
        self.warming = False
        self.outbox: List[Order] = []
        # Equity points go to the database one row per timestamp as the run goes (replays), or
        # all at once as one curve at the end (backtests: see write_curve).
        self.equity_curve = EquityCurve(recorder, run_id, not getattr(recorder, "deferred", False))
        # Info-level log lines cost a string each; backtests keep only warnings and errors.
        log_info = not getattr(recorder, "deferred", False)
        self.journal = RunJournal(connection, self.bus, recorder, run_id, log_info)
        self.breakers: Optional[Breakers] = None  # exchange engines install theirs (engine/breakers.py)
        self.portfolio._on_position = self.journal.position_changed
        self._rebuild_runner_lists()

    @property
    def curve(self) -> List[Tuple[int, float]]:
        """The equity curve: (ts ms, equity quote), one point per timestamp."""
        return self.equity_curve.points

    def _rebuild_runner_lists(self) -> None:
        # ([(runner, its on_candle, its symbols or None)], [aggregating runners]), looked up once here.
        # One attribute, not two: at most 29 keep CPython 3.11's attribute loads fast (docs/architecture.md)
        self._runner_lists = ([(r, r.strategy.on_candle, r.symbols) for r in self.runners if r.active and not r.tf_ms],
                              [r for r in self.runners if r.active and r.tf_ms])

    # -- StrategyContext ------------------------------------------------------------------------
    def position(self, symbol: str) -> Optional[Position]:
        return self.portfolio.open.get(symbol)

    def equity(self) -> float:
        return self.portfolio.equity

    def can_short(self, symbol: str) -> bool:
        return self.markets[symbol].can_short

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        for r in self.runners:
            symbols = [s for s in self.markets if r.symbols is None or s in r.symbols]
            self._guard(r, r.strategy.on_start, self, symbols)

    def stop(self) -> None:
        for r in self.runners:
            if r.active:
                self._guard(r, r.strategy.on_stop, self)
        if self.curve:
            self.portfolio.track_drawdown(self.curve[-1][1])
        self.equity_curve.record_last()

    # -- crash recovery -----------------------------------------------------------------------------
    def restore(self, state: Dict[str, Any]) -> None:
        """Carry on a run from what it had committed (:func:`~cts_desktop.engine.recovery.resume_core`)."""
        resume_core(self, state)

    def warm(self, symbol: str, candle: Candle) -> None:
        """Feed a candle from before the resume point to the strategies only: they rebuild their
        indicators; any signal is dropped (it was acted on, or not, before the crash)."""
        self.warming = True
        try:
            for runner, signals, _ts in self.strategy_results(symbol, candle) or ():
                if isinstance(signals, BaseException) and runner.active:
                    self._strategy_failed(runner, signals)
        finally:
            self.warming = False
        self.portfolio.last_prices[symbol] = candle[4]
        self.last_ts = candle[0]

    # -- the hot path ---------------------------------------------------------------------------
    def on_candle(self, symbol: str, candle: Candle) -> None:
        """Process one closed candle of ``symbol`` (see the module docstring): the three steps
        below in a row. Exchange engines run the middle one on a worker thread (``watchdog.py``)."""
        equity = self.before_strategies(symbol, candle)
        self.after_strategies(symbol, candle, equity, self.strategy_results(symbol, candle))

    def before_strategies(self, symbol: str, candle: Candle) -> float:
        """Steps 1-3 of the module docstring; returns the equity marked at the close (quote)."""
        if self._paper_pending.get(symbol):  # the paper exchange's resting orders of symbol
            for order, fill in self.paper.on_candle(symbol, candle):
                self._on_fill(order, fill)
        pf = self.portfolio
        pos = pf.open.get(symbol)
        if pos is not None and (pos.stop_loss is not None or pos.take_profit is not None) \
                and symbol not in self._inflight and symbol not in self.paused and pos.protection != "exchange":
            self._check_exits(pos, candle)
        return pf.mark(symbol, candle[4], False)

    def strategy_results(self, symbol: str, candle: Candle) -> Optional[List[Tuple[StrategyRunner, Any, int]]]:
        """Step 4's strategy calls only: their code and their runners' aggregation, nothing of the
        account (so it may run off the loop while the loop books fills). None when no strategy
        signaled or raised, else ``[(runner, its signals or the exception it raised, decision ts ms)]``."""
        out: Optional[List[Tuple[StrategyRunner, Any, int]]] = None
        signals: Any  # a list of signals, None, or what the strategy raised
        direct, aggregating = self._runner_lists
        for runner, on_candle, symbols in direct:
            if symbols is not None and symbol not in symbols:
                continue
            try:
                signals = on_candle(self, symbol, candle)
            except Exception as exc:  # noqa: BLE001 - a strategy's bug stops that strategy only (after_strategies)
                signals = exc
            if signals:
                out = out or []
                out.append((runner, signals, candle[0] + self.data_tf_ms))
        for runner in aggregating:
            if runner.active and (runner.symbols is None or symbol in runner.symbols):
                for c, close_ts in runner.aggregate(symbol, candle, self.data_tf_ms):
                    try:
                        signals = runner.strategy.on_candle(self, symbol, c)
                    except Exception as exc:  # noqa: BLE001 - as above
                        signals = exc
                    if signals:
                        out = out or []
                        out.append((runner, signals, close_ts))
        return out

    def after_strategies(self, symbol: str, candle: Candle, equity: float, results: Optional[List[Any]]) -> None:
        """Step 4's signals to orders (a raising strategy is stopped; one stopped meanwhile, by the
        kill switch or a failure, is not heard), then the equity point and the events."""
        if results:
            for runner, signals, ts in results:
                if not runner.active:
                    continue
                if isinstance(signals, BaseException):
                    self._strategy_failed(runner, signals)
                    continue
                for sig in signals:
                    self.handle_signal(sig, ts)
        ts = candle[0]
        self.candles_seen += 1  # counted once processed whole, its orders queued
        self.equity_curve.add(ts, equity, self.portfolio)
        self.last_ts = ts
        if self.bus.has_subscribers:
            self.bus.publish(ev.CandleEvent(self.connection, symbol, candle, self.data_tf_ms))  # the Market tab's chart
            now = time.monotonic()
            if now - self.journal.last_snapshot >= SNAPSHOT_INTERVAL_S:
                self.journal.last_snapshot = now
                self.publish_snapshot()

    def _guard(self, r: StrategyRunner, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - a strategy's bug stops that strategy only
            self._strategy_failed(r, exc)

    def _strategy_failed(self, r: StrategyRunner, exc: BaseException) -> None:
        r.active = False
        self._rebuild_runner_lists()
        r.error = f"{type(exc).__name__}: {exc}"
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
        self.log(ev.CAT_ERROR, f"strategy {r.name} stopped: {r.error}\n{tb}", "error")
        if not any(x.active for x in self.runners):
            self.failed_reason = f"strategy {r.name} raised {r.error}"

    # -- signals -> orders ----------------------------------------------------------------------
    def handle_signal(self, s: Signal, ts: int) -> Optional[Order]:
        """Turn one signal into an order through the risk checks; ``ts`` is the decision time."""
        if self.warming:
            return None
        market = self.markets.get(s.symbol)
        pos = self.portfolio.open.get(s.symbol)
        order: Optional[Order] = None
        if market is None:
            accepted, verdict = False, f"unknown symbol {s.symbol}"
        elif s.symbol in self._inflight or s.symbol in self.paused:
            accepted, verdict = False, self.paused.get(s.symbol) or f"an order for {s.symbol} is already in flight"
        elif s.intent == "exit":
            if pos is None:
                accepted, verdict = False, f"no open position on {s.symbol} to exit"
            elif (pos.side == LONG) != (s.side == SELL):
                accepted, verdict = False, f"{s.side} does not close the {pos.side} position"
            else:
                accepted, verdict = True, f"exit {pos.amount:g} {market.base}"
                order = self._new_order(s.symbol, s.side, pos.amount, ts, f"exit: {s.reason}" if s.reason else "exit",
                                        s.strategy, reduce_only=True)
        else:
            price = self.portfolio.last_prices.get(s.symbol, 0.0)
            open_count = len(self.portfolio.open)
            if self._inflight:  # entries in flight count as positions already
                open_count += sum(1 for sym, o in self._inflight.items()
                                  if not o.reduce_only and sym not in self.portfolio.open)
            verdict_obj = check_entry(
                s, market, price, equity=self.portfolio.equity, available=self.portfolio.available,
                open_positions=open_count, position=pos, limits=self.limits,
                default_size=self.default_size, fee=self.paper.taker_fee(s.symbol),
            )
            accepted, verdict = verdict_obj.accepted, verdict_obj.reason
            if accepted and self.breakers is not None:
                refused = self.breakers.entry_refusal(self.portfolio, s.symbol, verdict_obj.amount * price,
                                                      self.paper.taker_fee(s.symbol), ts)
                accepted, verdict = refused is None, refused or verdict
            if accepted:
                amount = verdict_obj.amount
                if pos is not None:  # reverse: close the opposite position in the same order
                    amount += pos.amount
                order = self._new_order(s.symbol, s.side, amount, ts, "entry", s.strategy)
                order.stop_loss, order.take_profit = s.stop_loss, s.take_profit
                if s.meta:
                    self._entry_meta[order.clientOrderId] = s.meta
        self.journal.signal(s, accepted, verdict, ts)
        if order is not None:
            self._submit(order, ts)
        return order

    def _new_order(self, symbol: str, side: str, amount: float, ts: int, reason: str, strategy: str,
                   reduce_only: bool = False) -> Order:
        self._order_seq += 1
        return Order(clientOrderId=f"{self.id_prefix}{self.run_id or 0}-{self._order_seq}", symbol=symbol, side=side,
                     type="market", amount=amount, timestamp=ts, reason=reason, strategy=strategy,
                     reduce_only=reduce_only)

    def _submit(self, order: Order, ts: int) -> None:
        # The order is recorded (pending-create) before the exchange sees it.
        self.orders.append(order)
        self.journal.order(order)
        if self.external_execution:
            self.outbox.append(order)
            self._inflight[order.symbol] = order
            self.log(ev.CAT_ORDER, f"{order.side} {order.amount:g} {order.symbol} {order_kind(order)} ({order.reason}) "
                                   f"id {order.clientOrderId}: queued for the exchange", ts=ts)
            self.journal.order_changed(order)
            return
        try:
            self.paper.submit(order, ts)
        except PaperError as exc:
            self.log(ev.CAT_ORDER, f"order {order.clientOrderId} rejected: {exc}", "error", ts=ts)
        else:
            self._inflight[order.symbol] = order
            if self.journal.wants_info:
                self.log(ev.CAT_ORDER, f"{order.side} {order.amount:g} {order.symbol} {order_kind(order)} ({order.reason}) "
                                   f"id {order.clientOrderId}", ts=ts)
        self.journal.order_changed(order)

    def _check_exits(self, pos: Position, c: Candle) -> None:
        """Exit ``pos`` when candle ``c`` triggers its stop-loss or take-profit (:mod:`.exits`)."""
        trigger = triggered_exit(pos, c)
        if trigger is None:
            return
        ts = c[0]
        price, reason = trigger
        side = SELL if pos.side == LONG else BUY
        order = self._new_order(pos.symbol, side, pos.amount, ts, reason, pos.strategy, reduce_only=True)
        if self.external_execution:  # the exchange fills it at its price, not at the trigger
            self.log(ev.CAT_ORDER, f"{reason} triggered at {price:g} on {pos.symbol}", ts=ts)
            self._submit(order, ts)
            return
        self.orders.append(order)
        self.journal.order(order)
        if self.journal.wants_info:
            self.log(ev.CAT_ORDER, f"{reason} triggered at {price:g}: {side} {order.amount:g} {pos.symbol} "
                               f"id {order.clientOrderId}", ts=ts)
        fill = self.paper.fill_now(order, price, ts)
        self._on_fill(order, fill)

    # -- external execution (live) ---------------------------------------------------------------
    def external_fill(self, order: Order, fill: Fill) -> None:
        """Book a fill the exchange reported for ``order`` (which must have come from ``outbox``).
        ``fill.amount`` in base, ``fill.price`` and ``fill.fee`` in quote."""
        self._on_fill(order, fill)

    def external_reject(self, order: Order, reason: str) -> None:
        """The exchange refused ``order`` (or it was canceled unfilled): free its symbol, record
        and log it."""
        self._inflight.pop(order.symbol, None)
        self._entry_meta.pop(order.clientOrderId, None)
        order.error = order.error or reason
        self.journal.order(order)
        self.journal.order_changed(order)
        self.log(ev.CAT_ORDER, f"order {order.clientOrderId} {order.status}: {reason}", "error")

    # -- fills -> accounting ----------------------------------------------------------------------
    def order_settled(self, order: Order) -> None:
        """``order`` reached a terminal state with every execution booked: its symbol may
        take a new order."""
        if self._inflight.get(order.symbol) is order:
            del self._inflight[order.symbol]

    def _on_fill(self, order: Order, fill: Fill) -> None:
        # in flight until terminal: no exit or stop goes out while an entry is still filling
        if not self.external_execution or is_terminal(order.state):
            self.order_settled(order)
        self.fills.append(fill)
        meta = self._entry_meta.pop(order.clientOrderId, None)
        sl_price = tp_price = None
        strategy = order.strategy
        if order.reason in ENTRY_REASONS:
            sl_price, tp_price = protective_prices(order.side, fill.price, order.stop_loss, order.take_profit,
                                                   self.markets[order.symbol].price_step)
        market, held = self.markets[order.symbol], held_long(self.portfolio, order.symbol)
        changed = self.portfolio.apply_fill(fill, reason=order.reason, strategy=strategy, stop_loss=sl_price,
                                            take_profit=tp_price, meta=meta, spot=not market.can_short)
        excess = spot_excess(market, held, order, fill)
        if excess:
            self.log(ev.CAT_POSITION, excess, "error", ts=fill.timestamp)
        if changed:
            order.position_id = changed[-1].id
        self.journal.filled(order, fill, changed, self.portfolio.currency)

    # -- output ---------------------------------------------------------------------------------
    def log(self, category: str, message: str, level: str = "info", ts: Optional[int] = None) -> None:
        """One line of the activity log: to the bus and the database (info lines are skipped
        when ``log_info`` is off and nobody listens on the bus)."""
        self.journal.log(category, message, level, self.last_ts if ts is None else ts)

    def snapshot(self) -> ev.AccountSnapshot:
        """The account now (see :meth:`RunJournal.snapshot`)."""
        return self.journal.snapshot(self.portfolio, self.curve, self.last_ts)

    def publish_snapshot(self) -> None:
        """Publish the account snapshot and the equity points added since the last one."""
        self.bus.publish(self.snapshot())
        new = self.equity_curve.unpublished()
        if new:
            self.bus.publish(ev.EquityPoints(self.connection, new))
