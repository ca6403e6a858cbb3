"""The candle chart's level of detail (no Qt): merged bars keep every high and low, the forming
candle is replaced, the line slices follow the bars."""
import numpy as np

from cts_desktop.ui.candle_data import CandleArrays, line_visible

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
    assert len(b) <= 1000 and b.k == 526 and b.width == 526 * M1
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
