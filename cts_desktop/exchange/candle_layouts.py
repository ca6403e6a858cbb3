"""Which kind of candle file this is: the layouts traders download, recognised from the first lines.

* **Binance public data archive klines** (data.binance.vision): no header, 12 columns (open time,
  open, high, low, close, volume, close time, quote volume, trades, taker buy base volume, taker
  buy quote volume, ignore); open time in ms, in microseconds for spot files since 2025. The
  futures archives add a header row starting ``open_time``; both are read.
* **TradingView chart exports**: ``time,open,high,low,close`` then optional ``Volume`` and
  indicator columns; ``time`` in seconds, or ISO text in some exports.
* **A header with common names**, any case: a time column named ``timestamp``, ``time``,
  ``date``, ``datetime``, ``open_time`` (or ``open time``, ``date_time``, ``unix``); ``open``,
  ``high``, ``low``, ``close`` (or ``o``, ``h``, ``l``, ``c``); ``volume`` (or ``vol``, ``v``, or
  the first column whose name starts with ``volume``, e.g. ``Volume BTC``). Other columns are
  ignored. No volume column: volumes are 0 (and the note says so).
* **No header, 5 or 6+ numbers a row**: time, open, high, low, close[, volume].

The delimiter is a comma, a semicolon or a tab (the most frequent of them in the first line).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from .candle_series import CandleFileError

HEADER = ["timestamp", "open", "high", "low", "close", "volume"]  # this app's own candle CSV
ROLES = ("timestamp", "open", "high", "low", "close", "volume")
TIME_NAMES = ("timestamp", "time", "date", "datetime", "open_time", "open time", "opentime", "date_time",
              "unix", "ts")
PRICE_NAMES = {"open": ("open", "o"), "high": ("high", "h"), "low": ("low", "l"), "close": ("close", "c")}
VOLUME_NAMES = ("volume", "vol", "v")
BINANCE_COLUMNS = 12


@dataclass(frozen=True)
class Layout:
    """How to read one file. ``columns``: 0-based column of time, open, high, low, close and
    volume (None: no volume); ``ncols``: fields a row; ``header_lines``: lines before the first
    candle; ``time_text``: the time column holds ISO text; ``name``: what the file is, for the
    user; ``time_label``: what its time column is called in the note ("open time", "time");
    ``time_float``: the first time is written as a decimal number."""

    name: str
    columns: Tuple[int, int, int, int, int, Optional[int]]
    ncols: int
    header_lines: int
    delimiter: str
    time_text: bool
    time_label: str = "time"
    time_float: bool = False  # numeric times written with a fraction or exponent ("1.6e12")


def _float_text(text: str) -> bool:
    return any(ch in text for ch in ".eE")


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split(line: str, delimiter: str) -> List[str]:
    return [f.strip().strip('"').strip() for f in line.split(delimiter)]


def detect(path: Path, head: str) -> Layout:
    """The layout of a file whose first lines are ``head`` (text). Raises
    :class:`CandleFileError` for an empty file, a header without the needed columns, or rows of
    numbers that match no known layout."""
    lines = [ln for ln in head.lstrip("\ufeff").splitlines() if ln.strip()]
    if not lines:
        raise CandleFileError(path, ["the file is empty"])
    first_line = lines[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    first = _split(first_line, delimiter)
    if all(is_number(f) for f in first if f) and first[0]:
        return _headerless(path, first, delimiter)
    return _with_header(path, first, lines[1] if len(lines) > 1 else "", delimiter)


def _headerless(path: Path, first: List[str], delimiter: str) -> Layout:
    n = len(first)
    if n == BINANCE_COLUMNS:
        return Layout("Binance archive klines (12 columns, no header)", (0, 1, 2, 3, 4, 5), n, 0, delimiter,
                      False, "open time", _float_text(first[0]))
    if n >= 6:
        return Layout(f"CSV without a header ({n} columns, read as time, open, high, low, close, volume)",
                      (0, 1, 2, 3, 4, 5), n, 0, delimiter, False, "time", _float_text(first[0]))
    if n == 5:
        return Layout("CSV without a header (5 columns, read as time, open, high, low, close; no volume)",
                      (0, 1, 2, 3, 4, None), n, 0, delimiter, False, "time", _float_text(first[0]))
    raise CandleFileError(path, [f"line 1: a row of {n} numbers and no header: expected a header row, "
                                 f"12 columns (Binance klines) or time, open, high, low, close[, volume]"])


def _find(names: List[str], wanted: Tuple[str, ...]) -> Optional[int]:
    for i, name in enumerate(names):
        if name in wanted:
            return i
    return None


def _with_header(path: Path, raw: List[str], data_line: str, delimiter: str) -> Layout:
    names = [r.lower() for r in raw]
    t = _find(names, TIME_NAMES)
    prices = {role: _find(names, aliases) for role, aliases in PRICE_NAMES.items()}
    missing = ([] if t is not None else ["a time column (timestamp, time, date, datetime or open_time)"]) + \
        [role for role, i in prices.items() if i is None]
    if missing:
        raise CandleFileError(path, [f"line 1: the header has no {', '.join(missing)} column: missing "
                                     f"{', '.join(missing)} (columns: {', '.join(raw) or 'none'}; expected a time "
                                     f"column and open, high, low, close[, volume])"])
    vol = _find(names, VOLUME_NAMES)
    if vol is None:
        vol = next((i for i, n in enumerate(names) if n.startswith("volume")), None)
    assert t is not None
    o, h, low, c = (prices[r] for r in ("open", "high", "low", "close"))
    assert o is not None and h is not None and low is not None and c is not None
    first_time = _split(data_line, delimiter)[t] if data_line and len(_split(data_line, delimiter)) > t else ""
    time_text = bool(first_time) and not is_number(first_time)
    cols = (t, o, h, low, c, vol)
    if names == HEADER:
        name = "CTS candle CSV (timestamp,open,high,low,close,volume)"
    elif len(names) == BINANCE_COLUMNS and names[0] == "open_time":
        name = "Binance archive klines (12 columns, with header)"
    elif names[t] == "time" and raw[o] == "open" and raw[c] == "close":
        name = "TradingView export (time,open,high,low,close" + (f",{raw[vol]})" if vol is not None else ")")
    else:
        used = [f"{raw[i]} as {role}" for i, role in zip(cols, ("time",) + ROLES[1:], strict=True) if i is not None]
        name = f"CSV with a header ({', '.join(used)})"
    if vol is None:
        name += ", no volume column: volumes set to 0"
    return Layout(name, cols, len(names), 1, delimiter, time_text, "open time" if "open" in names[t] else "time",
                  not time_text and _float_text(first_time))
