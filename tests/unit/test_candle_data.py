"""The candle chart's level of detail (no Qt): merged bars keep every high and low, the forming
candle is replaced, the line slices follow the bars, the pyramid gives what merging the candles
directly gives."""
import math

import numpy as np

from cts_desktop.ui.candle_data import CandleArrays, line_visible, merge_factor

M1 = 60_000


def walk(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    close = 30_000 + np.cumsum(rng.normal(0, 10, n))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) + rng.uniform(0, 5, n)
    low = np.minimum(open_, close) - rng.uniform(0, 5, n)
    ts = 1_700_000_000_000 + np.arange(n) * M1
    return np.column_stack((ts, open_, high, low, close, rng.uniform(1, 10, n)))


def test_a_year_of_minutes_zoomed_out_is_merged_with_every_extreme_kept():
    rows = walk(525_600)
    a = CandleArrays()
    a.set(rows)
    assert a.timeframe_ms == M1 and a.n == 525_600
    b = a.visible(rows[0, 0], rows[-1, 0] + M1, 1000)
    assert b.k == 768 and b.width == 768 * M1  # 526 needed: the next step of 1, 2, 3, 4, 6, ... 512, 768
    assert len(b) == math.ceil(525_600 / 768) <= 1000
    assert b.high.max() == rows[:, 2].max() and b.low.min() == rows[:, 3].min()
    assert np.isclose(b.volume.sum(), rows[:, 5].sum())
    # each merged bar is the candle of its k minutes: first open, last close
    k = b.k
    assert b.open[3] == rows[3 * k, 1] and b.close[3] == rows[4 * k - 1, 4]
    assert b.high[3] == rows[3 * k:4 * k, 2].max() and b.low[3] == rows[3 * k:4 * k, 3].min()


def test_zoomed_in_draws_the_candles_themselves():
    rows = walk(5_000)
    a = CandleArrays()
    a.set(rows)
    x0, x1 = rows[1000, 0], rows[1099, 0]
    b = a.visible(x0, x1, 1000)
    assert b.k == 1 and b.first == 999 and len(b) == 102  # one more each side
    assert (b.close == rows[999:1101, 4]).all()
    lt, lv = line_visible(rows[:, 0], rows[:, 4], x0, x1, b.k)
    assert len(lt) == len(b) and (lv == b.close).all()


def test_forming_candle_replaced_older_ignored_and_lookup():
    a = CandleArrays()
    a.set(walk(3))
    last = list(a.last())
    last[4] += 7.0
    assert a.add(last) and a.n == 3 and a.last()[4] == last[4]
    assert not a.add([last[0] - 2 * M1, 1, 1, 1, 1, 1]) and a.n == 3
    assert a.add([last[0] + M1, 1, 2, 0.5, 1.5, 3]) and a.n == 4
    assert a.index_at(last[0] + M1 + 30_000) == 3 and a.index_at(last[0] + 2 * M1) is None


def direct(rows: np.ndarray, x0: float, x1: float, k: int) -> np.ndarray:
    """The visible buckets of ``k`` candles merged one by one (what the pyramid must give)."""
    ts, n = rows[:, 0], len(rows)
    i0 = max(int(np.searchsorted(ts, x0, side="left")) - 1, 0)
    i1 = min(int(np.searchsorted(ts, x1, side="right")) + 1, n)
    i0 -= i0 % k
    i1 = min(-(-i1 // k) * k, n)
    out = [(g[0, 0], g[0, 1], g[:, 2].max(), g[:, 3].min(), g[-1, 4], g[:, 5].sum())
           for g in (rows[s:s + k] for s in range(i0, i1, k))]
    return np.array(out).reshape(-1, 6)


def test_pyramid_equals_merging_the_candles_directly_built_at_once_or_candle_by_candle():
    rng = np.random.default_rng(3)
    for trial in range(80):
        n = int(rng.integers(1, 1500))
        rows = walk(n, seed=trial)
        a = CandleArrays()
        if trial % 2:
            a.set(rows)
        else:  # live: appended one by one, some formed twice (a wider candle first, then the final one)
            a.set(rows[:1])
            for r in rows[1:]:
                if rng.random() < 0.3:
                    assert a.add([r[0], r[1], r[2] + 100, r[3] - 100, r[4] + 1, r[5] + 50])
                assert a.add(list(r))
        x0 = rows[0, 0] + rng.uniform(-10, n + 10) * M1
        x1 = x0 + rng.uniform(0, n + 20) * M1
        max_bars = int(rng.integers(1, 400))
        b = a.visible(x0, x1, max_bars)
        got = np.column_stack((b.ts, b.open, b.high, b.low, b.close, b.volume))
        want = direct(rows, x0, x1, b.k)
        assert got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=0), trial
        i0 = max(int(np.searchsorted(rows[:, 0], x0, side="left")) - 1, 0)
        i1 = min(int(np.searchsorted(rows[:, 0], x1, side="right")) + 1, n)
        needed = math.ceil(max(i1 - i0, 0) / max_bars)
        assert needed <= b.k <= max(1, 1.5 * needed)  # never more bars than room, at most 1.5x fewer


def test_merge_steps():
    ks = [m << level for level, m in (merge_factor(x) for x in range(1, 50))]
    assert ks[:13] == [1, 2, 3, 4, 6, 6, 8, 8, 12, 12, 12, 12, 16]
    assert all(k >= x for x, k in zip(range(1, 50), ks, strict=True))
