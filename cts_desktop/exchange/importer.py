"""Reading candle files into columns: CSV (plain, ``.gz``, or the one CSV inside a ``.zip``) and
Parquet, in any layout :mod:`.candle_layouts` recognises; writing Parquet and CSV.

CSV goes through pyarrow's multi-threaded reader straight into numpy arrays (about 1 s for 5
million candles here); the checks of :mod:`.candle_checks` run on the arrays. When pyarrow
cannot read a row (a field that is not a number, a row with too many or too few fields, an
empty value), the file is read again row by row, only to name the lines at fault.

Line numbers are 1-based and count the header; blank lines are skipped by the fast reader, so
a file with blank lines between candles may have its later line numbers off by those lines
(the row-by-row reader counts them). Parquet has no lines: "line N" there is row N (from 1).
"""
from __future__ import annotations

import csv
import gzip
import io
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, List, NamedTuple, Optional, Tuple, Union, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from ..core.columns import CandleColumns
from .candle_checks import Problems, checked, gap_warnings, numeric_times_to_ms, timeframe_of
from .candle_layouts import HEADER, ROLES, Layout, detect, is_number
from .candle_series import MAX_REPORTED, CandleFileError, CandleSeries

HEAD_BYTES = 64 * 1024
PARQUET_SUFFIXES = (".parquet", ".pq")
Source = Union[str, IO[bytes]]


def load(path: Path) -> CandleSeries:
    """Read and check one candle file (see the module docstring). Raises :class:`CandleFileError`."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _load_parquet(path)
    head = _head(path)
    layout = detect(path, head)
    try:
        times, values, lines = _read_fast(path, layout)
    except (pa.ArrowInvalid, _NeedsRows):
        times, values, lines = _read_rows(path, layout)
    return _finish(path, layout.name, layout.time_label, times, values, lines)


class _NeedsRows(Exception):
    """The fast reader read something it cannot name the line of (an empty value)."""


# -- opening ---------------------------------------------------------------------------------
def _open(path: Path) -> IO[bytes]:
    """The file's bytes: plain, gunzipped, or the one CSV member of a zip."""
    try:
        if path.suffix.lower() == ".gz":
            return cast(IO[bytes], gzip.open(path, "rb"))
        if path.suffix.lower() == ".zip":
            zf = zipfile.ZipFile(path)
            members = [n for n in zf.namelist() if not n.endswith("/")]
            csvs = [n for n in members if n.lower().endswith((".csv", ".txt"))] or members
            if len(csvs) != 1:
                raise CandleFileError(path, [f"the zip file holds {len(csvs)} files; expected one CSV "
                                             f"({', '.join(csvs[:5]) or 'empty'})"])
            return zf.open(csvs[0])
        return open(path, "rb")
    except FileNotFoundError:
        raise CandleFileError(path, ["file not found"]) from None
    except zipfile.BadZipFile:
        raise CandleFileError(path, ["not a valid zip file"]) from None
    except OSError as exc:
        raise CandleFileError(path, [f"cannot open: {exc.strerror or exc}"]) from None


def _head(path: Path) -> str:
    try:
        with _open(path) as fh:
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


# -- the fast reader -------------------------------------------------------------------------
class _Times(NamedTuple):
    """The time column as read: ``raw`` numbers (any unit) or, when ``iso`` is not None, ms UTC
    parsed from ISO text (``iso``: every time carried a zone, Z or an offset)."""

    raw: np.ndarray
    iso: Optional[bool] = None


Read = Tuple[_Times, Tuple[np.ndarray, ...], np.ndarray]  # times, (o, h, l, c, v), line of each row


def _read_fast(path: Path, layout: Layout) -> Read:
    names = [f"c{i}" for i in range(layout.ncols)]
    used = [i for i in layout.columns if i is not None]
    types = {names[i]: pa.float64() for i in layout.columns[1:] if i is not None}
    if layout.time_text:
        types[names[layout.columns[0]]] = pa.string()
    source: Source = str(path) if path.suffix.lower() != ".zip" else _open(path)
    table = pv.read_csv(
        source,
        read_options=pv.ReadOptions(column_names=names, skip_rows=layout.header_lines, block_size=1 << 24),
        parse_options=pv.ParseOptions(delimiter=layout.delimiter),
        convert_options=pv.ConvertOptions(include_columns=[names[i] for i in used], column_types=types),
    )
    if any(table.column(names[i]).null_count for i in used):
        raise _NeedsRows
    time_col = table.column(names[layout.columns[0]])
    if pa.types.is_string(time_col.type) or pa.types.is_large_string(time_col.type):
        if not layout.time_text:
            raise _NeedsRows  # a time that is not a number below the first row
        times = _iso_fast(time_col)
    else:
        times = _Times(time_col.to_numpy())
    n = table.num_rows
    vol = layout.columns[5]
    values = tuple(table.column(names[i]).to_numpy() for i in layout.columns[1:5]) + (
        table.column(names[vol]).to_numpy() if vol is not None else np.zeros(n),)
    del table
    return times, values, np.arange(layout.header_lines + 1, layout.header_lines + 1 + n)


def _iso_fast(col: pa.ChunkedArray) -> _Times:
    for zoned, typ in ((True, pa.timestamp("ms", "UTC")), (False, pa.timestamp("ms"))):
        try:
            ms = pc.cast(col, typ).cast(pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return _Times(ms, zoned)
    raise _NeedsRows


# -- the row-by-row reader (names the lines at fault) ----------------------------------------
def _read_rows(path: Path, layout: Layout) -> Read:
    problems = Problems()
    rows: List[Tuple[float, ...]] = []
    lines: List[int] = []
    zoned = True
    with io.TextIOWrapper(_open(path), encoding="utf-8", newline="") as fh:
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
        times = _Times(raw_time.astype(np.int64), zoned)
    elif np.all(raw_time == np.floor(raw_time)) and np.all(np.abs(raw_time) < 2.0**53):
        times = _Times(raw_time.astype(np.int64))
    else:
        times = _Times(raw_time)
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
def _finish(path: Path, layout_name: str, time_label: str, times: _Times,
            values: Tuple[np.ndarray, ...], lines: np.ndarray) -> CandleSeries:
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


# -- Parquet ---------------------------------------------------------------------------------
def _load_parquet(path: Path) -> CandleSeries:
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise CandleFileError(path, ["file not found"]) from None
    except (pa.ArrowException, OSError) as exc:
        raise CandleFileError(path, [f"not a readable Parquet file ({exc})"]) from None
    header = ",".join(table.column_names)
    layout = detect(path, header + "\n")
    if layout.header_lines == 0:
        raise CandleFileError(path, [f"no column names to read ({header})"])
    names = table.column_names
    cols = []
    for i in layout.columns[1:5]:
        col = table.column(names[i])
        cols.append(pc.cast(col, pa.float64()).to_numpy() if col.null_count == 0 else None)
    vol = layout.columns[5]
    cols.append(np.zeros(table.num_rows) if vol is None else pc.cast(table.column(names[vol]), pa.float64())
                .fill_null(float("nan")).to_numpy())
    if any(c is None for c in cols):
        raise CandleFileError(path, ["a price column has empty values"])
    time_col = table.column(names[layout.columns[0]])
    if pa.types.is_timestamp(time_col.type):
        tz = time_col.type.tz
        times = _Times(pc.cast(time_col, pa.timestamp("ms", tz)).cast(pa.int64()).to_numpy(), tz is not None)
    elif pa.types.is_string(time_col.type):
        times = _iso_or_error(path, time_col)
    else:
        times = _Times(time_col.to_numpy())
    lines = np.arange(1, table.num_rows + 1)
    values = tuple(c for c in cols if c is not None)
    name = "Parquet file" + layout.name.split("CSV", 1)[-1] if "CSV" in layout.name else "Parquet file"
    return _finish(path, name, layout.time_label, times, values, lines)


def _iso_or_error(path: Path, col: pa.ChunkedArray) -> _Times:
    try:
        return _iso_fast(col)
    except _NeedsRows:
        raise CandleFileError(path, ["the time column holds text that is not ISO dates and times"]) from None


def write(series_or_columns: Union[CandleSeries, CandleColumns], out: Path) -> None:
    """Write candles to ``out``: Parquet (``.parquet``/``.pq``: int64 ``timestamp`` in ms and
    float64 ``open, high, low, close, volume``) or this app's CSV (any other suffix; ``.gz``
    compressed). Raises ``OSError``; nothing half-written is left."""
    cols = series_or_columns.candles if isinstance(series_or_columns, CandleSeries) else series_or_columns
    table = pa.table(dict(zip(HEADER, cols.arrays(), strict=True)))
    tmp = out.with_name(out.name + ".part")
    try:
        if out.suffix.lower() in PARQUET_SUFFIXES:
            pq.write_table(table, tmp)
        else:
            opts = pv.WriteOptions(include_header=False, quoting_style="none")
            gz = out.suffix.lower() == ".gz"
            with (pa.CompressedOutputStream(str(tmp), "gzip") if gz else pa.OSFile(str(tmp), "wb")) as stream:
                stream.write((",".join(HEADER) + "\n").encode())
                pv.write_csv(table, stream, opts)
        tmp.replace(out)
    except pa.ArrowException as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(str(exc)) from exc
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


__all__ = ["MAX_REPORTED", "load", "write"]
