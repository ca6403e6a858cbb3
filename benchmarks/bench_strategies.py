"""Throughput of every registered strategy's ``on_candle``, in candles per second.

Feeds the recorded FTX BTC-PERP 1m candles (45,031 of them, ../shared/data/ohlcv) straight to
``on_candle`` with a minimal context, so the figure is the strategy's own cost (no engine, no
aggregation, no orders). Signals are applied crudely (an entry opens a position, an exit closes
it) so that the exit paths run too. Best of ``--repeat`` runs.

    python benchmarks/bench_strategies.py [--data PATH] [--repeat 5]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cts_desktop.core.models import BUY, LONG, SHORT, Position  # noqa: E402
from cts_desktop.engine.strategies import REGISTRY  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ohlcv" / "FTX_BTC-PERP_1m_2022-01.csv"
SYMBOL = "BTC/USD:USD"


class Ctx:
    def __init__(self):
        self.positions = {}

    def position(self, symbol):
        return self.positions.get(symbol)

    def equity(self):
        return 10_000.0

    def can_short(self, symbol):
        return True


def load(path):
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        return [(int(t), float(o), float(h), float(lo), float(c), float(v)) for t, o, h, lo, c, v in rows]


def bench(cls, params, candles, repeat):
    best = float("inf")
    signals = 0
    for _ in range(repeat):
        strat = cls(params)
        ctx = Ctx()
        strat.on_start(ctx, [SYMBOL])
        on_candle = strat.on_candle
        positions = ctx.positions
        n = 0
        t = time.perf_counter()
        for c in candles:
            out = on_candle(ctx, SYMBOL, c)
            if out:
                n += len(out)
                for s in out:
                    if s.intent == "exit":
                        positions.pop(SYMBOL, None)
                    else:
                        positions[SYMBOL] = Position(0, SYMBOL, LONG if s.side == BUY else SHORT, c[0], amount=1.0, entry_price=c[4])
        best = min(best, time.perf_counter() - t)
        signals = n
    return best, signals


def unlock_calendar(candles, directory):
    """A few made-up unlocks inside the data's span, so the entry and exit paths run."""
    start, end = candles[0][0], candles[-1][0]
    day = 86_400_000
    path = os.path.join(directory, "bench_unlocks.csv")
    with open(path, "w") as fh:
        fh.write("token,symbol,time,unlock_pct\n")
        for i, t in enumerate(range(start + 9 * day, end - 3 * day, 4 * day)):
            fh.write(f"BTC,{SYMBOL},{t},{6 + i}\n")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    candles = load(args.data)
    print(f"{len(candles):,} candles from {Path(args.data).name}, best of {args.repeat}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        for name, cls in REGISTRY.items():
            params = {"timeframe": "1m"} if any(p.name == "timeframe" for p in cls.params) else {}
            if any(p.name == "allow_short" for p in cls.params):
                params["allow_short"] = True
            cases.append((name, cls, params))
            if name == "token_unlock":
                cases.append(("token_unlock+calendar", cls, dict(params, calendar=unlock_calendar(candles, tmp),
                                                                    volume_unit="quote")))
        print(f"{'strategy':<24} {'candles/s':>12} {'us/candle':>10} {'signals':>8}")
        for label, cls, params in cases:
            secs, n = bench(cls, params, candles, args.repeat)
            print(f"{label:<24} {len(candles) / secs:>12,.0f} {secs / len(candles) * 1e6:>10.2f} {n:>8}")


if __name__ == "__main__":
    main()
