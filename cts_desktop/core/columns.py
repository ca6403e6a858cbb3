"""Candles stored as columns: six numpy arrays instead of one Python tuple per candle.

A candle as a tuple costs about 260 bytes of Python objects (the tuple, an int and five
floats); as columns it costs 48 bytes (``int64`` open time in ms, ``float64`` open, high, low,
close and volume), so 5 million candles take 240 MB instead of 1.3 GB.

:class:`CandleColumns` is also a read-only sequence of ``Candle`` tuples
``(ts_ms, open, high, low, close, volume)`` for the code that reads candles one by one (the
engines, the charts, ``bisect``): indexing builds one tuple of plain Python numbers, slicing
gives another :class:`CandleColumns` over views of the same arrays (no copy), and iteration
converts a block of :data:`BLOCK` candles at a time, so a loop over millions of candles is as
fast as a loop over a list while holding only one block of tuples at once.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence, Tuple, Union, overload

import numpy as np

from .models import Candle

BLOCK = 65_536  # candles converted to tuples at a time while iterating
BYTES_PER_CANDLE = 48  # int64 time + five float64 values

FloatArray = np.ndarray


class CandleColumns(Sequence[Candle]):
    """Time-ordered candles as six equally long 1-D arrays: ``ts`` (``int64``, open time in ms
    UTC) and ``open``, ``high``, ``low``, ``close``, ``volume`` (``float64``; prices in quote,
    volume in base). The arrays are not copied; treat them as read-only.
    Raises ``ValueError`` when the lengths differ."""

    __slots__ = ("ts", "open", "high", "low", "close", "volume")

    def __init__(self, ts: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                 close: np.ndarray, volume: np.ndarray):
        cols = (np.asarray(ts, dtype=np.int64),) + tuple(
            np.asarray(a, dtype=np.float64) for a in (open_, high, low, close, volume))
        n = len(cols[0])
        if any(a.ndim != 1 or len(a) != n for a in cols):
            raise ValueError("candle columns must be 1-D arrays of the same length")
        self.ts, self.open, self.high, self.low, self.close, self.volume = cols

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[float]]) -> "CandleColumns":
        """Columns from candle rows ``(ts_ms, o, h, l, c, v)`` (a list of tuples, ccxt's OHLCV)."""
        data = list(rows)
        if not data:
            return cls.empty()
        ts = np.fromiter((r[0] for r in data), dtype=np.int64, count=len(data))
        values = np.array([r[1:6] for r in data], dtype=np.float64).reshape(len(data), 5)
        return cls(ts, *(np.ascontiguousarray(values[:, i]) for i in range(5)))

    @classmethod
    def empty(cls) -> "CandleColumns":
        z = np.zeros(0, dtype=np.float64)
        return cls(np.zeros(0, dtype=np.int64), z, z, z, z, z)

    # -- the sequence -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ts)

    @overload
    def __getitem__(self, i: int) -> Candle: ...

    @overload
    def __getitem__(self, i: slice) -> "CandleColumns": ...

    def __getitem__(self, i: Union[int, slice]) -> Union[Candle, "CandleColumns"]:
        if isinstance(i, slice):
            return CandleColumns(self.ts[i], self.open[i], self.high[i], self.low[i], self.close[i], self.volume[i])
        return (int(self.ts[i]), float(self.open[i]), float(self.high[i]), float(self.low[i]),
                float(self.close[i]), float(self.volume[i]))

    def __iter__(self) -> Iterator[Candle]:
        n = len(self.ts)
        for a in range(0, n, BLOCK):
            b = a + BLOCK
            yield from zip(self.ts[a:b].tolist(), self.open[a:b].tolist(), self.high[a:b].tolist(),
                           self.low[a:b].tolist(), self.close[a:b].tolist(), self.volume[a:b].tolist(), strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CandleColumns):
            return len(self) == len(other) and all(
                np.array_equal(a, b) for a, b in zip(self.arrays(), other.arrays(), strict=True))
        if isinstance(other, (list, tuple)):
            return len(self) == len(other) and all(a == tuple(b) for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable arrays: not hashable

    def __repr__(self) -> str:
        return f"CandleColumns({len(self)} candles)"

    def __reduce__(self) -> Tuple[type, Tuple[np.ndarray, ...]]:  # pickling (worker processes)
        return (CandleColumns, self.arrays())

    # -- columnar helpers ---------------------------------------------------------------------
    def arrays(self) -> Tuple[np.ndarray, ...]:
        """``(ts, open, high, low, close, volume)``."""
        return (self.ts, self.open, self.high, self.low, self.close, self.volume)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (48 a candle)."""
        return int(sum(a.nbytes for a in self.arrays()))

    def index_after(self, ts_ms: int) -> int:
        """Index of the first candle opening after ``ts_ms`` (``bisect_right`` on the times)."""
        return int(np.searchsorted(self.ts, ts_ms, side="right"))


def as_columns(candles: Sequence[Candle]) -> CandleColumns:
    """``candles`` as :class:`CandleColumns` (returned as is when it already is one)."""
    return candles if isinstance(candles, CandleColumns) else CandleColumns.from_rows(candles)
