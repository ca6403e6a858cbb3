"""Monte Carlo on a backtest's trades (``cts-desktop montecarlo``): how lucky was the order of the
trades? The resampling and statistics are :mod:`cts_desktop.core.montecarlo`'s; this service
finds the trades and writes the fan chart's data.

Trades come from a run in the database (:func:`trades_from_run`: a backtest run's closed
positions, net P&L in its quote currency, its starting balance), by default the newest backtest
run, or from a trades CSV written by ``cts-desktop backtest --trades`` (:func:`trades_from_csv`:
its ``net_pnl`` column; the starting cash is then given). Bad input raises
:class:`~cts_desktop.services.backtests.BacktestInputError` naming the field (``run``, ``trades``,
``paths``, ``mode``, ``cash``).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Union

from ..core import montecarlo as mc
from ..store import repositories
from ..store.db import Run, open_database
from .backtests import BacktestInputError
from .research_export import write_rows

PathLike = Union[str, Path]


@dataclass
class Trades:
    """The trades to resample: net P&L per closed trade (quote, closing order), the starting equity
    (quote), the currency, and where they came from (text)."""

    pnls: List[float]
    starting_equity: float
    currency: str
    source: str


def trades_from_run(data_dir: Path, run_id: Optional[int] = None) -> Trades:
    """The closed trades of backtest run ``run_id`` (None: the newest backtest run)."""
    db = open_database(data_dir)
    try:
        q = Run.select().where(Run.mode == "backtest")
        run = q.where(Run.id == run_id).first() if run_id is not None else q.order_by(Run.id.desc()).first()
        if run is None:
            what = (f"no backtest run {run_id} in {Path(data_dir)}" if run_id is not None else
                    f"no backtest run yet in {Path(data_dir)} (run cts-desktop backtest first, or give a trades CSV)")
            raise BacktestInputError(f"run: {what}", "run")
        pnls = [p.net_pnl for p in repositories.run_positions(run.id) if p.closed_at is not None]
        return Trades(pnls, run.starting_balance, run.currency, f"run {run.id} ({run.strategy} on {run.dataset})")
    finally:
        db.close()


def trades_from_result(result: Any, source: str = "") -> Trades:
    """The closed trades of a :class:`~cts_desktop.engine.backtest.BacktestResult` in memory (net
    P&L, quote, closing order; its starting balance): a window that has the result needs no
    database read."""
    pnls = [p.net_pnl for p in result.positions if p.closed_at is not None]
    return Trades(pnls, result.starting_balance, result.currency,
                  source or (f"run {result.run_id}" if result.run_id is not None else "the last backtest"))


def trades_from_csv(path: PathLike, cash: float) -> Trades:
    """The ``net_pnl`` column of a trades CSV, ``cash`` the starting equity (quote). Raises
    :class:`BacktestInputError` (field ``trades``) for a missing file or column or a bad number."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if "net_pnl" not in (reader.fieldnames or []):
                raise BacktestInputError(f"trades: {path.name} has no net_pnl column", "trades")
            pnls = []
            for i, row in enumerate(reader, start=2):
                try:
                    pnls.append(float(row["net_pnl"]))
                except (TypeError, ValueError):
                    raise BacktestInputError(f"trades: {path.name} line {i}: net_pnl {row['net_pnl']!r} is not a "
                                             "number", "trades") from None
    except OSError as exc:
        raise BacktestInputError(f"trades: cannot read {path}: {exc.strerror or exc}", "trades") from None
    return Trades(pnls, cash, "", str(path))


def run(trades: Trades, paths: int = 1000, mode: str = mc.BOOTSTRAP, seed: int = 0) -> mc.MonteCarloResult:
    """Resample ``trades`` ``paths`` times (see :func:`cts_desktop.core.montecarlo.run`)."""
    try:
        return mc.run(trades.pnls, trades.starting_equity, paths, mode, seed)
    except ValueError as exc:
        raise BacktestInputError(str(exc), str(exc).split(":")[0]) from None


def write_fan(path: PathLike, result: mc.MonteCarloResult) -> int:
    """The fan chart's data as CSV: ``trade`` (0 = before the first trade) then one equity column per
    percentile (``p5``, ``p25``...; quote). Raises ``OSError``."""
    qs = list(result.fan)
    header = ["trade", *(f"p{q:g}" for q in qs)]
    rows = ([i, *(result.fan[q][i] for q in qs)] for i in range(result.trades + 1))
    return write_rows(path, header, rows)
