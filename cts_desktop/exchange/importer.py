"""Reading candle files into columns: CSV (plain, ``.gz``, or the one CSV inside a ``.zip``) and
Parquet, in any layout :mod:`.candle_layouts` recognises; writing Parquet and CSV.

A small numeric CSV (every shipped replay dataset) is read by numpy alone
(:func:`.candle_read.read_small`); bigger ones go through pyarrow's multi-threaded reader straight
into numpy arrays (about 1 s for 5 million candles here; :mod:`.candle_arrow`, which is the only
module that imports pyarrow, and only when a file needs it). The checks of :mod:`.candle_checks`
run on the arrays. When neither can read a row (a field that is not a number, a row with too many
or too few fields, an empty value), the file is read again row by row, only to name the lines at fault.

Line numbers are 1-based and count the header; blank lines are skipped by the fast readers, so
a file with blank lines between candles may have its later line numbers off by those lines
(the row-by-row reader counts them). Parquet has no lines: "line N" there is row N (from 1).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from ..core.columns import CandleColumns
from .candle_checks import LineMap, Problems, checked, gap_warnings, numeric_times_to_ms, timeframe_of
from .candle_layouts import ROLES, Layout, detect, is_number
from .candle_read import PARQUET_SUFFIXES, NeedsRows, Read, Times, open_bytes, read_small
from .candle_series import MAX_REPORTED, CandleFileError, CandleSeries

HEAD_BYTES = 64 * 1024


def load(path: Path) -> CandleSeries:
    """Read and check one candle file (see the module docstring). Raises :class:`CandleFileError`."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        from .candle_arrow import read_parquet

        return _finish(path, *read_parquet(path))
    head = _head(path)
    layout = detect(path, head)
    read = read_small(path, layout)
    if read is None:
        from .candle_arrow import read_csv

        try:
            read = read_csv(path, layout, len(head.encode()) / max(head.count("\n"), 1))
        except NeedsRows:
            read = _read_rows(path, layout)
    times, values, lines = read
    return _finish(path, layout.name, layout.time_label, times, values, lines)


def _head(path: Path) -> str:
    try:
        with open_bytes(path) as fh:
            data = fh.read(HEAD_BYTES)
    except (OSError, EOFError) as exc:  # a damaged .gz
        raise CandleFileError(path, [f"cannot read: {exc}"]) from None
    if len(data) == HEAD_BYTES:
        data = data[: data.rfind(b"\n") + 1] or data
    if b"\x00" in data:
        raise CandleFileError(path, ["not a text file (it holds NUL bytes)"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CandleFileError(path, ["not a text file (cannot decode as UTF-8)"]) from None


# -- the row-by-row reader (names the lines at fault) ----------------------------------------
def _read_rows(path: Path, layout: Layout) -> Read:
    problems = Problems()
    rows: List[Tuple[float, ...]] = []
    lines: List[int] = []
    zoned = True
    with io.TextIOWrapper(open_bytes(path), encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=layout.delimiter)
        try:
            for line, row in enumerate(reader, start=1):
                if line <= layout.header_lines or not row:
                    continue
                if len(row) != layout.ncols:
                    problems.add(line, f"expected {layout.ncols} fields, got {len(row)}")
                    continue
                parsed: List[float] = []
                for role, i in zip(ROLES, layout.columns, strict=True):
                    text = row[i].strip() if i is not None else "0"
                    if role == "timestamp" and layout.time_text:
                        ms, has_zone = _iso_one(text)
                        zoned = zoned and has_zone
                        if ms is None:
                            problems.add(line, f"timestamp is not an ISO date and time: {text!r}")
                            break
                        parsed.append(float(ms))
                    elif is_number(text):
                        parsed.append(float(text))
                    else:
                        problems.add(line, f"{role} is not a number: {text!r}")
                        break
                else:
                    rows.append(tuple(parsed))
                    lines.append(line)
        except csv.Error as exc:
            raise CandleFileError(path, [f"line {reader.line_num}: not valid CSV ({exc})"]) from None
        except UnicodeDecodeError:
            raise CandleFileError(path, ["not a text file (cannot decode as UTF-8)"]) from None
    problems.raise_if_any(path)
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), 6)
    raw_time: np.ndarray = arr[:, 0]
    if layout.time_text:
        times = Times(raw_time.astype(np.int64), zoned)
    elif np.all(raw_time == np.floor(raw_time)) and np.all(np.abs(raw_time) < 2.0**53):
        times = Times(raw_time.astype(np.int64))
    else:
        times = Times(raw_time)
    return times, tuple(np.ascontiguousarray(arr[:, i]) for i in range(1, 6)), np.array(lines)


def _iso_one(text: str) -> Tuple[Optional[int], bool]:
    """``(ms UTC, had a zone)`` of one ISO text time (no zone: taken as UTC); ``(None, True)``
    when it is not one."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None, True
    zoned = dt.tzinfo is not None
    if not zoned:
        dt = dt.replace(tzinfo=timezone.utc)
    return round(dt.timestamp() * 1000), zoned


# -- the checks and the series ---------------------------------------------------------------
def _finish(path: Path, layout_name: str, time_label: str, times: Times,
            values: Tuple[np.ndarray, ...], lines: LineMap) -> CandleSeries:
    problems = Problems()
    raw_time = times.raw
    if times.iso is not None:
        ts = np.asarray(raw_time, dtype=np.int64)
        how = "with a zone, converted to ms UTC" if times.iso else "without a zone, taken as UTC, converted to ms"
        time_note, unit_note = f"{time_label} as ISO text {how}", ""
    else:
        ts, unit = numeric_times_to_ms(raw_time, lines, problems)
        if unit == "milliseconds":
            time_note, unit_note = f"{time_label} in milliseconds", ""
        else:
            time_note = f"{time_label} in {unit}, converted to ms"
            unit_note = (f"timestamps are in {unit}, not milliseconds: converted "
                         f"({int(raw_time[0])} {unit} = {int(ts[0])} ms)")
    columns = checked(path, ts, values, lines, problems)
    tf = timeframe_of(columns.ts)
    warnings, gaps = gap_warnings(columns.ts, tf, lines)
    return CandleSeries(path, columns, tf, warnings, gaps, unit_note, f"{layout_name}, {time_note}")


def write(series_or_columns: Union[CandleSeries, CandleColumns], out: Path) -> None:
    """Write candles to ``out``: Parquet (``.parquet``/``.pq``: int64 ``timestamp`` in ms and
    float64 ``open, high, low, close, volume``) or this app's CSV (any other suffix; ``.gz``
    compressed). Raises ``OSError``; nothing half-written is left."""
    from .candle_arrow import write as write_arrow

    write_arrow(series_or_columns.candles if isinstance(series_or_columns, CandleSeries) else series_or_columns, out)


__all__ = ["MAX_REPORTED", "PARQUET_SUFFIXES", "load", "write"]
