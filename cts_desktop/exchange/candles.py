"""Loading and checking candle files: the one entry point, whatever the file's layout.

:func:`load_candles_csv` reads a candle file (CSV, ``.csv.gz``, a ``.zip`` holding one CSV, or
Parquet), recognises its layout (:mod:`.candle_layouts`: this app's own
``timestamp,open,high,low,close,volume`` in ms, Binance archive klines, TradingView exports,
files with a ``Date`` column of ISO text and common header names) and its time unit (s, ms, us,
ns, ISO text), converts times to ms UTC, checks every candle the same way
(:mod:`.candle_checks`) and returns a :class:`CandleSeries` whose ``layout`` says what was
detected. Prices in quote, volume in base.

Checks, each reported with its 1-based line number (the header is line 1):

* errors (the file is refused, nothing is imported): missing file, a header without a time,
  open, high, low or close column, wrong number of fields, a non-numeric or non-finite value, a
  price <= 0, a negative volume, ``high < low`` or an open/close outside ``[low, high]`` (beyond
  a relative 1e-9 for float noise), a duplicate timestamp, timestamps out of order, times in
  mixed units or not a whole number of milliseconds;
* warnings (the file is usable): gaps, i.e. consecutive candles further apart than the
  timeframe (the timeframe is the most common spacing).

The candles are columns (:class:`~cts_desktop.core.columns.CandleColumns`: 48 bytes a candle),
also usable as a sequence of ``(ts_ms, open, high, low, close, volume)`` tuples.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

from .candle_checks import UNITS
from .candle_layouts import HEADER
from .candle_series import MAX_REPORTED, CandleFileError, CandleSeries
from .importer import PARQUET_SUFFIXES, load, write

__all__ = ["HEADER", "MAX_REPORTED", "PARQUET_SUFFIXES", "UNITS", "CandleFileError", "CandleSeries",
           "load_candles", "load_candles_csv", "write_candles"]


def load_candles_csv(path: Union[Path, str]) -> CandleSeries:
    """Read and check a candle file of any supported layout (see the module docstring).
    Raises :class:`CandleFileError` listing the problems with their line numbers."""
    return load(Path(path))


load_candles = load_candles_csv  # the name for callers that also read Parquet


def write_candles(series: CandleSeries, out: Union[Path, str]) -> Path:
    """Write ``series`` to ``out``: Parquet for ``.parquet``/``.pq``, else this app's CSV
    (``timestamp,open,high,low,close,volume``, ms; gzipped for ``.gz``). Returns the path.
    Raises ``OSError`` (nothing half-written is left)."""
    out = Path(out)
    write(series, out)
    return out
