"""The candle chart's data: columnar OHLCV arrays that grow, and the level of detail drawn.

A chart never draws more candles than it has room for. :meth:`CandleArrays.visible` cuts the
visible time range out of the arrays (binary search) and, when it holds more candles than
``max_bars``, draws each run of ``k`` consecutive candles as one bar (first open, highest high,
lowest low, last close, summed volume: what a candle of ``k`` times the timeframe would be), so a
year of 1m candles (525,600) zoomed all the way out draws a few hundred bars with every high and
low in place.

The merged bars come from a level-of-detail pyramid built once by :meth:`CandleArrays.set`: level
``L`` holds the candles merged ``2**L`` at a time, for ``L`` from 3 (8 candles a bar; the finer
ones are merged from the candles on the fly, at most 12 a bar) up to one bar for everything: a
quarter of the candles' memory. ``k`` is the smallest of 1, 2, 3, 4, 6, 8, 12, 16, ... (``2**L`` or
``3 * 2**(L-1)``) that fits ``max_bars``, so a frame reads a level directly or merges three of its
bars at a time: a few hundred to a few thousand values, whatever the zoom, instead of a pass over
the whole visible slice. Buckets sit on fixed multiples of ``k`` from the first candle (panning
never makes them flicker); a new or updated candle updates one bucket per level
(:meth:`CandleArrays.add`, O(log n)).

Times are ms UTC (float64 holds them exactly); prices in quote, volume as the exchange reports it.
No Qt here: the widget is :mod:`.candle_chart`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

FIELDS = ("ts", "open", "high", "low", "close", "volume")
FIRST = 3  # the finest merged level kept (8 candles a bar): the pyramid costs a quarter of the candles' memory


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


def merge(a: np.ndarray, m: int) -> np.ndarray:
    """Columns ``a`` (6 x n: ts, o, h, l, c, v) merged ``m`` at a time (the last group may be
    short): first ts and open, highest high, lowest low, last close, summed volume."""
    n = a.shape[1]
    if n == 0 or m == 1:
        return a
    starts = np.arange(0, n, m)
    ends = np.minimum(starts + m, n) - 1
    return np.vstack((a[0, starts], a[1, starts], np.maximum.reduceat(a[2], starts),
                      np.minimum.reduceat(a[3], starts), a[4, ends], np.add.reduceat(a[5], starts)))


def merge_factor(needed: int) -> Tuple[int, int]:
    """The level and the merge factor on it (1 or 3) for the smallest ``k`` of 1, 2, 3, 4, 6, 8,
    12, ... that is at least ``needed``: ``(level, m)``, ``k = m * 2**level``."""
    if needed <= 1:
        return 0, 1
    level = math.ceil(math.log2(needed))
    if level >= 2 and 3 << (level - 2) >= needed:
        return level - 2, 3
    return level, 1


def _pair(below: _Grow, j: int) -> np.ndarray:
    """Bars ``j`` and ``j + 1`` of a level (or ``j`` alone, the last) merged into one."""
    a = below.a
    if j + 1 >= below.n:
        return a[:, j]
    return np.array((a[0, j], a[1, j], max(a[2, j], a[2, j + 1]), min(a[3, j], a[3, j + 1]), a[4, j + 1],
                     a[5, j] + a[5, j + 1]))


class _Grow:
    """A 6 x n float64 block with geometric growth (the candles, or one pyramid level)."""

    def __init__(self, a: np.ndarray | Sequence[np.ndarray], spare: bool = False) -> None:
        self.n = len(a[0])
        if spare:  # room for the candles to come: no copy of the whole block on the next one
            self.a = np.empty((6, self.n + max(1024, self.n // 64)), dtype=np.float64)
            for row, col in enumerate(a):  # filled row by row: no temporary copy of the whole block
                self.a[row, : self.n] = col
        else:
            self.a = np.asarray(a)

    def put(self, j: int, col: np.ndarray) -> None:
        """Set column ``j`` (appended when ``j == n``)."""
        if j == self.a.shape[1]:
            grown = np.empty((6, max(1024, 2 * j)), dtype=np.float64)
            grown[:, :j] = self.a[:, :j]
            self.a = grown
        self.a[:, j] = col
        self.n = max(self.n, j + 1)

    def view(self) -> np.ndarray:
        return self.a[:, : self.n]


class CandleArrays:
    """OHLCV columns (float64) with geometric growth and their level-of-detail pyramid; the last
    candle can be replaced while it forms. ``timeframe_ms``: the spacing, inferred from the data
    when not given."""

    def __init__(self) -> None:
        self._lv: List[Optional[_Grow]] = [_Grow(np.empty((6, 0), dtype=np.float64))] + [None] * (FIRST - 1)
        self.timeframe_ms = 60_000.0

    @property
    def n(self) -> int:
        """How many candles."""
        return self._base.n

    @property
    def _base(self) -> _Grow:
        base = self._lv[0]
        assert base is not None
        return base

    @property
    def _a(self) -> np.ndarray:
        return self._base.a

    def _level(self, level: int) -> _Grow:
        lv = self._lv[level]
        assert lv is not None
        return lv

    def set(self, candles: Sequence[Sequence[float]] | np.ndarray, timeframe_ms: Optional[float] = None) -> None:
        """Replace everything with ``candles`` (rows ``(ts_ms, o, h, l, c, v)`` or a ``(n, 6)`` array,
        oldest first)."""
        arr = np.asarray(candles, dtype=np.float64).reshape(-1, 6)
        self._build(arr.T, timeframe_ms)

    def set_columns(self, ts: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                    v: np.ndarray, timeframe_ms: Optional[float] = None) -> None:
        """Replace everything with six equal-length columns."""
        self._build([np.asarray(x, dtype=np.float64) for x in (ts, o, h, lo, c, v)], timeframe_ms)

    def _build(self, a: np.ndarray | Sequence[np.ndarray], timeframe_ms: Optional[float]) -> None:
        base = _Grow(a, spare=True)
        self._lv = [base] + [None] * (FIRST - 1)
        if base.n > 1:
            self._lv.append(_Grow(merge(base.view(), 1 << FIRST), spare=True))
            while self._level(len(self._lv) - 1).n > 1:
                self._lv.append(_Grow(merge(self._level(len(self._lv) - 1).view(), 2), spare=True))
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
        ts, n = float(candle[0]), self.n
        if n and ts < self._a[0, n - 1]:
            return False
        i = n - 1 if n and ts == self._a[0, n - 1] else n
        base = self._base
        base.put(i, np.asarray(candle[:6], dtype=np.float64))
        if base.n > 1:  # the bucket holding candle i, level by level
            if len(self._lv) == FIRST:
                self._lv.append(_Grow(np.empty((6, 0), dtype=np.float64)))
            j = i >> FIRST
            self._level(FIRST).put(j, merge(base.a[:, j << FIRST: min((j + 1) << FIRST, base.n)], 1 << FIRST)[:, 0])
        for level in range(FIRST + 1, len(self._lv) + 1):
            below, j = self._level(level - 1), i >> level
            if level == len(self._lv):
                if below.n < 2:
                    break
                self._lv.append(_Grow(np.empty((6, 0), dtype=np.float64)))
            self._level(level).put(j, _pair(below, 2 * j))
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
        merged ``k`` at a time when there are more than ``max_bars`` (module docstring); a merged
        bar at the edge is the whole bucket, candles out of view included."""
        ts = self._a[0, : self.n]
        i0 = max(int(np.searchsorted(ts, x0_ms, side="left")) - 1, 0)
        i1 = min(int(np.searchsorted(ts, x1_ms, side="right")) + 1, self.n)
        count = max(i1 - i0, 0)
        level, m = merge_factor(math.ceil(count / max(max_bars, 1)))
        if level < FIRST:  # not kept: merged from the candles (k <= 12 candles a bar)
            level, m = 0, m << level
        level = min(level, len(self._lv) - 1)
        k = m << level
        if k == 1 or count == 0:
            o, h, lo, c, v = (self._a[j, i0:i1] for j in range(1, 6))
            return Bars(ts[i0:i1], o, h, lo, c, v, self.timeframe_ms, 1, i0)
        i0 -= i0 % k  # buckets on fixed multiples: panning does not make them flicker
        lv = self._level(level)
        j1 = -(-i1 >> level)  # the bucket holding the last candle, whole; then whole groups of m
        j0, j1 = i0 >> level, min(-(-j1 // m) * m, lv.n)
        bars = merge(lv.a[:, j0:j1], m)
        return Bars(*bars, width=self.timeframe_ms * k, k=k, first=i0)


def line_visible(ts: np.ndarray, values: np.ndarray, x0_ms: float, x1_ms: float, k: int) -> tuple:
    """An indicator line's points inside ``[x0_ms, x1_ms]`` (one more each side), every ``k``-th
    one when the candles are merged ``k`` at a time: ``(ts, values)``."""
    i0 = max(int(np.searchsorted(ts, x0_ms, side="left")) - 1, 0)
    i1 = min(int(np.searchsorted(ts, x1_ms, side="right")) + 1, len(ts))
    step = max(k, 1)
    return ts[i0:i1:step], values[i0:i1:step]
