"""The Market tab's chart, as the GUI asks for it: which symbols a connection trades, the candles
to start from, the timeframe they are shown at and what is drawn over them. No Qt.

History: a paper replay's candles come from its dataset (the candle cache of ``exchange/replay``),
up to the candle the running engine has reached (or, stopped, to the last run's last candle); an
exchange connection's from the exchange (``fetch_ohlcv`` through the running engine's gateway or a
public one of :mod:`.market_data`). New candles then come from the engine's
:class:`~cts_desktop.core.events.CandleEvent` s through the UI's bridge.

Overlays: the strategy's indicator lines (:func:`.charting.indicator_lines`), every position's
entry and exit as markers (:func:`.charting.trade_marks`) and the open position's entry /
stop-loss / take-profit levels. Times in ms UTC, prices in quote, volume in base.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from ..core.models import TIMEFRAME_MS, Position
from ..core.resample import CHART_TIMEFRAMES, Resampler, resample
from ..exchange import replay
from . import charting
from .market_data import MarketData
from .market_trades import TradeTape

log = logging.getLogger(__name__)

__all__ = ["CHART_TIMEFRAMES", "ChartHistory", "MarketChart", "MarketService", "Overlays", "Resampler", "resample"]

HISTORY_LIMIT = 1000  # candles read from an exchange for the chart's start


@dataclass
class ChartHistory:
    """``candles``: an ``(n, 6)`` array ``(ts_ms, o, h, l, c, v)`` at the feed's ``timeframe_ms``;
    ``source``: where they came from, in words for the trader."""

    symbol: str
    candles: np.ndarray
    timeframe_ms: int
    source: str


@dataclass
class Overlays:
    """What the chart draws over the candles: indicator ``lines``, fill ``marks``, ``levels``
    (``entry`` / ``stop-loss`` / ``take-profit`` -> price in quote, None: no line)."""

    lines: List[charting.Line] = field(default_factory=list)
    marks: List[charting.Mark] = field(default_factory=list)
    levels: Dict[str, Optional[float]] = field(default_factory=dict)


class MarketChart:
    """The chart's data for the connections of ``app`` (an :class:`~cts_desktop.services.AppServices`);
    ``data`` (a :class:`~.market_data.MarketData`) lends its public gateways."""

    def __init__(self, app: Any, data: Optional[MarketData] = None):
        self.app = app
        self.data = data if data is not None else MarketData(app, self)

    def symbols(self, name: str) -> List[str]:
        """The symbols connection ``name`` trades (a replay: its dataset's). Raises ``KeyError``
        for an unknown connection or dataset."""
        conn = self.app.connection(name)
        if conn.is_paper_replay:
            return replay.get_dataset(conn.dataset).symbols
        return list(conn.symbols)

    def feed_timeframe(self, name: str) -> str:
        """The timeframe of the candles the engine of ``name`` trades on (``"auto"``: 1m)."""
        conn = self.app.connection(name)
        if conn.is_paper_replay:
            src = self._source(name)
            return next((k for k, v in TIMEFRAME_MS.items() if v == src.timeframe_ms), "1m")
        tf = str(conn.strategy_params.get("timeframe") or "auto")
        return tf if tf in TIMEFRAME_MS else "1m"

    def _source(self, name: str) -> replay.ReplaySource:
        eng = self.app.engines.get(name)
        src = getattr(eng, "source", None)
        if src is not None:
            return src
        conn = self.app.connection(name)
        return replay.ReplaySource(replay.get_dataset(conn.dataset), self.app.replay_data_dir)

    def _replay_until(self, name: str) -> Optional[int]:
        """The newest candle time (ms) the replay of ``name`` has reached (running or last run)."""
        eng = self.app.engines.get(name)
        core = getattr(eng, "core", None)
        if core is not None and core.last_ts:
            return int(core.last_ts)
        run = self.app.latest_run(name)
        return int(run.last_candle_ts) if run is not None and run.last_candle_ts else None

    async def history(self, name: str, symbol: str) -> ChartHistory:
        """The candles of ``symbol`` to start the chart with (see the module docstring). Raises
        ``KeyError`` (unknown connection, dataset or symbol), ``CandleFileError`` (a replay's file),
        ``GatewayError`` (the exchange did not answer)."""
        conn = self.app.connection(name)
        if conn.is_paper_replay:
            src = await asyncio.get_running_loop().run_in_executor(None, self._source, name)
            if symbol not in src.series:
                raise KeyError(f"{symbol} is not in the dataset {conn.dataset}")
            cols = src.series[symbol].candles
            until = self._replay_until(name)
            n = int(np.searchsorted(cols.ts, until, side="right")) if until is not None else len(cols)
            arr = np.column_stack([np.asarray(a[:n], dtype=np.float64) for a in cols.arrays()])
            what = "replayed so far" if until is not None else "the whole dataset (no run yet)"
            return ChartHistory(symbol, arr.reshape(-1, 6), int(src.series[symbol].timeframe_ms),
                                f"recorded candles of {conn.dataset}, {what}")
        tf = self.feed_timeframe(name)
        gateway = await self.data.gateway(name)
        rows = await gateway.fetch_ohlcv(symbol, tf, limit=HISTORY_LIMIT)
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        return ChartHistory(symbol, arr, TIMEFRAME_MS[tf], f"{tf} candles from {conn.exchange}")

    def positions(self, name: str) -> List[Position]:
        """The positions of the running engine of ``name``, else of its last stored run."""
        eng = self.app.engines.get(name)
        core = getattr(eng, "core", None)
        if core is not None:
            pf = core.portfolio
            return list(pf.closed) + list(pf.open.values())
        return list(self.app.closed_positions(name)) + list(self.app.open_positions(name))

    def overlays(self, name: str, symbol: str, candles: np.ndarray, timeframe_ms: float, *,
                 lines: bool = True) -> Overlays:
        """Lines (unless ``lines`` is False: they cost ~30 ms over a month of 1m candles), fill
        markers and levels for ``symbol`` over ``candles`` (the feed's, ``(n, 6)``)."""
        conn = self.app.connection(name)
        arr = np.asarray(candles, dtype=np.float64).reshape(-1, 6)
        out = Overlays()
        if lines:
            try:
                out.lines = charting.indicator_lines(conn.strategy, conn.strategy_params, arr[:, 0], arr[:, 4],
                                                     timeframe_ms)
            except (KeyError, ValueError) as exc:  # a strategy this version does not know, bad params
                log.info("no indicator lines for %s: %s", name, exc)
        positions = self.positions(name)
        currency = self._currency(name)
        out.marks = charting.trade_marks(positions, symbol, currency)
        open_pos = next((p for p in positions if p.symbol == symbol and p.closed_at is None), None)
        out.levels = {"entry": open_pos.entry_price if open_pos else None,
                      "stop-loss": open_pos.stop_loss if open_pos else None,
                      "take-profit": open_pos.take_profit if open_pos else None}
        return out

    def _currency(self, name: str) -> str:
        eng = self.app.engines.get(name)
        core = getattr(eng, "core", None)
        if core is not None:
            return str(core.portfolio.currency)
        return str(self.app.last_summary(name).get("currency", ""))


class MarketService:
    """``chart`` (:class:`MarketChart`), ``data`` (:class:`~.market_data.MarketData`: watchlist,
    order book) and ``trades`` (:class:`~.market_trades.TradeTape`: the last public trades) for
    the connections of ``app``; :meth:`close` ends the trade streams and the public gateways."""

    def __init__(self, app: Any):
        self.chart = MarketChart(app)
        self.data = self.chart.data
        self.trades = TradeTape(self.data)

    async def close(self) -> None:
        await self.trades.close()
        await self.data.close()
