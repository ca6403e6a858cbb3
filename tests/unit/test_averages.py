"""Moving averages stay exact over long data: a tie is a tie, and the crossover strategy's signals
equal a brute-force recomputation (math.fsum over each window) on 1M random-walk candles."""
import math

import numpy as np

from cts_desktop.engine.strategies.averages import EMA, SMA, near_tolerance, relation
from cts_desktop.engine.strategies.ma_cross import MovingAverageCross


class NaiveSMA:
    """The running sum as it was before (never recomputed): kept here to show it fails."""

    def __init__(self, n):
        self.n, self.buf, self.i, self.count, self.total = n, [0.0] * n, 0, 0, 0.0

    def update(self, x):
        i = self.i
        self.total += x - self.buf[i]
        self.buf[i] = x
        self.i = i + 1 if i + 1 < self.n else 0
        self.count = min(self.count + 1, self.n)
        return self.total / self.n if self.count == self.n else None


class FlatBook:
    """The strategy's view of the account: never a position, shorts allowed (so every crossover
    gives exactly one entry signal)."""

    def position(self, symbol):
        return None

    def can_short(self, symbol):
        return True


def random_walk(n, seed):
    rng = np.random.default_rng(seed)
    return ((4_000_000 + np.cumsum(rng.integers(-3, 4, n))) / 100.0).tolist()  # a 0.01 tick grid


def test_an_exact_tie_after_many_updates_is_a_tie():
    closes = random_walk(5000, 1) + [40000.5] * 40  # flat: both means are exactly 40000.5
    naive, sma = (NaiveSMA(10), NaiveSMA(30)), (SMA(10), SMA(30))
    for x in closes:
        nf, ns = (a.update(x) for a in naive)
        f, s = (a.update(x) for a in sma)
    assert nf != ns  # the drifted running sum reads a relation that is not there
    assert sma[0].exact() == sma[1].exact() == 40000.5
    assert relation(f, s, sma[0], sma[1], near_tolerance(10, 30)) == 0


def brute_force_crossovers(closes, fast, slow):
    """(index, +1 up / -1 down) of every crossover, from fsum over each window, tie = no relation."""
    out, last = [], 0
    for i in range(slow - 1, len(closes)):
        f = math.fsum(closes[i - fast + 1:i + 1]) / fast
        s = math.fsum(closes[i - slow + 1:i + 1]) / slow
        rel = 1 if f > s else -1 if f < s else 0
        if rel == 0:
            continue
        if last and rel != last:
            out.append((i, rel))
        last = rel
    return out


def strategy_crossovers(closes, params):
    strategy = MovingAverageCross({**params, "allow_short": True})
    book = FlatBook()
    strategy.on_start(book, ["X"])
    out = []
    for i, c in enumerate(closes):
        signals = strategy.on_candle(book, "X", (i, c, c, c, c, 0.0))
        if signals:
            (sig,) = signals
            out.append((i, 1 if sig.side == "buy" else -1))
    return out


def test_signals_equal_a_brute_force_recomputation_on_1m_candles():
    closes = random_walk(1_000_000, 7)
    want = brute_force_crossovers(closes, 10, 30)
    assert len(want) > 30_000
    assert strategy_crossovers(closes, {"fast": 10, "slow": 30}) == want
    # ... where the never-recomputed running sum misreads ties: its relation differs from the
    # reference on thousands of candles of this very series
    fa, sa = NaiveSMA(10), NaiveSMA(30)
    misread = 0
    for i, x in enumerate(closes):
        f, s = fa.update(x), sa.update(x)
        if s is None:
            continue
        ref_f, ref_s = math.fsum(closes[i - 9:i + 1]) / 10, math.fsum(closes[i - 29:i + 1]) / 30
        misread += (f > s) != (ref_f > ref_s) or (f == s) != (ref_f == ref_s)
    assert misread > 100


def test_sma_value_is_the_fsum_mean_after_long_data():
    closes = random_walk(200_003, 3)
    a = SMA(21)
    for x in closes:
        v = a.update(x)
    assert abs(v - math.fsum(closes[-21:]) / 21) <= 1e-9 and a.exact() == math.fsum(closes[-21:]) / 21


def test_ema_is_its_recursion_seeded_with_the_exact_sma():
    closes = random_walk(1000, 5)
    e = EMA(12)
    for x in closes:
        v = e.update(x)
    want = math.fsum(closes[:12]) / 12
    for x in closes[12:]:
        want += 2 / 13 * (x - want)
    assert v == want == e.exact()


def _ftx_closes():
    from pathlib import Path

    from cts_desktop.exchange.candles import load_candles_csv

    data = Path(__file__).resolve().parents[2] / "resources" / "data" / "FTX_BTC-PERP_1m_2022-01.csv"
    return load_candles_csv(data).candles.close.tolist()


def test_sma_pair_equals_two_smas_bit_for_bit_and_the_plain_mean_over_the_ftx_month():
    """The crossover's fused update (one call for both averages) gives the values of two separate
    SMA objects exactly, and each is within 1e-9 (relative) of the plain mean of its window."""
    from cts_desktop.engine.strategies.averages import SMAPair

    closes = _ftx_closes()
    assert len(closes) == 45_031
    for fast_n, slow_n in ((10, 30), (1, 2), (7, 200)):
        pair, fast, slow = SMAPair(fast_n, slow_n), SMA(fast_n), SMA(slow_n)
        for k, x in enumerate(closes):
            got = pair.update(x)
            f, s = fast.update(x), slow.update(x)
            if k + 1 < slow_n:
                assert got is None
                continue
            assert got == (f, s)  # the same floats, not just close ones
            assert pair.fast.value == f and pair.slow.value == s
            assert pair.fast.exact() == fast.exact() and pair.slow.exact() == slow.exact()
            plain_fast = sum(closes[k + 1 - fast_n:k + 1]) / fast_n
            plain_slow = sum(closes[k + 1 - slow_n:k + 1]) / slow_n
            assert abs(f - plain_fast) <= 1e-9 * plain_fast
            assert abs(s - plain_slow) <= 1e-9 * plain_slow


def test_ema_pair_equals_two_emas():
    from cts_desktop.engine.strategies.averages import EMAPair

    closes = _ftx_closes()[:5000]
    pair, fast, slow = EMAPair(10, 30), EMA(10), EMA(30)
    for x in closes:
        got = pair.update(x)
        f, s = fast.update(x), slow.update(x)
        assert got == (None if f is None or s is None else (f, s))
    assert got is not None
