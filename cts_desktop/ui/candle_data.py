"""The candle chart's data: columnar OHLCV arrays that grow, and the level of detail drawn.

A chart never draws more candles than it has room for. :meth:`CandleArrays.visible` cuts the
visible time range out of the arrays (binary search) and, when it holds more candles than
``max_bars``, merges each run of ``k`` consecutive candles into one (first open, highest high,
lowest low, last close, summed volume: what a candle of ``k`` times the timeframe would be), so a
year of 1m candles (525,600) zoomed all the way out draws about a thousand bars with every high
and low in place. The cost is a few numpy passes over the visible slice (``np.maximum.reduceat``
and friends), not a Python loop.

Times are ms UTC (float64 holds them exactly); prices in quote, volume as the exchange reports it.
No Qt here: the widget is :mod:`.candle_chart`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

FIELDS = ("ts", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Bars:
    """What to draw: ``ts`` (ms, each bar's open time), ``open/high/low/close/volume``, ``width``
    (ms, one bar: the timeframe times the merge factor ``k``) and ``first`` (index of the first
    visible candle in the arrays)."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    width: float
    k: int
    first: int

    def __len__(self) -> int:
        return len(self.ts)


class CandleArrays:
    """OHLCV columns (float64) with geometric growth; the last candle can be replaced while it
    forms. ``timeframe_ms``: the spacing, inferred from the data when not given."""

    def __init__(self) -> None:
        self._a = np.empty((6, 0), dtype=np.float64)
        self.n = 0
        self.timeframe_ms = 60_000.0

    def set(self, candles: Sequence[Sequence[float]] | np.ndarray, timeframe_ms: Optional[float] = None) -> None:
        """Replace everything with ``candles`` (rows ``(ts_ms, o, h, l, c, v)`` or a ``(n, 6)`` array,
        oldest first)."""
        arr = np.asarray(candles, dtype=np.float64).reshape(-1, 6)
        self._a = np.ascontiguousarray(arr.T)
        self.n = arr.shape[0]
        self.timeframe_ms = float(timeframe_ms) if timeframe_ms else self._infer_tf()

    def set_columns(self, ts: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                    v: np.ndarray, timeframe_ms: Optional[float] = None) -> None:
        """Replace everything with six equal-length columns."""
        self._a = np.vstack([np.asarray(x, dtype=np.float64) for x in (ts, o, h, lo, c, v)])
        self.n = self._a.shape[1]
        self.timeframe_ms = float(timeframe_ms) if timeframe_ms else self._infer_tf()

    def _infer_tf(self) -> float:
        if self.n < 2:
            return self.timeframe_ms
        d = np.diff(self._a[0, : min(self.n, 1000)])
        d = d[d > 0]
        return float(np.min(d)) if len(d) else self.timeframe_ms

    def add(self, candle: Sequence[float]) -> bool:
        """Append ``candle`` or, when it has the last candle's open time, replace it (a forming
        candle updated). Older candles are ignored. True when something changed."""
        ts = float(candle[0])
        if self.n and ts < self._a[0, self.n - 1]:
            return False
        if self.n and ts == self._a[0, self.n - 1]:
            self._a[:, self.n - 1] = candle[:6]
            return True
        if self.n == self._a.shape[1]:
            grown = np.empty((6, max(1024, self.n * 2)), dtype=np.float64)
            grown[:, : self.n] = self._a[:, : self.n]
            self._a = grown
        self._a[:, self.n] = candle[:6]
        self.n += 1
        if self.n == 2:
            self.timeframe_ms = self._infer_tf()
        return True

    def column(self, name: str) -> np.ndarray:
        """One column (a view, length :attr:`n`)."""
        return self._a[FIELDS.index(name), : self.n]

    def last(self) -> Optional[tuple]:
        """The newest candle as a tuple, or None."""
        return tuple(float(x) for x in self._a[:, self.n - 1]) if self.n else None

    def index_at(self, ts_ms: float) -> Optional[int]:
        """Index of the candle whose span ``[ts, ts + timeframe)`` holds ``ts_ms``, or None."""
        if not self.n:
            return None
        i = int(np.searchsorted(self._a[0, : self.n], ts_ms, side="right")) - 1
        if i < 0 or ts_ms >= self._a[0, i] + self.timeframe_ms:
            return None
        return i

    def visible(self, x0_ms: float, x1_ms: float, max_bars: int) -> Bars:
        """The candles overlapping ``[x0_ms, x1_ms]`` (one more each side, so the edges are drawn),
        merged ``k`` at a time when there are more than ``max_bars`` (module docstring)."""
        ts = self._a[0, : self.n]
        i0 = max(int(np.searchsorted(ts, x0_ms, side="left")) - 1, 0)
        i1 = min(int(np.searchsorted(ts, x1_ms, side="right")) + 1, self.n)
        count = max(i1 - i0, 0)
        k = max(1, math.ceil(count / max(max_bars, 1)))
        if k > 1:
            i0 -= i0 % k  # buckets on fixed multiples: panning does not make them flicker
        o, h, lo, c, v = (self._a[j, i0:i1] for j in range(1, 6))
        t = ts[i0:i1]
        if k == 1 or len(t) == 0:
            return Bars(t, o, h, lo, c, v, self.timeframe_ms, 1, i0)
        starts = np.arange(0, len(t), k)
        ends = np.minimum(starts + k, len(t)) - 1
        return Bars(t[starts], o[starts], np.maximum.reduceat(h, starts), np.minimum.reduceat(lo, starts), c[ends],
                    np.add.reduceat(v, starts), self.timeframe_ms * k, k, i0)


def line_visible(ts: np.ndarray, values: np.ndarray, x0_ms: float, x1_ms: float, k: int) -> tuple:
    """An indicator line's points inside ``[x0_ms, x1_ms]`` (one more each side), every ``k``-th
    one when the candles are merged ``k`` at a time: ``(ts, values)``."""
    i0 = max(int(np.searchsorted(ts, x0_ms, side="left")) - 1, 0)
    i1 = min(int(np.searchsorted(ts, x1_ms, side="right")) + 1, len(ts))
    step = max(k, 1)
    return ts[i0:i1:step], values[i0:i1:step]
