"""Monte Carlo on a backtest's trades: resample the trade sequence, measure each resampled path.

A path starts at ``starting_equity`` and adds the trades' **net** P&L (quote currency) one after
the other: ``equity[0] = starting_equity``, ``equity[i] = equity[i-1] + pnl[i-1]`` (additive; the
amounts are the trades' own, not re-sized). Two ways to resample, both seeded
(``numpy.random.default_rng(seed)``, so the same seed gives the same paths):

* ``bootstrap``: each path draws as many trades as the run had, *with* replacement;
* ``shuffle``: each path is a permutation of the trades (*without* replacement): the final
  equity is the same on every path; drawdown and losing streaks are what vary.

Per path: final equity (quote), max drawdown (fraction of the running peak, the starting equity
counting as the first peak, as in :func:`cts_desktop.core.equity_stats.max_drawdown`) and the
longest run of losing trades (net P&L < 0). Percentiles use numpy's default (linear
interpolation between order statistics). Pure: numpy and the standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import numpy as np

BOOTSTRAP = "bootstrap"
SHUFFLE = "shuffle"
MODES = (BOOTSTRAP, SHUFFLE)
DEFAULT_PERCENTILES = (5.0, 50.0, 95.0)
FAN_PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)


def resample(pnls: Sequence[float], n_paths: int, mode: str, seed: int) -> np.ndarray:
    """``(n_paths, len(pnls))`` array of resampled trade P&Ls. Raises ``ValueError`` naming the field
    (``mode``, ``paths``, ``trades``)."""
    if mode not in MODES:
        raise ValueError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
    if n_paths < 1:
        raise ValueError(f"paths: must be >= 1, got {n_paths}")
    values = np.asarray(pnls, dtype=np.float64)
    n = len(values)
    if n < 1:
        raise ValueError("trades: the run has no closed trades to resample")
    rng = np.random.default_rng(seed)
    if mode == BOOTSTRAP:
        idx = rng.integers(0, n, size=(n_paths, n))
    else:
        idx = rng.permuted(np.tile(np.arange(n), (n_paths, 1)), axis=1)
    return values[idx]


def equity_paths(pnl_paths: np.ndarray, starting_equity: float) -> np.ndarray:
    """``(paths, trades + 1)`` equity after each trade, column 0 the starting equity."""
    paths = np.empty((pnl_paths.shape[0], pnl_paths.shape[1] + 1))
    paths[:, 0] = starting_equity
    np.cumsum(pnl_paths, axis=1, out=paths[:, 1:])
    paths[:, 1:] += starting_equity
    return paths


def max_drawdowns(paths: np.ndarray) -> np.ndarray:
    """Largest fall from the running peak per path, as a fraction of that peak (0 when it never
    falls; peaks <= 0 count as a total loss, 1.0)."""
    peaks = np.maximum.accumulate(paths, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peaks > 0, (peaks - paths) / peaks, 1.0)
    return dd.max(axis=1)


def losing_streaks(pnl_paths: np.ndarray) -> np.ndarray:
    """Longest run of consecutive losing trades (P&L < 0) per path, as integers."""
    current = np.zeros(pnl_paths.shape[0], dtype=np.int64)
    best = np.zeros_like(current)
    for col in pnl_paths.T:
        current = np.where(col < 0, current + 1, 0)
        np.maximum(best, current, out=best)
    return best


def percentiles(values: np.ndarray, qs: Sequence[float] = DEFAULT_PERCENTILES) -> Dict[float, float]:
    """``{q: value}`` for each percentile ``q`` (0-100)."""
    return {float(q): float(v) for q, v in zip(qs, np.percentile(values, list(qs)), strict=True)}


@dataclass
class MonteCarloResult:
    """The distribution of ``paths`` resampled paths. Money in quote, drawdowns fractions.

    ``final_equity``, ``max_drawdown``, ``losing_streak``: percentile -> value; ``actual_*``: the
    same figures for the trades in their real order; ``fan``: percentile -> equity after each trade
    index (``trades + 1`` values, index 0 the starting equity), for a fan chart."""

    mode: str
    seed: int
    paths: int
    trades: int
    starting_equity: float
    final_equity: Dict[float, float]
    max_drawdown: Dict[float, float]
    losing_streak: Dict[float, float]
    actual_final_equity: float
    actual_max_drawdown: float
    actual_losing_streak: int
    fan: Dict[float, List[float]] = field(default_factory=dict, repr=False)
    prob_loss: float = 0.0  # fraction of paths ending below the starting equity


def run(pnls: Sequence[float], starting_equity: float, n_paths: int = 1000, mode: str = BOOTSTRAP, seed: int = 0,
        qs: Sequence[float] = DEFAULT_PERCENTILES, fan_qs: Sequence[float] = FAN_PERCENTILES) -> MonteCarloResult:
    """Resample ``pnls`` (net P&L per trade, quote, in trade order) ``n_paths`` times and summarise.
    Raises ``ValueError`` naming the field (see :func:`resample`; ``cash`` when the starting equity
    is not positive)."""
    if not starting_equity > 0:
        raise ValueError(f"cash: the starting equity must be > 0, got {starting_equity:g}")
    sampled = resample(pnls, n_paths, mode, seed)
    paths = equity_paths(sampled, starting_equity)
    actual_pnl = np.asarray(pnls, dtype=np.float64)[None, :]
    actual = equity_paths(actual_pnl, starting_equity)
    finals = paths[:, -1]
    fan = np.percentile(paths, list(fan_qs), axis=0)
    return MonteCarloResult(
        mode=mode, seed=seed, paths=n_paths, trades=len(pnls), starting_equity=starting_equity,
        final_equity=percentiles(finals, qs), max_drawdown=percentiles(max_drawdowns(paths), qs),
        losing_streak=percentiles(losing_streaks(sampled), qs),
        actual_final_equity=float(actual[0, -1]), actual_max_drawdown=float(max_drawdowns(actual)[0]),
        actual_losing_streak=int(losing_streaks(actual_pnl)[0]),
        fan={float(q): [float(x) for x in row] for q, row in zip(fan_qs, fan, strict=True)},
        prob_loss=float(np.mean(finals < starting_equity)),
    )
