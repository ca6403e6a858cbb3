"""What the candle readers share, free of pyarrow: opening a file, the columns they fill, and the
numpy reader of small numeric files.

:func:`read_small` reads a plain numeric CSV of up to :data:`SMALL_BYTES` (every shipped replay
dataset, most downloads of a month) with numpy's C parser: no pyarrow (~45 MB resident with its
libraries) is loaded for it, and it is as fast as pyarrow's reader at that size. Its numbers are
the same doubles (both parsers round correctly); whatever it cannot read goes to the general
readers of :mod:`.importer` unchanged.
"""
from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import IO, List, NamedTuple, Optional, Tuple, cast

import numpy as np

from .candle_checks import LineMap, Lines
from .candle_layouts import Layout
from .candle_series import CandleFileError

PARQUET_SUFFIXES = (".parquet", ".pq")
SMALL_BYTES = 16 << 20
"""Files up to this size (bytes on disk) are tried with :func:`read_small` first."""


class NeedsRows(Exception):
    """The fast reader read something it cannot name the line of (an empty value)."""


class Times(NamedTuple):
    """The time column as read: ``raw`` numbers (any unit) or, when ``iso`` is not None, ms UTC
    parsed from ISO text (``iso``: every time carried a zone, Z or an offset)."""

    raw: np.ndarray
    iso: Optional[bool] = None


Read = Tuple[Times, Tuple[np.ndarray, ...], LineMap]  # times, (o, h, l, c, v), line of each row


def open_bytes(path: Path) -> IO[bytes]:
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


class Growing:
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


def read_small(path: Path, layout: Layout) -> Optional[Read]:
    """``path`` read with numpy alone when it is small (:data:`SMALL_BYTES`), its times are whole
    numbers below 2**53 (int64, as pyarrow reads them) and every row has the layout's fields, all
    numbers; else None (the caller uses the general readers)."""
    if layout.time_text or layout.time_float or path.stat().st_size > SMALL_BYTES:
        return None
    try:
        with io.TextIOWrapper(open_bytes(path), encoding="utf-8", newline="") as fh:
            arr = np.loadtxt(fh, delimiter=layout.delimiter, skiprows=layout.header_lines, dtype=np.float64,
                             comments=None, ndmin=2)
    except (ValueError, UnicodeDecodeError, OSError, EOFError, zipfile.BadZipFile):
        return None
    if arr.shape[1] != layout.ncols or not len(arr):
        return None
    t = arr[:, layout.columns[0]]
    if not (np.all(t == np.floor(t)) and np.all(np.abs(t) < 2.0**53)):
        return None  # fractions, or nanoseconds beyond a double's exact integers: read as text by the others
    raw = t.astype(np.int64)
    vol = layout.columns[5]
    values: List[np.ndarray] = [np.ascontiguousarray(arr[:, i]) for i in layout.columns[1:5] if i is not None]
    values.append(np.ascontiguousarray(arr[:, vol]) if vol is not None else np.zeros(len(arr)))
    return Times(raw), tuple(values), Lines(layout.header_lines + 1)
