"""Backtests, everything but the drawing: the data, the checks, the run, its record, the exports.

The backtest window (:mod:`cts_desktop.ui.backtest`) and ``cts-desktop backtest``
(:mod:`cts_desktop.cli.backtest`) both go through here, so they build the same run from the same
inputs (same risk limits, same market rules for a candle file) and refuse bad input with the same
words (:class:`BacktestInputError`, :func:`error_message`). No Qt.

* data: a shipped dataset (:func:`datasets`, :func:`load_dataset`), an imported candle file in
  any layout traders download (:func:`load_csv`, checked whole, :func:`describe` for what was
  detected, then :func:`csv_inputs`; :func:`convert_candles` to Parquet or CSV), or exchange history downloaded
  through a configured connection and cached in the database (:func:`load_history`);
* the run: :class:`BacktestSettings` (cash, fee, slippage, max position; :meth:`~BacktestSettings.limits`
  is the one place the backtest risk limits come from), :func:`run` (scripts, the command line) or
  :func:`run_async` (the GUI: slices, progress, cancel); the run is kept in the database as a
  ``backtest`` run when a database is given;
* exports: :func:`write_trades` (CSV), :func:`write_report` (self-contained HTML, see
  :func:`report_info`).

Units: money in the quote currency of the markets, except the cash of a shipped dataset, given in
US dollars and converted with :attr:`BacktestInputs.cash_factor`; fee, slippage and max position
are fractions (0.001 = 0.1 %); times in ms UTC.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..core.columns import as_columns
from ..core.models import TIMEFRAME_MS, Candle, Market
from ..core.risk import RiskLimits
from ..engine import strategies
from ..engine.backtest import Backtest, BacktestCancelled, BacktestResult
from ..engine.strategies.base import ParamError, Strategy
from ..exchange.candles import CandleFileError, CandleSeries, load_candles_csv, write_candles
from ..exchange.errors import GatewayError
from ..exchange.replay import ReplaySource, get_dataset
from .datasets import Dataset, datasets as _datasets
from ..store.db import StoreError, open_database
from ..store.recorder import Recorder
from ..store.settings import ConnectionConfig
from . import reports

__all__ = [
    "AMOUNT_STEP", "MAX_OPEN_POSITIONS", "BacktestCancelled", "BacktestInputError", "BacktestInputs",
    "BacktestResult", "BacktestSettings", "CandleSeries", "Dataset", "INPUT_ERRORS", "ReportInfo", "cannot_write",
    "check_span", "check_symbol", "convert_candles", "csv_inputs", "datasets", "describe", "error_message",
    "is_download_error", "load_csv", "load_dataset",
    "load_history", "make_strategy", "report_info", "run", "run_async", "write_report", "write_trades",
]

PathLike = Union[str, Path]

MAX_OPEN_POSITIONS = 3  # most positions open at once in a backtest, GUI and command line alike
AMOUNT_STEP = 1e-8  # amount step (base) of a market read from a candle file, unless told otherwise

# What loading and running raise when the input is at fault (a bad setting, file or name, a
# database that cannot be opened), not a bug. A download's ``HistoryError`` too: see error_message.
INPUT_ERRORS: Tuple[type, ...] = (KeyError, ValueError, CandleFileError, GatewayError, StoreError)


class BacktestInputError(ValueError):
    """A setting of the run cannot be used. The message is meant for the user as it is;
    ``field`` names the setting it is about (``cash``, ``fee``, ``symbol``, ``dates``) so a
    form can show it next to that field and the command line can name its option."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
def datasets() -> List[Dataset]:
    """The shipped datasets, in their listing order."""
    return list(_datasets().values())


@dataclass
class BacktestInputs:
    """Candles and market rules of one run. ``cash_factor`` converts the cash setting (US dollars
    for the shipped datasets) to the quote currency; 1 for CSV and exchange data (cash in quote)."""

    label: str
    series: Dict[str, Sequence[Candle]]  # CandleColumns for files, datasets and downloads
    markets: Dict[str, Market]
    timeframe_ms: int
    cash_factor: float = 1.0

    @property
    def quote(self) -> str:
        return self.markets[next(iter(self.series))].quote


def load_dataset(key: str, data_dir: Optional[Path] = None) -> BacktestInputs:
    """The candles of the shipped dataset ``key`` (read from ``data_dir`` when given, for tests).
    Raises ``KeyError`` (unknown key, message lists the known ones) or ``CandleFileError``."""
    source = ReplaySource(get_dataset(key), data_dir)
    return BacktestInputs(key, {s: v.candles for s, v in source.series.items()}, source.markets,
                          source.timeframe_ms, source.quote_per_usd())


def load_csv(path: PathLike) -> CandleSeries:
    """Read and check a whole candle file of any layout the importer knows (this app's
    ``timestamp(ms),open,high,low,close,volume``, Binance archive klines, TradingView exports,
    ISO ``Date`` columns; CSV, ``.gz``, ``.zip``, Parquet: see :mod:`cts_desktop.exchange.candles`).
    ``CandleSeries.layout`` says what was detected. Raises ``CandleFileError`` with its
    line-numbered problems; nothing of a bad file is kept."""
    return load_candles_csv(path)


def describe(series: CandleSeries) -> List[str]:
    """What the user is told about a loaded file before the run: what was detected, then the
    time conversion (when there was one) and the warnings (gaps, with their line numbers)."""
    return [f"detected: {series.layout}"] + ([series.unit_note] if series.unit_note else []) + series.warnings


def convert_candles(src: PathLike, out: PathLike) -> CandleSeries:
    """Read and check ``src`` (any layout :func:`load_csv` reads) and write it to ``out``: Parquet
    for ``.parquet``/``.pq``, else this app's CSV (``.gz``: compressed). Returns the series.
    Raises ``CandleFileError`` (bad input, nothing written), :class:`BacktestInputError` (``out``
    is the input itself) or ``OSError`` (cannot write; nothing half-written is left)."""
    if Path(out).resolve() == Path(src).resolve():
        raise BacktestInputError("the output file is the input file; choose another name", "out")
    series = load_candles_csv(src)
    write_candles(series, out)
    return series


def check_symbol(symbol: str) -> Tuple[str, str]:
    """``(base, quote)`` of a unified symbol (``BTC/USDT``, ``BTC/USDT:USDT``); raises
    :class:`BacktestInputError` for anything else."""
    if symbol.count("/") != 1 or not all(symbol.split(":")[0].split("/")):
        raise BacktestInputError(f"symbol must be a unified symbol like BTC/USDT, got {symbol!r}", "symbol")
    base, rest = symbol.split("/", 1)
    return base, rest.split(":")[0]


def csv_inputs(series: CandleSeries, symbol: str, market_type: str, fee: float, *,
               amount_step: float = AMOUNT_STEP, label: Optional[str] = None) -> BacktestInputs:
    """A candle file as the one market ``symbol`` (``spot``: long only; ``swap``: linear perpetual,
    shorts allowed), ``fee`` (fraction) as its taker and maker fee. ``label`` defaults to the
    file's name."""
    base, quote = check_symbol(symbol)
    market = Market(symbol, base, quote, market_type, amount_step, 0.0, 0.0, 0.0, fee, fee)
    return BacktestInputs(series.path.name if label is None else label, {symbol: series.candles}, {symbol: market},
                          series.timeframe_ms)


def check_span(since_ms: int, until_ms: int) -> None:
    """Raises :class:`BacktestInputError` when the history span is empty."""
    if until_ms <= since_ms:
        raise BacktestInputError("The end date is before the start date.", "dates")


async def load_history(conn: ConnectionConfig, symbol: str, timeframe: str, since_ms: int, until_ms: int,
                       progress: Optional[Callable[[int, int], None]] = None, *,
                       cancelled: Optional[Callable[[], bool]] = None) -> BacktestInputs:
    """Candles of ``symbol`` from ``since_ms`` to ``until_ms`` (ms UTC) through connection ``conn``,
    from the database cache where they are there, downloaded (public data, no key) where not.
    ``progress(done, total)`` counts candles. Raises ``HistoryError`` / ``GatewayError``."""
    from .history import download_for_connection
    check_span(since_ms, until_ms)
    candles, market = await download_for_connection(conn, symbol, timeframe, since_ms, until_ms, progress,
                                                     cancelled=cancelled)
    return BacktestInputs(f"{conn.exchange} {symbol} {timeframe}", {symbol: as_columns(candles)}, {symbol: market},
                          TIMEFRAME_MS[timeframe])


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------
def make_strategy(name: str, params: Mapping[str, Any]) -> Strategy:
    """The registered strategy ``name`` with ``params`` (text or typed values). Raises ``KeyError``
    (unknown strategy) or ``ParamError`` naming the parameter."""
    return strategies.get(name)(dict(params))


@dataclass(frozen=True)
class BacktestSettings:
    """The account and costs of a run. ``cash``: starting cash (quote currency; US dollars for a
    shipped dataset); ``fee``: taker and maker fee, fraction; ``slippage``: market-order slippage,
    fraction of the open; ``max_position``: largest position notional, fraction of equity."""

    cash: float
    fee: float = 0.001
    slippage: float = 0.0
    max_position: float = 1.0

    def limits(self) -> RiskLimits:
        """The run's risk limits: ``max_position`` and :data:`MAX_OPEN_POSITIONS`. Raises
        ``ValueError`` for a max position outside (0, 1]."""
        return RiskLimits(max_position_fraction=self.max_position, max_open_positions=MAX_OPEN_POSITIONS)

    def check(self) -> None:
        """Raises :class:`BacktestInputError` (or ``ValueError`` from the limits) for unusable settings."""
        if not self.cash > 0:
            raise BacktestInputError(f"cash must be > 0, got {self.cash:g}", "cash")
        if not 0 <= self.fee < 0.1:
            raise BacktestInputError(f"fee is a fraction in [0, 0.1), got {self.fee:g} (0.001 = 0.1 %)", "fee")
        self.limits()


def _backtest(strategy: Strategy, inputs: BacktestInputs, settings: BacktestSettings,
              recorder: Optional[Recorder]) -> Backtest:
    return Backtest(strategy, inputs.series, inputs.markets, timeframe_ms=inputs.timeframe_ms,
                    starting_balance=settings.cash * inputs.cash_factor, fee=settings.fee,
                    slippage=settings.slippage, limits=settings.limits(), recorder=recorder, dataset=inputs.label)


def run(strategy: Strategy, inputs: BacktestInputs, settings: BacktestSettings, *,
        data_dir: Optional[Path] = None) -> BacktestResult:
    """The whole backtest at full speed. With ``data_dir`` the run is kept in that folder's
    database (raises ``StoreError`` when it cannot be opened); without, nothing is written.
    Raises ``ValueError`` for inconsistent inputs."""
    if data_dir is None:
        return _backtest(strategy, inputs, settings, None).run()
    db = open_database(data_dir)
    recorder = Recorder(db, deferred=True)
    try:
        return _backtest(strategy, inputs, settings, recorder).run()
    finally:
        recorder.close()
        db.close()


async def run_async(strategy: Strategy, inputs: BacktestInputs, settings: BacktestSettings, db: Any, *,
                    started: Optional[Callable[[int], None]] = None,
                    progress: Optional[Callable[[int, int], None]] = None,
                    cancelled: Optional[Callable[[], bool]] = None) -> BacktestResult:
    """The backtest in slices on the running loop, kept in the database ``db`` (written on a
    worker thread at the end). ``started(total)`` is called once the run is set up (candles in
    all), ``progress(done, total)`` after each slice; raises ``BacktestCancelled`` when
    ``cancelled()`` turns true (only the cancelled run row is kept)."""
    recorder = Recorder(db, deferred=True)
    try:
        bt = _backtest(strategy, inputs, settings, recorder)
        if started is not None:
            started(bt.total)
        return await bt.run_async(progress, cancelled)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, recorder.close)


def error_message(exc: BaseException) -> Optional[str]:
    """The user's message for an expected failure (a bad setting, file or name, a refused
    download, a database that cannot be opened); None for anything else (a bug: log it)."""
    from .history import HistoryError
    if isinstance(exc, KeyError):
        return str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc, (*INPUT_ERRORS, ParamError, HistoryError)):
        return str(exc)
    return None


def is_download_error(exc: BaseException) -> bool:
    """True when ``exc`` is a failed (or cancelled) history download."""
    from .history import HistoryError
    return isinstance(exc, HistoryError)


# ----------------------------------------------------------------------------------------------
# exports
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportInfo:
    """What a report says about a run besides its result: a title, the strategy parameters and
    the settings (name -> text)."""

    title: str = "Backtest"
    params: Optional[Dict[str, Any]] = None
    settings: Optional[Dict[str, Any]] = None


def report_info(strategy: Strategy, inputs: BacktestInputs, settings: BacktestSettings,
                result: BacktestResult) -> ReportInfo:
    """The title, parameters and settings lines of ``result``'s report."""
    lines: Dict[str, Any] = {
        "data": inputs.label, "strategy": strategy.name,
        "starting cash": reports.fmt_money(result.starting_balance, result.currency),
        "fee": reports.fmt_pct(settings.fee, 3), "slippage": reports.fmt_pct(settings.slippage, 3),
        "max position": reports.fmt_pct(settings.max_position, 0) + " of equity",
    }
    if result.run_id is not None:
        lines["run id"] = result.run_id
    return ReportInfo(f"{strategy.title or strategy.name} on {inputs.label}", dict(strategy.p), lines)


def write_trades(path: PathLike, result: BacktestResult) -> int:
    """Write the closed trades as CSV (see :func:`reports.write_trades_csv`); returns how many.
    Raises ``OSError`` (nothing half-written is left)."""
    return reports.write_trades_csv(path, result.positions)


def write_report(path: PathLike, result: BacktestResult, info: Optional[ReportInfo] = None) -> None:
    """Write the self-contained HTML report (``info`` None: titled "Backtest", no settings).
    Raises ``OSError`` (nothing is left behind)."""
    info = info or ReportInfo()
    reports.write_html_report(path, result, info.title, info.params, settings=info.settings)


def cannot_write(path: PathLike, exc: OSError) -> str:
    """The message for an export that failed."""
    return f"cannot write {path}: {exc.strerror or exc}"
