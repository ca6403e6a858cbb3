"""Candles at a longer timeframe aggregated from the feed's (core/resample.py)."""
import numpy as np
import pytest

from cts_desktop.core.resample import Resampler, resample

M = 60_000


def feed(n, start=0):
    rows = []
    for i in range(n):
        o = 100.0 + i
        rows.append((start + i * M, o, o + 2 + (i % 3), o - 1 - (i % 2), o + 0.5, 1.0 + i))
    return np.array(rows)


def test_whole_array_and_one_at_a_time_agree():
    f = feed(37, start=7 * M)  # starts inside a 5m period: the first bar is partial
    bars = resample(f, 5 * M)
    assert bars[0, 0] == 5 * M and len(bars) == 8  # minutes 7..43: periods 5, 10, ..., 40
    first = f[:3]
    assert tuple(bars[0, 1:]) == (first[0, 1], first[:, 2].max(), first[:, 3].min(), first[-1, 4], first[:, 5].sum())
    r = Resampler(5 * M)
    got = {}
    for c in f:
        b = r.add(c)
        got[b[0]] = b
    assert np.allclose(np.array(sorted(got.values())), bars)


def test_not_finer_than_the_feed_and_bad_timeframes():
    f = feed(10)
    assert np.array_equal(resample(f, M), f)
    assert resample(np.empty((0, 6)), 5 * M).shape == (0, 6)
    with pytest.raises(ValueError):
        resample(f, 0)
    with pytest.raises(ValueError):
        Resampler(-1)
