"""The candle readers and writer that use pyarrow: big CSV files (its multi-threaded reader straight
into numpy columns), ISO text times, Parquet, and writing Parquet or CSV.

Imported by :mod:`.importer` only when a file needs it, so a paper replay of a shipped dataset
(read by :func:`.candle_read.read_small`) never loads pyarrow.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

from ..core.columns import CandleColumns
from .candle_checks import LineMap, Lines
from .candle_layouts import HEADER, Layout, detect
from .candle_read import PARQUET_SUFFIXES, Growing, NeedsRows, Read, Times, open_bytes
from .candle_series import CandleFileError

ParquetRead = Tuple[str, str, Times, Tuple[np.ndarray, ...], LineMap]  # layout name, time label, times, columns, lines

BLOCK_BYTES = 2 << 20  # pyarrow reads this much text at a time (bigger: more memory, no faster here)
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


def read_csv(path: Path, layout: Layout, bytes_per_row: float) -> Read:
    """:func:`read_fast`, with pyarrow's "cannot read this" as :class:`NeedsRows`."""
    try:
        return read_fast(path, layout, bytes_per_row)
    except pa.ArrowInvalid:
        raise NeedsRows from None


def read_fast(path: Path, layout: Layout, bytes_per_row: float) -> Read:
    """Streams the file in blocks into preallocated numpy columns (the peak memory stays near
    the columns' own 48 bytes a candle). Raises :class:`NeedsRows` when a row cannot be read
    this way."""
    names = [f"c{i}" for i in range(layout.ncols)]
    t_name = names[layout.columns[0]]
    types = {names[i]: pa.float64() for i in layout.columns[1:] if i is not None}
    types[t_name] = pa.string() if layout.time_text else pa.float64() if layout.time_float else pa.int64()
    include = [names[i] for i in layout.columns if i is not None]
    reader = pv.open_csv(
        str(path) if path.suffix.lower() != ".zip" else open_bytes(path),
        read_options=pv.ReadOptions(column_names=names, skip_rows=layout.header_lines, block_size=BLOCK_BYTES),
        parse_options=pv.ParseOptions(delimiter=layout.delimiter),
        convert_options=pv.ConvertOptions(include_columns=include, column_types=types),
    )
    size = path.stat().st_size * (1 if path.suffix.lower() in (".csv", ".txt") else 4)
    out = Growing(int(size / max(bytes_per_row, 1.0) * 1.02) + 1024, layout.time_float)
    zoned = True
    with reader:
        for batch in reader:
            if any(c.null_count for c in batch.columns):
                raise NeedsRows
            t = batch.column(t_name)
            if layout.time_text:
                iso = iso_fast(t)
                zoned = zoned and bool(iso.iso)
                ts = iso.raw
            else:
                ts = _numpy(t)
            vol = layout.columns[5]
            out.add(ts, [_numpy(batch.column(names[i])) for i in layout.columns[1:5]],
                    _numpy(batch.column(names[vol])) if vol is not None else None)
    ts_all, values = out.result()
    pa.default_memory_pool().release_unused()  # the parsed blocks are copied out: give them back
    return Times(ts_all, zoned if layout.time_text else None), values, Lines(layout.header_lines + 1)


def iso_fast(col: Union[pa.Array, pa.ChunkedArray]) -> Times:
    import pyarrow.compute as pc

    for zoned, typ in ((True, pa.timestamp("ms", "UTC")), (False, pa.timestamp("ms"))):
        try:
            ms = _numpy(pc.cast(col, typ).cast(pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return Times(ms, zoned)
    raise NeedsRows


# -- Parquet ---------------------------------------------------------------------------------
def read_parquet(path: Path) -> ParquetRead:
    """A Parquet file's columns, for :func:`.importer.load` to check. Raises :class:`CandleFileError`."""
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
    out = Growing(pf.metadata.num_rows, pa.types.is_floating(t_type))
    zoned: Optional[bool] = None
    used = [names[i] for i in layout.columns if i is not None]
    try:
        for batch in pf.iter_batches(batch_size=1 << 18, columns=used):
            if any(batch.column(names[i]).null_count for i in layout.columns[1:5]):
                raise CandleFileError(path, ["a time or price column has empty values"])
            times = parquet_times(path, batch.column(t_name))
            zoned = times.iso if zoned is None else (zoned and bool(times.iso))
            vol = layout.columns[5]
            out.add(times.raw, [pc.cast(batch.column(names[i]), pa.float64()).to_numpy() for i in layout.columns[1:5]],
                    None if vol is None else pc.cast(batch.column(names[vol]), pa.float64()).fill_null(np.nan).to_numpy())
    except pa.ArrowException as exc:
        raise CandleFileError(path, [f"not a readable Parquet file ({exc})"]) from None
    ts, values = out.result()
    pa.default_memory_pool().release_unused()
    name = "Parquet file" + layout.name.split("CSV", 1)[-1] if "CSV" in layout.name else "Parquet file"
    return name, layout.time_label, Times(ts, zoned), values, Lines(1)


def parquet_times(path: Path, col: pa.Array) -> Times:
    """A batch's time column: numbers as they are, timestamps and ISO text in ms UTC."""
    if pa.types.is_timestamp(col.type):
        import pyarrow.compute as pc

        tz = col.type.tz
        return Times(pc.cast(col, pa.timestamp("ms", tz)).cast(pa.int64()).to_numpy(), tz is not None)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            return iso_fast(col)
        except NeedsRows:
            raise CandleFileError(path, ["the time column holds text that is not ISO dates and times"]) from None
    return Times(col.to_numpy())


def write(cols: CandleColumns, out: Path) -> None:
    """Write candles to ``out``: Parquet (``.parquet``/``.pq``: int64 ``timestamp`` in ms and
    float64 ``open, high, low, close, volume``) or this app's CSV (any other suffix; ``.gz``
    compressed). Raises ``OSError``; nothing half-written is left."""
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


__all__ = ["read_csv", "read_parquet", "write"]

