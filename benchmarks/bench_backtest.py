"""Backtest speed through the full engine path: moving-average crossover 10/30, long only, 100 %
of equity, no stop-loss/take-profit, 0.1 % fee, over the 20,111 hourly Coinbase BTC/USD candles
and the 45,031 one-minute FTX BTC-PERP candles. Strategy, risk checks, paper fills, accounting and
the equity curve all run per candle; results (orders, fills, positions, signals, curve, summary)
are written to a real SQLite database at the end and that write is inside the timing.

Measured like the reference figures in the issue: the backtest call only, imports and data
loading excluded (the database is opened once, outside the timing; ``bench_peers.py`` times the
command line's service call, which opens it per run). Target >= 250,000 candles/s.

    python benchmarks/bench_backtest.py [--repeat 5]
"""
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import ccxt.base.decimal_to_precision  # noqa: F401 - import cost excluded, as for the references

from cts_desktop.core.models import Market
from cts_desktop.core.risk import RiskLimits
from cts_desktop.engine.backtest import Backtest
from cts_desktop.engine.strategies.ma_cross import MovingAverageCross
from cts_desktop.exchange.candles import load_candles_csv
from cts_desktop.store.db import open_database
from cts_desktop.store.recorder import Recorder

DATA = Path(__file__).resolve().parents[1] / "resources" / "data"
CASES = [("COINBASE_BTC-USD_1h_2017-2019.csv", "BTC/USD"), ("FTX_BTC-PERP_1m_2022-01.csv", "BTC/USD")]
PARAMS = {"fast": 10, "slow": 30, "size": 1.0, "stop_loss": 0, "take_profit": 0, "allow_short": False}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    for name, symbol in CASES:
        series = load_candles_csv(DATA / name)
        market = Market(symbol, "BTC", "USD", "spot", 1e-8, 0.01)
        rates, trades = [], None
        with tempfile.TemporaryDirectory() as d:
            db = open_database(Path(d))
            for _ in range(args.repeat):
                rec = Recorder(db, deferred=True)
                bt = Backtest(MovingAverageCross(PARAMS), {symbol: series.candles}, {symbol: market},
                              timeframe_ms=series.timeframe_ms, starting_balance=10_000, fee=0.001,
                              limits=RiskLimits(1.0, 1), recorder=rec)
                t0 = time.perf_counter()
                result = bt.run()
                dt = time.perf_counter() - t0
                rec.close()
                rates.append(len(series.candles) / dt)
                trades = result.metrics.trades
            db.close()
        print(f"{name}: {len(series.candles)} candles, {trades} trades: median {statistics.median(rates):,.0f} "
              f"candles/s, best {max(rates):,.0f} (n={len(rates)})")
    print("load average %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
