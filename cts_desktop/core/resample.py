"""Candles at a longer timeframe, aggregated from the feed's: pure, no I/O.

A candle of timeframe ``T`` covers the open times ``[k*T, (k+1)*T)`` (UTC, as exchanges align
them): open of the first feed candle in it, highest high, lowest low, close of the last one,
summed volume. :func:`resample` does a whole array (numpy ``reduceat``); :class:`Resampler`
follows a feed one candle at a time (the forming candle is updated in place until the next
period starts). Times in ms UTC, prices in quote, volume in base.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from .models import TIMEFRAME_MS

#: the chart's timeframe choices, shortest first
CHART_TIMEFRAMES: Tuple[str, ...] = tuple(TIMEFRAME_MS)


def resample(candles: np.ndarray, tf_ms: int) -> np.ndarray:
    """``candles`` (an ``(n, 6)`` array of ``(ts_ms, o, h, l, c, v)``, oldest first) at ``tf_ms``:
    an ``(m, 6)`` array, ``m <= n``. Returned unchanged when ``tf_ms`` is not longer than the
    candles' own spacing (no finer candles can be made). Raises ``ValueError`` for ``tf_ms <= 0``."""
    if tf_ms <= 0:
        raise ValueError(f"timeframe must be a positive number of ms, not {tf_ms}")
    arr = np.asarray(candles, dtype=np.float64).reshape(-1, 6)
    if len(arr) < 2:
        if len(arr):
            arr = arr.copy()
            arr[:, 0] = np.floor(arr[:, 0] / tf_ms) * tf_ms
        return arr
    spacing = float(np.min(np.diff(arr[:, 0])))
    if tf_ms <= spacing:
        return arr
    period = np.floor(arr[:, 0] / tf_ms)
    starts = np.flatnonzero(np.r_[True, np.diff(period) != 0])
    ends = np.r_[starts[1:] - 1, len(arr) - 1]
    out = np.empty((len(starts), 6), dtype=np.float64)
    out[:, 0] = period[starts] * tf_ms
    out[:, 1] = arr[starts, 1]
    out[:, 2] = np.maximum.reduceat(arr[:, 2], starts)
    out[:, 3] = np.minimum.reduceat(arr[:, 3], starts)
    out[:, 4] = arr[ends, 4]
    out[:, 5] = np.add.reduceat(arr[:, 5], starts)
    return out


class Resampler:
    """Follows a feed at ``tf_ms``: :meth:`add` takes each feed candle and returns the candle of
    its period so far (a new one when a period starts, else the forming one updated)."""

    def __init__(self, tf_ms: int, last: Optional[Sequence[float]] = None):
        if tf_ms <= 0:
            raise ValueError(f"timeframe must be a positive number of ms, not {tf_ms}")
        self.tf_ms = tf_ms
        self.current: Optional[list] = list(last) if last is not None else None

    def add(self, candle: Sequence[float]) -> Tuple[float, float, float, float, float, float]:
        """The period's candle ``(ts_ms, o, h, l, c, v)`` after ``candle``."""
        start = (float(candle[0]) // self.tf_ms) * self.tf_ms
        cur = self.current
        if cur is None or start > cur[0]:
            cur = self.current = [start, float(candle[1]), float(candle[2]), float(candle[3]),
                                  float(candle[4]), float(candle[5])]
        elif start == cur[0]:
            cur[2] = max(cur[2], float(candle[2]))
            cur[3] = min(cur[3], float(candle[3]))
            cur[4] = float(candle[4])
            cur[5] += float(candle[5])
        return (cur[0], cur[1], cur[2], cur[3], cur[4], cur[5])
