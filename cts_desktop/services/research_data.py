"""The data of a study and how trials get it: loading, slicing by time, sharing with workers, and
the trial function every worker runs.

* :class:`DataSpec`: where the candles come from (a shipped dataset, with an optional subset of
  its symbols, or one or more candle CSV files with their symbols) and an optional time span
  ``[start_ms, end_ms)``; :func:`load_data` loads it through the backtests service's loaders.
* :class:`SharedData`: the candles as one ``(n, 6)`` float64 numpy array per symbol (timestamp
  ms, open, high, low, close, volume), saved as ``.npy`` files in a temporary folder; a worker
  process memory-maps them by path (the pages are shared through the OS cache, not copied per
  worker) and builds its own candle tuples once (:func:`candles_for`). On Ray the same arrays
  travel through Ray's object store instead (``research_ray``).
* :func:`run_trials`: evaluate a chunk of parameter sets (no database write; only the key
  metrics travel back). Every executor (inline, process pool, Ray) calls this one function on the
  same arrays, so a trial gives the same numbers wherever it runs.
"""
from __future__ import annotations

import bisect
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Sequence

import numpy as np

from ..core.models import Candle, Market
from ..core.objectives import key_metrics
from ..engine import strategies
from ..engine.strategies.base import ParamError
from . import backtests
from .backtests import AMOUNT_STEP, BacktestInputError, BacktestInputs, BacktestSettings

MIN_CANDLES = 100  # fewest candles (of the first symbol) a study runs on

#: one evaluated trial as it travels back: (number, state, reason, key metrics)
Outcome = Tuple[int, str, str, Dict[str, Any]]


@dataclass(frozen=True)
class DataSpec:
    """Where a study's candles come from: ``dataset`` (a shipped key; ``symbols`` then picks a
    subset, empty for all) or ``candles`` (CSV paths, one ``symbols`` entry each, as
    ``market_type`` spot or swap with ``amount_step`` base); ``start_ms``/``end_ms``: the span
    kept, ms UTC, half-open, None for the whole file."""

    dataset: str = ""
    candles: Tuple[str, ...] = ()
    symbols: Tuple[str, ...] = ()
    market_type: str = "spot"
    amount_step: float = AMOUNT_STEP
    start_ms: Optional[int] = None
    end_ms: Optional[int] = None

    def to_json(self) -> Dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "DataSpec":
        fields: Dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**fields)


def slice_series(series: Dict[str, Sequence[Candle]], start_ms: Optional[int], end_ms: Optional[int]
                 ) -> Dict[str, Sequence[Candle]]:
    """Each symbol's candles with ``start_ms <= timestamp < end_ms`` (None: unbounded); symbols left
    without candles are dropped."""
    out = {}
    for sym, cs in series.items():
        lo = 0 if start_ms is None else bisect.bisect_left(cs, (start_ms,))
        hi = len(cs) if end_ms is None else bisect.bisect_left(cs, (end_ms,))
        if hi > lo:
            out[sym] = cs[lo:hi]
    return out


def load_data(spec: DataSpec, fee: float) -> BacktestInputs:
    """The candles and markets of ``spec``. Raises ``KeyError`` (unknown dataset), ``CandleFileError``
    or :class:`BacktestInputError` (field ``symbol`` or ``data``: an unknown symbol, too few
    candles in the span)."""
    if spec.dataset:
        inputs = backtests.load_dataset(spec.dataset)
        if spec.symbols:
            unknown = [s for s in spec.symbols if s not in inputs.series]
            if unknown:
                raise BacktestInputError(f"symbol {unknown[0]} is not in {spec.dataset}; it has "
                                         f"{', '.join(inputs.series)}", "symbol")
            inputs.series = {s: inputs.series[s] for s in spec.symbols}
    else:
        if not spec.candles or len(spec.candles) != len(spec.symbols):
            raise BacktestInputError("give one symbol for each candle file", "symbol")
        series: Dict[str, Sequence[Candle]] = {}
        markets: Dict[str, Market] = {}
        tf = 0
        for path, symbol in zip(spec.candles, spec.symbols, strict=True):
            one = backtests.csv_inputs(backtests.load_csv(path), symbol, spec.market_type, fee,
                                       amount_step=spec.amount_step)
            series.update(one.series)
            markets.update(one.markets)
            tf = min(tf or one.timeframe_ms, one.timeframe_ms)
        inputs = BacktestInputs(", ".join(Path(p).name for p in spec.candles), series, markets, tf)
    inputs.series = slice_series(inputs.series, spec.start_ms, spec.end_ms)
    n = len(next(iter(inputs.series.values()))) if inputs.series else 0
    if n < MIN_CANDLES:
        raise BacktestInputError(f"data: {n} candles in the chosen span; a study needs at least {MIN_CANDLES}", "data")
    return inputs


def to_arrays(series: Dict[str, Sequence[Candle]]) -> Dict[str, np.ndarray]:
    """``(n, 6)`` float64 arrays per symbol (timestamps in ms are exact in float64)."""
    return {sym: np.asarray(cs, dtype=np.float64).reshape(-1, 6) for sym, cs in series.items()}


def from_array(arr: np.ndarray) -> List[Candle]:
    """Candle tuples back from an ``(n, 6)`` array, timestamps as int."""
    ts = arr[:, 0].astype(np.int64).tolist()
    rest = arr[:, 1:].tolist()
    return [(t, r[0], r[1], r[2], r[3], r[4]) for t, r in zip(ts, rest, strict=True)]


@dataclass(frozen=True)
class DataMeta:
    """What a worker needs besides the arrays: a ``key`` unique to this shared copy, the markets,
    the timeframe (ms), the cash factor and the label."""

    key: str
    markets: Dict[str, Market]
    timeframe_ms: int
    cash_factor: float
    label: str
    files: Dict[str, str] = field(default_factory=dict)  # symbol -> .npy path (process pool)


class SharedData:
    """The study's candles as memory-mapped ``.npy`` files in a temporary folder (see the module
    doc); :attr:`meta` is the small picklable handle sent to workers. :meth:`close` removes the
    folder."""

    def __init__(self, inputs: BacktestInputs):
        self.dir = Path(tempfile.mkdtemp(prefix="cts-study-"))
        files = {}
        for i, (sym, arr) in enumerate(to_arrays(inputs.series).items()):
            path = self.dir / f"{i}.npy"
            np.save(path, arr)
            files[sym] = str(path)
        self.meta = DataMeta(uuid.uuid4().hex, dict(inputs.markets), inputs.timeframe_ms, inputs.cash_factor,
                             inputs.label, files)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


_CACHE: Dict[str, Dict[str, Sequence[Candle]]] = {}  # per worker process: meta.key -> candles


def candles_for(meta: DataMeta, arrays: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, Sequence[Candle]]:
    """This process's candle lists for ``meta`` (built once per process from ``arrays``, or from the
    memory-mapped files)."""
    hit = _CACHE.get(meta.key)
    if hit is None:
        if arrays is None:
            arrays = {sym: np.load(path, mmap_mode="r") for sym, path in meta.files.items()}
        hit = {sym: from_array(np.asarray(arr)) for sym, arr in arrays.items()}
        _CACHE.clear()  # one study's data at a time
        _CACHE[meta.key] = hit
    return hit


@dataclass(frozen=True)
class TrialJob:
    """What every trial of a batch shares: the strategy, its fixed parameters, the account settings
    and the time span ``[start_ms, end_ms)`` (ms UTC, None: all the data)."""

    strategy: str
    fixed: Dict[str, Any]
    settings: BacktestSettings
    start_ms: Optional[int] = None
    end_ms: Optional[int] = None


def run_one(job: TrialJob, meta: DataMeta, series: Dict[str, Sequence[Candle]], number: int,
            params: Dict[str, Any]) -> Outcome:
    """One trial: ``(number, state, reason, key metrics)``; state ok, invalid (the strategy refused
    the parameters) or error (the strategy failed during the run)."""
    try:
        strategy = strategies.get(job.strategy)({**job.fixed, **params})
    except ParamError as exc:
        return number, "invalid", str(exc), {}
    span = slice_series(series, job.start_ms, job.end_ms)
    if not span:
        return number, "error", "no candles in the span", {}
    inputs = BacktestInputs(meta.label, span, meta.markets, meta.timeframe_ms, meta.cash_factor)
    result = backtests.run(strategy, inputs, job.settings)
    metrics = key_metrics(result.metrics.to_dict())
    if result.strategy_error:
        return number, "error", result.strategy_error, metrics
    return number, "ok", "", metrics


def run_trials(job: TrialJob, meta: DataMeta, chunk: List[Tuple[int, Dict[str, Any]]],
               arrays: Optional[Dict[str, np.ndarray]] = None) -> List[Outcome]:
    """Evaluate ``chunk`` (``(number, params)`` pairs) in this process; the worker entry point."""
    series = candles_for(meta, arrays)
    return [run_one(job, meta, series, n, p) for n, p in chunk]
