"""Backtests: a strategy over recorded candles through the live engine's own trading core.

:class:`Backtest` drives the same :class:`~cts_desktop.engine.core.TradingCore` (strategy, risk
checks, paper exchange, accounting, equity curve) that the async engine drives in a paper replay,
in a tight loop instead of paced slices. Same strategy, same candles, same fills: the parity test
(``tests/integration/test_backtest.py``) proves it against a replay run of the engine.

Records are held in memory while the loop runs (a deferred
:class:`~cts_desktop.store.recorder.Recorder`) and written to the database in one transaction at
the end, as a run with ``mode = "backtest"``.

Use :meth:`Backtest.run` from scripts and the command line, :meth:`Backtest.run_async` from the
GUI (yields to the event loop every ``slice_s`` seconds, reports progress, can be cancelled).
"""
from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..core.accounting import Portfolio
from ..core.columns import BLOCK, CandleColumns
from ..core.metrics import Metrics, compute_metrics
from ..core.models import Candle, Market, Position
from ..core.risk import RiskLimits
from ..exchange.replay import merge_streams
from ..store.recorder import Recorder
from .core import TradingCore
from .strategies import Strategy
from .engine import _yield_to_loop


class BacktestCancelled(Exception):
    """The backtest was cancelled; nothing was written."""


@dataclass
class BacktestResult:
    """What a finished backtest gives. Money in ``currency`` (the quote); times in ms."""

    run_id: Optional[int]
    currency: str
    starting_balance: float
    candles: int
    elapsed_s: float  # the loop and the result writing, not the data loading
    metrics: Metrics
    positions: List[Position]  # closed first (in closing order), then the ones still open
    fills: list
    curve: List[Tuple[int, float]]
    strategy_error: str = ""
    candles_by_symbol: Dict[str, Sequence[Candle]] = field(default_factory=dict, repr=False)

    @property
    def candles_per_second(self) -> float:
        return self.candles / self.elapsed_s if self.elapsed_s > 0 else float("inf")


class Backtest:
    """One backtest. ``series``: symbol -> candles (time-ordered ccxt rows: a list or
    :class:`~cts_desktop.core.columns.CandleColumns`), ``markets``: symbol
    -> Market for the same symbols, ``timeframe_ms``: the candles' spacing.

    ``starting_balance`` in the quote currency of the markets; ``fee`` overrides the markets'
    taker/maker fee (fraction); ``limits`` default to 100 % of equity and one position per
    symbol. ``recorder``: a deferred Recorder to keep the results, or None.
    Raises ``ValueError`` for inconsistent inputs (no candles, a symbol without a market).
    """

    def __init__(self, strategy: Strategy, series: Dict[str, Sequence[Candle]], markets: Dict[str, Market], *,
                 timeframe_ms: int, starting_balance: float, fee: Optional[float] = None, slippage: float = 0.0,
                 limits: Optional[RiskLimits] = None, recorder: Optional[Recorder] = None, connection: str = "backtest",
                 dataset: str = ""):
        if not series or not any(series.values()):
            raise ValueError("no candles to backtest")
        missing = [s for s in series if s not in markets]
        if missing:
            raise ValueError(f"no market rules for {', '.join(missing)}")
        currency = markets[next(iter(series))].quote
        self.series = series
        self.total = sum(len(c) for c in series.values())
        self.recorder = recorder
        self.run_id: Optional[int] = None  # set exactly when there is a recorder
        if recorder is not None:
            self.run_id = recorder.begin_run(connection, "backtest", dataset=dataset, strategy=strategy.name,
                                             params=strategy.p, currency=currency,
                                             starting_balance=starting_balance)
        self.core = TradingCore(
            connection, {s: markets[s] for s in series}, [strategy],
            portfolio=Portfolio(starting_balance, currency),
            limits=limits or RiskLimits(max_position_fraction=1.0, max_open_positions=max(1, len(series))),
            data_timeframe_ms=timeframe_ms, default_size=strategy.p.get("size", 1.0), fee=fee,
            slippage=slippage, recorder=recorder, run_id=self.run_id,
        )
        self._elapsed = 0.0

    def run(self) -> BacktestResult:
        """The whole backtest at full speed.

        Python's cyclic garbage collector is paused while the candles run and the results are
        written (and restored after): the loop makes short-lived acyclic objects that reference
        counting frees at once, and the collector's passes over them cost a fifth of the run
        (FTX month: ~184,000 -> ~221,000 candles/s). The results' rows and records made at the
        end then triggered a full collection of the whole process (~200,000 objects, most of them
        the imported libraries'): another ~10 % (FTX month, interleaved in one process: 205 ->
        185 ms). The engine code is the same as a live run's; only this process setting differs."""
        t0 = time.perf_counter()
        core = self.core
        core.start()
        # TradingCore.on_candle's three steps, called here as the exchange engines call them
        # (one call a candle less; the parity test holds the two paths to the same fills)
        before, results, after = core.before_strategies, core.strategy_results, core.after_strategies
        collecting = gc.isenabled()
        gc.disable()
        try:
            if len(self.series) == 1:  # one symbol: its candles as they are, no merge to tag them
                ((symbol, candles),) = self.series.items()
                for block in _blocks(candles):
                    for candle in block:
                        after(symbol, candle, before(symbol, candle), results(symbol, candle))
            else:
                for symbol, candle in merge_streams(self.series):
                    after(symbol, candle, before(symbol, candle), results(symbol, candle))
            self._elapsed = time.perf_counter() - t0
            return self._finish(t0)
        finally:
            if collecting:
                gc.enable()

    async def run_async(self, progress: Optional[Callable[[int, int], None]] = None,
                        cancelled: Optional[Callable[[], bool]] = None, slice_s: float = 0.01) -> BacktestResult:
        """The backtest in slices of ``slice_s`` seconds, yielding to the loop between them.

        ``progress(done, total)`` is called after each slice; when ``cancelled()`` turns true the
        run stops and :class:`BacktestCancelled` is raised (nothing is written).
        """
        t0 = time.perf_counter()
        core = self.core
        core.start()
        on_candle = core.on_candle
        stream = merge_streams(self.series)
        perf = time.perf_counter
        while True:
            deadline = perf() + slice_s
            n = 0
            done = True
            for symbol, candle in stream:
                on_candle(symbol, candle)
                n += 1
                if n >= 256:
                    n = 0
                    if perf() >= deadline:
                        done = False
                        break
            if progress is not None:
                progress(core.candles_seen, self.total)
            if done:
                break
            await _yield_to_loop()
            if cancelled is not None and cancelled():
                if self.recorder is not None and self.run_id is not None:
                    self.recorder.discard_pending()
                    self.recorder.end_run(self.run_id, "stopped", "cancelled")
                    await asyncio.wrap_future(self.recorder.flush())
                raise BacktestCancelled("backtest cancelled")
        result = self._finish(t0, wait=False)
        if self.recorder is not None:  # the write happens on the recorder's thread; the loop stays free
            await asyncio.wrap_future(self.recorder.flush())
            result.elapsed_s = time.perf_counter() - t0
        return result

    def _finish(self, t0: float, wait: bool = True) -> BacktestResult:
        core = self.core
        core.stop()
        pf = core.portfolio
        positions = list(pf.closed) + list(pf.open.values())
        written = None
        if self.recorder is not None and self.run_id is not None:
            # Hand the records to the writer thread first, so the database write overlaps the
            # analytics below; the run row with its summary follows in a second, small batch.
            core.equity_curve.write()  # the whole curve as one record
            for p in pf.open.values():  # their last state, marked at the last close
                self.recorder.position(self.run_id, core.connection, p)
            written = self.recorder.flush()
        metrics = compute_metrics(positions, core.curve, pf.starting_balance, pf.unrealized_pnl)
        if self.recorder is not None and self.run_id is not None:
            summary = {k: v for k, v in metrics.to_dict().items() if k not in ("by_symbol", "by_strategy")}
            summary.update(candles=core.candles_seen, currency=pf.currency)
            self.recorder.end_run(self.run_id, "error" if core.failed_reason else "finished",
                                  core.failed_reason or "backtest finished", summary)
            if wait and written is not None:
                written.result()
                self.recorder.flush().result()
        elapsed = time.perf_counter() - t0
        return BacktestResult(
            run_id=self.run_id, currency=pf.currency, starting_balance=pf.starting_balance,
            candles=core.candles_seen, elapsed_s=elapsed, metrics=metrics, positions=positions,
            fills=list(core.fills), curve=list(core.curve), strategy_error=core.failed_reason,
            candles_by_symbol=self.series,
        )


def _blocks(candles: Sequence[Candle]) -> Iterator[Iterable[Candle]]:
    """``candles`` in blocks of tuples: columns a block of :data:`~cts_desktop.core.columns.BLOCK`
    at a time (as iterating them does, without a generator step per candle), a list as it is."""
    if not isinstance(candles, CandleColumns):
        yield candles
        return
    c = candles
    for a in range(0, len(c), BLOCK):
        b = a + BLOCK
        yield zip(c.ts[a:b].tolist(), c.open[a:b].tolist(), c.high[a:b].tolist(), c.low[a:b].tolist(),
                  c.close[a:b].tolist(), c.volume[a:b].tolist(), strict=True)


TRADE_COLUMNS = ["position_id", "symbol", "side", "entry_time", "entry_price", "exit_time", "exit_price",
                 "amount", "pnl", "fees", "net_pnl", "close_reason", "strategy"]


def trades_rows(positions: List[Position]) -> List[list]:
    """One row per closed position, in :data:`TRADE_COLUMNS` order: times in ms UTC, prices and
    money in quote, ``amount`` in base (the largest size the position reached), ``pnl`` gross."""
    rows = []
    for p in positions:
        if p.closed_at is None:
            continue
        rows.append([p.id, p.symbol, p.side, p.opened_at, p.entry_price, p.closed_at, p.exit_price, p.max_amount,
                     p.realized_pnl, p.fees, p.net_pnl, p.close_reason, p.strategy])
    return rows
