"""Walk-forward analysis: optimise on an in-sample window, test the best on the out-of-sample
window after it, move on; stitch the out-of-sample runs into one equity curve.

Windows come from :func:`cts_desktop.core.windows.walk_forward_windows` on the data's time axis
(ms UTC): rolling (fixed in-sample length) or anchored (the in-sample grows from the start).
Lengths are texts: ``14d``, ``36h``, ``90m``, ``2w`` or a plain number of candles.

Per window: the in-sample search (the study's method, objective and constraints; its trials kept
with the window's index), the best parameters, their out-of-sample run (the strategy warms up
inside the window), the in-sample and out-of-sample objective and their ratio (OOS / IS: 1 is no
degradation, below 1 is worse out of sample; None when undefined). The stitched curve chains the
out-of-sample equity curves, each scaled to start where the previous one ended (the strategies
size by fraction of equity, so this is the compounded account); its metrics are computed from the
curve (total return, max drawdown, Sharpe and Sortino from daily returns) plus the summed trades.
A window without a feasible in-sample trial stays flat (no trading) and says why.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..core.equity_stats import daily_returns, max_drawdown, sharpe_ratio, sortino_ratio
from ..core.objectives import direction, objective_value, ratio
from ..core.windows import Window, walk_forward_windows
from ..store import studies as repo
from ..store.db import open_database
from . import backtests
from .backtests import BacktestInputError, BacktestInputs
from .optimize import ProgressFn, StudyRequest, best_of, search
from .research_data import TrialJob, load_data, slice_series
from .research_pool import StudyCancelled, make_executor

MIN_WINDOW_CANDLES = 50  # fewest candles an in-sample window may hold
UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_span(text: str, timeframe_ms: int, name: str) -> int:
    """A length in ms from ``14d`` / ``36h`` / ``90m`` / ``2w`` / ``500`` (candles of ``timeframe_ms``).
    Raises :class:`BacktestInputError` (field ``name``)."""
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw]?)\s*", str(text))
    if not m or int(m.group(1)) <= 0:
        raise BacktestInputError(f"{name}: expected a length like 14d, 36h, 90m, 2w or a number of candles, "
                                 f"got {text!r}", name)
    n = int(m.group(1))
    return n * (UNITS_MS[m.group(2)] if m.group(2) else timeframe_ms)


def _days(ms: int) -> str:
    return f"{ms / 86_400_000:.1f} days" if ms >= 86_400_000 else f"{ms / 3_600_000:.1f} hours"


@dataclass
class WalkForwardRequest:
    """The search (``study``: method, space, objective, data, workers...) and the windows: lengths
    ``in_sample``, ``out_of_sample``, ``step`` (None: the out-of-sample length), ``anchored``."""

    study: StudyRequest
    in_sample: str
    out_of_sample: str
    step: Optional[str] = None
    anchored: bool = False

    def windows(self, inputs: BacktestInputs) -> List[Window]:
        """The windows over ``inputs``; raises :class:`BacktestInputError` naming the field."""
        tf = inputs.timeframe_ms
        is_ms = parse_span(self.in_sample, tf, "in_sample")
        oos_ms = parse_span(self.out_of_sample, tf, "out_of_sample")
        step_ms = parse_span(self.step, tf, "step") if self.step else None
        if is_ms < MIN_WINDOW_CANDLES * tf:
            raise BacktestInputError(f"in_sample: {self.in_sample} holds {is_ms // tf} candles; at least "
                                     f"{MIN_WINDOW_CANDLES}", "in_sample")
        start = min(cs[0][0] for cs in inputs.series.values())
        end = max(cs[-1][0] for cs in inputs.series.values()) + tf
        if start + is_ms + oos_ms > end:
            raise BacktestInputError(f"in_sample: the first window (in-sample {self.in_sample} + out-of-sample "
                                     f"{self.out_of_sample}) is longer than the data ({_days(end - start)})",
                                     "in_sample")
        try:
            return walk_forward_windows(start, end, is_ms, oos_ms, step_ms, self.anchored)
        except ValueError as exc:
            raise BacktestInputError(str(exc), str(exc).split(":")[0]) from None


@dataclass
class WindowResult:
    """One window's outcome: spans in ms UTC, best in-sample parameters (None: no feasible trial),
    objective in and out of sample, their ratio, the out-of-sample key figures, trial counts."""

    window: Window
    params: Optional[Dict[str, Any]]
    is_value: Optional[float]
    oos_value: Optional[float]
    ratio: Optional[float]
    oos_return: float = 0.0
    oos_trades: int = 0
    trials: int = 0
    feasible: int = 0
    note: str = ""


@dataclass
class WalkForwardResult:
    """The stitched out-of-sample result: ``curve`` ``[(ms, equity quote)]``, ``metrics`` (total_return,
    max_drawdown fractions; sharpe, sortino; trades; final_equity quote), per-window results."""

    study_id: int
    objective: str
    windows: List[WindowResult]
    curve: List[Tuple[int, float]]
    metrics: Dict[str, Any]
    state: str = "finished"
    elapsed_s: float = 0.0
    workers: int = 1
    engine: str = "local"
    currency: str = ""
    mean_ratio: Optional[float] = field(default=None)


def _stitch(pieces: List[List[Tuple[int, float]]], start: float) -> List[Tuple[int, float]]:
    out: List[Tuple[int, float]] = []
    level = start
    for curve in pieces:
        if not curve:
            continue
        scale = level / start
        out += [(ts, eq * scale) for ts, eq in curve]
        level = out[-1][1]
    return out


def curve_metrics(curve: List[Tuple[int, float]], start: float, trades: int) -> Dict[str, Any]:
    """Total return, max drawdown, Sharpe, Sortino of a stitched curve (see the module doc)."""
    final = curve[-1][1] if curve else start
    rets = daily_returns(curve, start)
    return {"total_return": final / start - 1.0, "max_drawdown": max_drawdown(curve, start)[0],
            "sharpe": sharpe_ratio(rets), "sortino": sortino_ratio(rets), "trades": trades, "final_equity": final}


def _oos(req: StudyRequest, inputs: BacktestInputs, w: Window, params: Dict[str, Any]
         ) -> Tuple[Optional[float], backtests.BacktestResult]:
    span = slice_series(inputs.series, w.oos_start, w.oos_end)
    sliced = BacktestInputs(inputs.label, span, inputs.markets, inputs.timeframe_ms, inputs.cash_factor)
    run = backtests.run(backtests.make_strategy(req.strategy, params), sliced, req.settings)
    m = run.metrics.to_dict()
    return objective_value(m, req.objective), run


def run_walkforward(wf: WalkForwardRequest, data_dir: Path, *, progress: Optional[ProgressFn] = None,
                    cancelled: Optional[Callable[[], bool]] = None) -> WalkForwardResult:
    """Run every window (the searches on the executor, the out-of-sample runs here) and keep the
    study (kind ``walkforward``) in ``data_dir``'s database. Raises what :func:`~.optimize.run_study`
    raises; a cancelled analysis is kept with the windows that finished."""
    req = wf.study
    space = req.check()
    inputs = load_data(req.data, req.settings.fee)
    windows = wf.windows(inputs)
    how = direction(req.objective)
    per_window = space.grid_size() if req.method == "grid" else req.n_trials
    total = per_window * len(windows)
    start_cash = req.settings.cash * inputs.cash_factor
    db = open_database(data_dir)
    results: List[WindowResult] = []
    pieces: List[List[Tuple[int, float]]] = []
    trades, state, t0 = 0, "finished", time.perf_counter()
    try:
        sid = repo.create_study("walkforward", req.strategy, inputs.label, req.method, req.objective, how,
                                {**req.to_json(), "in_sample": wf.in_sample, "out_of_sample": wf.out_of_sample,
                                 "step": wf.step, "anchored": wf.anchored})
        with make_executor(req.workers, req.ray) as ex:
            ex.open(inputs)
            for w in windows:
                base = len(results) * per_window

                def tick(done: int, _total: int, _eta: Optional[float], base: int = base) -> None:
                    if progress is not None:
                        el = time.perf_counter() - t0
                        progress(base + done, total, el / (base + done) * (total - base - done) if base + done else None)

                job = TrialJob(req.strategy, space.fixed, req.settings, w.is_start, w.is_end)
                try:
                    trials = search(req, space, ex, job, window=w.index, on_batch=lambda r: repo.add_trials(sid, r),
                                    progress=tick, cancelled=cancelled)
                except StudyCancelled:
                    state = "cancelled"
                    break
                best = best_of(trials, how)
                res = WindowResult(w, None, None, None, None, trials=len(trials),
                                   feasible=sum(t.state == "ok" for t in trials))
                if best is None:
                    res.note = "no feasible in-sample trial: flat"
                else:
                    res.params = {**space.fixed, **best.params}
                    res.is_value = best.value
                    res.oos_value, run = _oos(req, inputs, w, res.params)
                    res.ratio = ratio(res.oos_value, res.is_value)
                    res.oos_return = run.metrics.total_return
                    res.oos_trades = run.metrics.trades
                    trades += run.metrics.trades
                    pieces.append(run.curve)
                results.append(res)
            workers, engine = ex.workers, ex.engine
        curve = _stitch(pieces, start_cash)
        metrics = curve_metrics(curve, start_cash, trades)
        ratios = [r.ratio for r in results if r.ratio is not None]
        mean_ratio = sum(ratios) / len(ratios) if ratios else None
        elapsed = time.perf_counter() - t0
        summary = {"elapsed_s": elapsed, "workers": workers, "engine": engine, "metrics": metrics,
                   "mean_ratio": mean_ratio, "windows": [window_json(r) for r in results]}
        repo.finish_study(sid, state, None, summary)
    finally:
        db.close()
    return WalkForwardResult(sid, req.objective, results, curve, metrics, state, elapsed, workers, engine,
                             inputs.quote, mean_ratio)


def window_json(r: WindowResult) -> Dict[str, Any]:
    """A window result as plain data (stored in the study's summary, exported as CSV)."""
    w = r.window
    return {"window": w.index, "is_start": w.is_start, "is_end": w.is_end, "oos_start": w.oos_start,
            "oos_end": w.oos_end, "params": r.params, "is_value": r.is_value, "oos_value": r.oos_value,
            "ratio": r.ratio, "oos_return": r.oos_return, "oos_trades": r.oos_trades, "trials": r.trials,
            "feasible": r.feasible, "note": r.note}
