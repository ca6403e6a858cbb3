"""The one set of checks every candle file goes through, whatever its layout, on columns (numpy).

Each problem is reported with the 1-based line number of its row in the file; ``lines`` maps a
row to its line. Errors (the file is refused): a non-finite value, a timestamp that is not a
whole number >= 0, a price <= 0, a negative volume, ``high < low`` or an open/close outside
``[low, high]`` (beyond a relative 1e-9 for float noise), a duplicate timestamp, a timestamp
earlier than the row before, timestamps in mixed units or not a whole number of ms once
converted. Warnings (the file is usable): gaps, i.e. consecutive candles further apart than
the timeframe (the most common spacing).

Time unit of numeric times (:data:`UNITS`): recognised by the size of the first timestamp:
seconds from 1e9, milliseconds from 1e11, microseconds from 1e14 (Binance's spot archives since
2025), nanoseconds from 1e17; smaller values are taken as milliseconds (synthetic data).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Tuple, Union

import numpy as np

from ..core.columns import CandleColumns
from .candle_series import MAX_REPORTED, CandleFileError

#: ``(name, smallest timestamp in that unit, milliseconds per unit as (multiplier, divisor))``,
#: largest first. Epoch 2001-09-09 is 1e9 s = 1e12 ms = 1e15 us = 1e18 ns; each band starts a
#: decade early (1973) and ends where the next begins.
UNITS: Tuple[Tuple[str, int, int, int], ...] = (
    ("nanoseconds", 10**17, 1, 10**6),
    ("microseconds", 10**14, 1, 1000),
    ("milliseconds", 10**11, 1, 1),
    ("seconds", 10**9, 1000, 1),
)
_BANDS = np.array([u[1] for u in reversed(UNITS)], dtype=np.int64)  # 1e9, 1e11, 1e14, 1e17
_BAND_UNITS = ("milliseconds",) + tuple(u[0] for u in reversed(UNITS))  # index from searchsorted


class Lines:
    """The line number of row ``r`` when the rows follow each other from line ``first`` (no
    array of 8 bytes a row kept just for the messages)."""

    __slots__ = ("first",)

    def __init__(self, first: int):
        self.first = first

    def __getitem__(self, r: int) -> int:
        return self.first + int(r)


LineMap = Union[Lines, np.ndarray]  # row -> 1-based line in the file
Describe = Callable[[int], str]  # row index -> what is wrong with it


class Problems:
    """Line-numbered problems, sorted by line; keeps the first :data:`MAX_REPORTED` of each kind
    found and counts them all."""

    def __init__(self) -> None:
        self.items: List[Tuple[int, str]] = []
        self.total = 0

    def add(self, line: int, what: str) -> None:
        self.total += 1
        self.items.append((line, what))

    def add_rows(self, mask: np.ndarray, lines: LineMap, describe: Describe, offset: int = 0) -> None:
        """One problem per row where ``mask`` is true (``mask[i]`` is row ``offset + i``);
        ``describe(row)`` says what is wrong."""
        rows = np.flatnonzero(mask)
        self.total += len(rows)
        for r in (rows[:MAX_REPORTED] + offset).tolist():
            self.items.append((int(lines[r]), describe(r)))

    def raise_if_any(self, path: Path) -> None:
        """Raises :class:`CandleFileError` with the first problems by line, if there are any."""
        if self.total:
            first = sorted(self.items)[:MAX_REPORTED]
            raise CandleFileError(path, [f"line {line}: {what}" for line, what in first], self.total)


CHUNK = 1 << 20  # rows checked at a time: the temporaries stay at a few MB, not 8 bytes a row each


def check_values(path: Path, ts: np.ndarray, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
                 v: np.ndarray, lines: LineMap, problems: Problems) -> None:
    """The per-row checks (finite, prices > 0, volume >= 0, consistent candle) and the time
    order; ``ts`` already in ms (int64). Adds to ``problems``; raises nothing itself."""
    for a in range(0, len(ts), CHUNK):
        _check_chunk(a, min(a + CHUNK, len(ts)), ts, o, h, low, c, v, lines, problems)


def _check_chunk(a: int, b: int, ts: np.ndarray, o_: np.ndarray, h_: np.ndarray, low_: np.ndarray,
                 c_: np.ndarray, v_: np.ndarray, lines: LineMap, problems: Problems) -> None:
    o, h, low, c, v = o_[a:b], h_[a:b], low_[a:b], c_[a:b], v_[a:b]
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(low) & np.isfinite(c) & np.isfinite(v)
    problems.add_rows(~finite, lines, lambda r: "a value is not finite (nan or inf)", a)
    with np.errstate(invalid="ignore"):
        price_bad = finite & ((o <= 0) | (h <= 0) | (low <= 0) | (c <= 0))
        problems.add_rows(price_bad, lines, lambda r: "prices must be > 0", a)
        vol_bad = finite & ~price_bad & (v < 0)
        problems.add_rows(vol_bad, lines, lambda r: f"volume must be >= 0, got {v_[r]:g}", a)
        tol = h * 1e-9
        ok = finite & ~price_bad & ~vol_bad
        incons = ok & ((h < low - tol) | (o > h + tol) | (c > h + tol) | (o < low - tol) | (c < low - tol))
    problems.add_rows(incons, lines, lambda r: f"inconsistent candle: open {o_[r]:g}, high {h_[r]:g}, "
                                               f"low {low_[r]:g}, close {c_[r]:g}", a)
    if b - max(a - 1, 0) >= 2:  # the order: each row against the one before (across chunks too)
        d = np.diff(ts[max(a - 1, 0):b])
        first = a if a > 0 else 1
        problems.add_rows(d == 0, lines, lambda r: f"duplicate timestamp {ts[r]}", first)
        problems.add_rows(d < 0, lines, lambda r: f"timestamp {ts[r]} is earlier than the row before "
                                                  f"({ts[r - 1]}): rows must be sorted by time", first)


def numeric_times_to_ms(raw: np.ndarray, lines: LineMap, problems: Problems) -> Tuple[np.ndarray, str]:
    """Numeric times (int64, or float64 holding whole numbers) in ms, and the unit they were in
    (``"milliseconds"`` when nothing was converted). Adds a problem for a time that is not a
    whole number >= 0, a row in another unit than the first, or a time that is not a whole ms."""
    if raw.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(raw) | (raw < 0) | (raw != np.floor(raw)) | (raw >= 2.0**63)
        problems.add_rows(bad, lines, lambda r: f"timestamp must be a whole number >= 0, got {raw[r]!r}")
        ts = np.where(bad, 0, raw).astype(np.int64)
    else:
        ts = raw.astype(np.int64, copy=False)
        bad = ts < 0
        problems.add_rows(bad, lines, lambda r: f"timestamp must be a whole number >= 0, got {ts[r]}")
    if len(ts) == 0 or ts[0] < _BANDS[0]:
        return ts, "milliseconds"  # small synthetic times: taken as ms, nothing to compare with
    band = np.searchsorted(_BANDS, ts, side="right")
    first = int(band[0])
    unit = _BAND_UNITS[first]
    problems.add_rows((band != first) & ~bad, lines, lambda r: f"timestamp {ts[r]} looks like "
                      f"{_BAND_UNITS[int(band[r])]}, but the first row's is in {unit}")
    mul, div = next((m, d) for name, _s, m, d in UNITS if name == unit)
    if div > 1:
        problems.add_rows((ts % div != 0) & (band == first), lines,
                          lambda r: f"timestamp {ts[r]} ({unit}) is not a whole number of milliseconds")
        return ts // div, unit
    return (ts * mul if mul > 1 else ts), unit


def timeframe_of(ts: np.ndarray) -> int:
    """The most common spacing (ms) among the first 5000 steps."""
    d = np.diff(ts[:5001])
    values, counts = np.unique(d, return_counts=True)
    return int(values[np.argmax(counts)])


def gap_warnings(ts: np.ndarray, tf: int, first_line: LineMap) -> Tuple[List[str], int]:
    """``(warnings, gaps)``: the first :data:`MAX_REPORTED` gaps (a spacing other than ``tf``)
    described by line number, and how many gaps there are. ``first_line``: line of each row."""
    d = np.diff(ts)
    rows = np.flatnonzero(d != tf) + 1
    warnings = [f"line {int(first_line[r])}: gap of {int(d[r - 1]) // 1000} s before this candle "
                f"(expected {tf // 1000} s)" for r in rows[:MAX_REPORTED].tolist()]
    if len(rows) > MAX_REPORTED:
        warnings.append(f"and {len(rows) - MAX_REPORTED} more gaps")
    return warnings, len(rows)


def checked(path: Path, ts_ms: np.ndarray, values: Tuple[np.ndarray, ...], lines: LineMap,
            problems: Problems) -> CandleColumns:
    """Runs :func:`check_values`, raises :class:`CandleFileError` for any problem so far, and
    returns the columns. Needs at least 2 candles."""
    o, h, low, c, v = values
    check_values(path, ts_ms, o, h, low, c, v, lines, problems)
    problems.raise_if_any(path)
    if len(ts_ms) < 2:
        raise CandleFileError(path, [f"needs at least 2 candles, found {len(ts_ms)}"])
    return CandleColumns(ts_ms, o, h, low, c, v)
