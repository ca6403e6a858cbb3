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
import pyarrow.csv as pv

from ..core.columns import CandleColumns
from .candle_checks import LineMap, Lines, Problems, checked, gap_warnings, numeric_times_to_ms, timeframe_of
from .candle_layouts import HEADER, ROLES, Layout, detect, is_number
from .candle_series import MAX_REPORTED, CandleFileError, CandleSeries

HEAD_BYTES = 64 * 1024
BLOCK_BYTES = 2 << 20  # pyarrow reads this much text at a time (bigger: more memory, no faster here)
PARQUET_SUFFIXES = (".parquet", ".pq")
Source = Union[str, IO[bytes]]
_NUMPY_TYPES = {pa.float64(): np.float64, pa.int64(): np.int64}


def _numpy(arr: Union[pa.Array, pa.ChunkedArray]) -> np.ndarray:
    """``arr`` as a numpy array: a view of its values when it is one float64 / int64 chunk
    without nulls, else ``to_numpy()``. (pyarrow's ``to_numpy`` imports pandas, ~35 MB resident,
    only to ask for its version: reading a replay dataset at start must not cost that. For the
    same reason ``pyarrow.compute`` and ``pyarrow.parquet`` are imported where used.)"""
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks == 1:
        arr = arr.chunk(0)
    dtype = _NUMPY_TYPES.get(arr.type) if isinstance(arr, pa.Array) and not arr.null_count else None
    if dtype is None:
        return arr.to_numpy()
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * 8)


def load(path: Path) -> CandleSeries:
    """Read and check one candle file (see the module docstring). Raises :class:`CandleFileError`."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _load_parquet(path)
    head = _head(path)
    layout = detect(path, head)
    try:
        times, values, lines = _read_fast(path, layout, len(head.encode()) / max(head.count("\n"), 1))
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


Read = Tuple[_Times, Tuple[np.ndarray, ...], LineMap]  # times, (o, h, l, c, v), line of each row


def _read_fast(path: Path, layout: Layout, bytes_per_row: float) -> Read:
    """Streams the file in blocks into preallocated numpy columns (the peak memory stays near
    the columns' own 48 bytes a candle). Raises ``pa.ArrowInvalid`` or :class:`_NeedsRows` when
    a row cannot be read this way."""
    names = [f"c{i}" for i in range(layout.ncols)]
    t_name = names[layout.columns[0]]
    types = {names[i]: pa.float64() for i in layout.columns[1:] if i is not None}
    types[t_name] = pa.string() if layout.time_text else pa.float64() if layout.time_float else pa.int64()
    include = [names[i] for i in layout.columns if i is not None]
    reader = pv.open_csv(
        str(path) if path.suffix.lower() != ".zip" else _open(path),
        read_options=pv.ReadOptions(column_names=names, skip_rows=layout.header_lines, block_size=BLOCK_BYTES),
        parse_options=pv.ParseOptions(delimiter=layout.delimiter),
        convert_options=pv.ConvertOptions(include_columns=include, column_types=types),
    )
    size = path.stat().st_size * (1 if path.suffix.lower() in (".csv", ".txt") else 4)
    out = _Growing(int(size / max(bytes_per_row, 1.0) * 1.02) + 1024, layout.time_float)
    zoned = True
    with reader:
        for batch in reader:
            if any(c.null_count for c in batch.columns):
                raise _NeedsRows
            t = batch.column(t_name)
            if layout.time_text:
                iso = _iso_fast(t)
                zoned = zoned and bool(iso.iso)
                ts = iso.raw
            else:
                ts = _numpy(t)
            vol = layout.columns[5]
            out.add(ts, [_numpy(batch.column(names[i])) for i in layout.columns[1:5]],
                    _numpy(batch.column(names[vol])) if vol is not None else None)
    ts_all, values = out.result()
    pa.default_memory_pool().release_unused()  # the parsed blocks are copied out: give them back
    return _Times(ts_all, zoned if layout.time_text else None), values, Lines(layout.header_lines + 1)


class _Growing:
    """Columns filled batch by batch: time (int64, or float64 for fractional times) and five
    float64; grows by doubling when the estimate of the row count was short."""

    def __init__(self, capacity: int, float_time: bool):
        self.n = 0
        self.ts = np.empty(capacity, dtype=np.float64 if float_time else np.int64)
        self.cols = [np.empty(capacity, dtype=np.float64) for _ in range(5)]

    def add(self, ts: np.ndarray, prices: List[np.ndarray], volume: Optional[np.ndarray]) -> None:
        k = len(ts)
        if self.n + k > len(self.ts):
            cap = max(2 * len(self.ts), self.n + k)
            self.ts = np.resize(self.ts, cap)
            self.cols = [np.resize(c, cap) for c in self.cols]
        a, b = self.n, self.n + k
        self.ts[a:b] = ts
        for col, src in zip(self.cols, prices, strict=False):
            col[a:b] = src
        self.cols[4][a:b] = 0.0 if volume is None else volume
        self.n = b

    def result(self) -> Tuple[np.ndarray, Tuple[np.ndarray, ...]]:
        n = self.n
        if len(self.ts) > n * 1.1 + 1024:  # a poor estimate (compressed input): give the rest back
            return self.ts[:n].copy(), tuple(c[:n].copy() for c in self.cols)
        return self.ts[:n], tuple(c[:n] for c in self.cols)


def _iso_fast(col: Union[pa.Array, pa.ChunkedArray]) -> _Times:
    import pyarrow.compute as pc

    for zoned, typ in ((True, pa.timestamp("ms", "UTC")), (False, pa.timestamp("ms"))):
        try:
            ms = _numpy(pc.cast(col, typ).cast(pa.int64()))
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


# -- Parquet ---------------------------------------------------------------------------------
def _load_parquet(path: Path) -> CandleSeries:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError:
        raise CandleFileError(path, ["file not found"]) from None
    except (pa.ArrowException, OSError) as exc:
        raise CandleFileError(path, [f"not a readable Parquet file ({exc})"]) from None
    names = pf.schema_arrow.names
    layout = detect(path, ",".join(names) + "\n")
    if layout.header_lines == 0:
        raise CandleFileError(path, [f"no column names to read ({', '.join(names)})"])
    t_name = names[layout.columns[0]]
    t_type = pf.schema_arrow.field(t_name).type
    out = _Growing(pf.metadata.num_rows, pa.types.is_floating(t_type))
    zoned: Optional[bool] = None
    used = [names[i] for i in layout.columns if i is not None]
    try:
        for batch in pf.iter_batches(batch_size=1 << 18, columns=used):
            if any(batch.column(names[i]).null_count for i in layout.columns[1:5]):
                raise CandleFileError(path, ["a time or price column has empty values"])
            times = _parquet_times(path, batch.column(t_name))
            zoned = times.iso if zoned is None else (zoned and bool(times.iso))
            vol = layout.columns[5]
            out.add(times.raw, [pc.cast(batch.column(names[i]), pa.float64()).to_numpy() for i in layout.columns[1:5]],
                    None if vol is None else pc.cast(batch.column(names[vol]), pa.float64()).fill_null(np.nan).to_numpy())
    except pa.ArrowException as exc:
        raise CandleFileError(path, [f"not a readable Parquet file ({exc})"]) from None
    ts, values = out.result()
    pa.default_memory_pool().release_unused()
    name = "Parquet file" + layout.name.split("CSV", 1)[-1] if "CSV" in layout.name else "Parquet file"
    return _finish(path, name, layout.time_label, _Times(ts, zoned), values, Lines(1))


def _parquet_times(path: Path, col: pa.Array) -> _Times:
    """A batch's time column: numbers as they are, timestamps and ISO text in ms UTC."""
    if pa.types.is_timestamp(col.type):
        import pyarrow.compute as pc

        tz = col.type.tz
        return _Times(pc.cast(col, pa.timestamp("ms", tz)).cast(pa.int64()).to_numpy(), tz is not None)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            return _iso_fast(col)
        except _NeedsRows:
            raise CandleFileError(path, ["the time column holds text that is not ISO dates and times"]) from None
    return _Times(col.to_numpy())


def write(series_or_columns: Union[CandleSeries, CandleColumns], out: Path) -> None:
    """Write candles to ``out``: Parquet (``.parquet``/``.pq``: int64 ``timestamp`` in ms and
    float64 ``open, high, low, close, volume``) or this app's CSV (any other suffix; ``.gz``
    compressed). Raises ``OSError``; nothing half-written is left."""
    cols = series_or_columns.candles if isinstance(series_or_columns, CandleSeries) else series_or_columns
    import pyarrow.parquet as pq

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
