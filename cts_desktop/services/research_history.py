"""Exchange history as the data of a study (optimise, walk-forward).

A study's workers read their candles from a file (memory-mapped arrays), so exchange history is
first downloaded (or read from the candle cache: :func:`~.backtests.load_history`, public data,
no key) and kept as a Parquet file under ``<data dir>/history/``; the study then runs on that file
like on any imported one, with the exchange's market type and amount step. The stored study names
the file, so reopening it or re-running its best trial needs no network.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Optional

from ..core.connection import ConnectionConfig
from ..store.db import DB_FILENAME, open_database, proxy
from . import backtests
from .research_data import DataSpec

HISTORY_DIR = "history"


def history_path(data_dir: Path, conn: ConnectionConfig, symbol: str, timeframe: str, since_ms: int,
                 until_ms: int) -> Path:
    """Where the candles of one download are kept: ``<data_dir>/history/<exchange>_<symbol>_<tf>_
    <since>_<until>.parquet`` (times in ms UTC; the symbol's ``/`` and ``:`` made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", symbol).strip("-")
    return Path(data_dir) / HISTORY_DIR / f"{conn.exchange}_{safe}_{timeframe}_{since_ms}_{until_ms}.parquet"


async def history_data(conn: ConnectionConfig, symbol: str, timeframe: str, since_ms: int, until_ms: int,
                       data_dir: Path, progress: Optional[Callable[[int, int], None]] = None, *,
                       cancelled: Optional[Callable[[], bool]] = None) -> DataSpec:
    """Download ``symbol``'s ``timeframe`` candles over ``[since_ms, until_ms)`` (ms UTC) through
    connection ``conn`` (cached pages are not asked for again), keep them as a Parquet file and
    return the :class:`DataSpec` of a study on it. ``progress(done, total)`` counts candles.
    Raises ``HistoryError`` (unknown symbol, nothing in the span), ``GatewayError`` (network,
    exchange), :class:`~.backtests.BacktestInputError` (dates) or ``OSError`` (the file)."""
    from ..exchange.importer import write  # pyarrow: loaded on first use

    bound = proxy.obj
    path = getattr(bound, "database", None)
    own = bound is None or bound.is_closed() or not path or Path(path) != Path(data_dir) / DB_FILENAME
    db = open_database(Path(data_dir)) if own else None  # the candle cache lives in the data dir's database
    try:
        inputs = await backtests.load_history(conn, symbol, timeframe, since_ms, until_ms, progress,
                                              cancelled=cancelled)
    finally:
        if db is not None:
            db.close()
    market = inputs.markets[symbol]
    out = history_path(Path(data_dir), conn, symbol, timeframe, since_ms, until_ms)
    out.parent.mkdir(parents=True, exist_ok=True)
    write(inputs.series[symbol], out)  # type: ignore[arg-type]  # load_history gives columns
    kind = "spot" if market.type == "spot" else "swap"
    return DataSpec(candles=(str(out),), symbols=(symbol,), market_type=kind, amount_step=market.amount_step,
                    start_ms=since_ms, end_ms=until_ms)
