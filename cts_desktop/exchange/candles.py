"""Loading and checking candle CSV files (the shared OHLCV format).

Format: a header ``timestamp,open,high,low,close,volume`` then one candle per row;
``timestamp`` is the candle's open time in ms since the epoch, UTC; prices in quote.

Checks, each reported with its 1-based line number (the header is line 1):

* errors (the file is refused, nothing is imported): missing file, wrong or missing column
  names, wrong number of fields, a non-numeric or non-finite value, a price <= 0, a negative
  volume, ``high < low`` or an open/close outside ``[low, high]`` (beyond a relative 1e-9 for
  float noise), a duplicate timestamp, timestamps out of order, a timestamp that is not a whole
  number of milliseconds;
* warnings (the file is usable): gaps, i.e. consecutive candles further apart than the
  timeframe (the timeframe is the most common spacing).

Time unit: a file whose timestamps are in seconds, microseconds (Binance's spot archives since
2025) or nanoseconds is recognised by the size of its first timestamp (:data:`UNITS`: seconds
from 1e9, milliseconds from 1e11, microseconds from 1e14, nanoseconds from 1e17; smaller values
are taken as milliseconds) and converted to milliseconds; ``CandleSeries.unit_note`` then says so
for the caller to show. A row in another unit than the first, or a time that is not a whole
number of milliseconds after conversion, is refused with its line number.
"""
from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple, Union

from ..core.models import TIMEFRAME_MS, Candle

HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
MAX_REPORTED = 10

#: ``(name, smallest timestamp in that unit, milliseconds per unit as (multiplier, divisor))``,
#: largest first. Epoch 2001-09-09 is 1e9 s = 1e12 ms = 1e15 us = 1e18 ns; each band starts a
#: decade early (1973) and ends where the next begins.
UNITS: Tuple[Tuple[str, int, int, int], ...] = (
    ("nanoseconds", 10**17, 1, 10**6),
    ("microseconds", 10**14, 1, 1000),
    ("milliseconds", 10**11, 1, 1),
    ("seconds", 10**9, 1000, 1),
)


class CandleFileError(Exception):
    """The candle file cannot be used. ``problems`` lists ``"line N: what"`` strings."""

    def __init__(self, path: Path, problems: List[str], total: Optional[int] = None):
        self.path = Path(path)
        self.problems = problems
        more = (total or len(problems)) - len(problems)
        text = "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
        super().__init__(f"{self.path.name}: {text}")


@dataclass
class CandleSeries:
    """Candles of one symbol, sorted by time. ``timeframe_ms`` is the most common spacing."""

    path: Path
    candles: List[Candle]
    timeframe_ms: int
    warnings: List[str] = field(default_factory=list)
    gaps: int = 0
    unit_note: str = ""  # set when the file's times were not in ms and were converted (say it to the user)

    @property
    def timeframe(self) -> str:
        for name, ms in TIMEFRAME_MS.items():
            if ms == self.timeframe_ms:
                return name
        return f"{self.timeframe_ms // 1000}s"

    @property
    def start(self) -> int:
        return self.candles[0][0]

    @property
    def end(self) -> int:
        return self.candles[-1][0]


def load_candles_csv(path: Path | str) -> CandleSeries:
    """Read and check a candle CSV. Raises :class:`CandleFileError` listing the problems."""
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise CandleFileError(path, ["file not found"]) from None
    except OSError as exc:
        raise CandleFileError(path, [f"cannot open: {exc.strerror or exc}"]) from None
    problems: List[str] = []
    count = 0

    def bad(line: int, what: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_REPORTED:
            problems.append(f"line {line}: {what}")

    candles: List[Candle] = []
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise CandleFileError(path, ["the file is empty"])
            names = [h.strip().lower() for h in header]
            if names != HEADER:
                raise CandleFileError(path, [f"line 1: header must be {','.join(HEADER)} ({_header_problem(names)})"])
            prev_ts = None
            append = candles.append
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                parsed = _parse_row(row)
                if isinstance(parsed, str):
                    bad(line, parsed)
                    continue
                ts = parsed[0]
                if prev_ts is not None and ts <= prev_ts:
                    bad(line, f"duplicate timestamp {ts}" if ts == prev_ts else
                        f"timestamp {ts} is earlier than the row before ({prev_ts}): rows must be sorted by time")
                    continue
                prev_ts = ts
                append(parsed)
        except csv.Error as exc:
            raise CandleFileError(path, [f"line {reader.line_num}: not valid CSV ({exc})"]) from None
        except UnicodeDecodeError:
            raise CandleFileError(path, ["not a text file (cannot decode as UTF-8)"]) from None
    if problems:
        raise CandleFileError(path, problems, count)
    if len(candles) < 2:
        raise CandleFileError(path, [f"needs at least 2 candles, found {len(candles)}"])
    candles, unit_note = _to_milliseconds(path, candles)
    steps = Counter(candles[i + 1][0] - candles[i][0] for i in range(min(len(candles) - 1, 5000)))
    tf = steps.most_common(1)[0][0]
    warnings, gaps = _gap_warnings(candles, tf)
    return CandleSeries(path, candles, tf, warnings, gaps, unit_note)


def _unit_of(ts: int) -> Tuple[str, int, int]:
    """``(unit name, multiplier, divisor)`` turning timestamp ``ts`` into ms; below 1e9: ms."""
    for name, start, mul, div in UNITS:
        if ts >= start:
            return name, mul, div
    return "milliseconds", 1, 1


def _to_milliseconds(path: Path, candles: List[Candle]) -> Tuple[List[Candle], str]:
    """``candles`` with their times in ms, and the note saying what was converted ("" if none).
    Raises :class:`CandleFileError` for a row in another unit than the first, or a time that is
    not a whole number of ms."""
    unit, mul, div = _unit_of(candles[0][0])
    if candles[0][0] < UNITS[-1][1]:
        return candles, ""  # small synthetic times: taken as ms, nothing to compare with
    problems: List[str] = []
    for i, c in enumerate(candles):
        other = _unit_of(c[0])[0]
        if other != unit:
            problems.append(f"line {i + 2}: timestamp {c[0]} looks like {other}, but the first row's is in {unit}")
        elif div > 1 and c[0] % div:
            problems.append(f"line {i + 2}: timestamp {c[0]} ({unit}) is not a whole number of milliseconds")
        if len(problems) >= MAX_REPORTED:
            break
    if problems:
        raise CandleFileError(path, problems)
    if unit == "milliseconds":
        return candles, ""
    converted = [(c[0] * mul // div, c[1], c[2], c[3], c[4], c[5]) for c in candles]
    note = (f"timestamps are in {unit}, not milliseconds: converted "
            f"({candles[0][0]} {unit} = {converted[0][0]} ms)")
    return converted, note


def _header_problem(names: List[str]) -> str:
    """Why a header row that is not exactly :data:`HEADER` is refused."""
    missing = [h for h in HEADER if h not in names]
    extra = [h for h in names if h not in HEADER]
    detail = []
    if missing:
        detail.append("missing " + ", ".join(missing))
    if extra:
        detail.append("unexpected " + ", ".join(repr(e) for e in extra))
    if not detail:
        detail.append("columns out of order")
    return "; ".join(detail)


def _parse_row(row: List[str]) -> Union[Candle, str]:
    """The candle in one data row, or what is wrong with it (the time order is checked by the caller)."""
    if len(row) != 6:
        return f"expected 6 fields, got {len(row)}"
    try:
        ts_f = float(row[0])
        o, h, low, c, v = float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5])
    except ValueError:
        for name, value in zip(HEADER, row, strict=True):
            try:
                float(value)
            except ValueError:
                return f"{name} is not a number: {value.strip()!r}"
        raise  # pragma: no cover - one of the six values failed to parse above
    isfinite = math.isfinite
    if not (isfinite(ts_f) and isfinite(o) and isfinite(h) and isfinite(low) and isfinite(c) and isfinite(v)):
        return "a value is not finite (nan or inf)"
    if ts_f != int(ts_f) or ts_f < 0:
        return f"timestamp must be whole milliseconds >= 0, got {row[0].strip()}"
    if o <= 0 or h <= 0 or low <= 0 or c <= 0:
        return "prices must be > 0"
    if v < 0:
        return f"volume must be >= 0, got {v:g}"
    tol = h * 1e-9
    if h < low - tol or o > h + tol or c > h + tol or o < low - tol or c < low - tol:
        return f"inconsistent candle: open {o:g}, high {h:g}, low {low:g}, close {c:g}"
    return (int(ts_f), o, h, low, c, v)


def _gap_warnings(candles: List[Candle], tf: int) -> Tuple[List[str], int]:
    """``(warnings, gaps)``: the first :data:`MAX_REPORTED` gaps (spacing other than ``tf``)
    described by line number, and how many gaps there are."""
    warnings: List[str] = []
    gaps = 0
    for i in range(1, len(candles)):
        d = candles[i][0] - candles[i - 1][0]
        if d != tf:
            gaps += 1
            if len(warnings) < MAX_REPORTED:
                warnings.append(f"line {i + 2}: gap of {d // 1000} s before this candle (expected {tf // 1000} s)")
    if gaps > MAX_REPORTED:
        warnings.append(f"and {gaps - MAX_REPORTED} more gaps")
    return warnings, gaps
