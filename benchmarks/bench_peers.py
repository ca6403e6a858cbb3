"""CTS Desktop's backtest next to its peers, in ONE run, on the same data with the same rules.

Rules for every contender: SMA 10/30 crossover over closes, long only, the whole account on
every entry, 0.1 % fee on each fill, the signal on a candle's close filled at the next candle's
open. Data: the shipped Coinbase BTC/USD 1h (20,111 candles) and FTX BTC-PERP 1m (45,031).

Contenders:

* ``cts full``: the backtest service as ``cts-desktop backtest --candles FILE --symbol BTC/USD``
  runs it (``services.backtests.run`` with a data folder): the live engine's trading core per
  candle, every result written to a real SQLite database, opened and closed by each run as the
  command line does. Each timed run gets a database of its own with the schema in place (made
  outside the timing): opening runs ``PRAGMA quick_check``, whose cost grows with the file
  (~1 ms a MB here; an FTX backtest adds ~3 MB), so a shared file would make the figure depend
  on the repeat count;
* ``cts no db``: the same service without a data folder (nothing written);
* ``backtesting.py``: backtesting.py's ``Backtest.run`` with the SMA crossover of its own
  tutorial (``self.I`` over a pandas rolling mean, ``crossover``, ``buy()`` / ``position.close()``),
  ``commission=0.001``, fills at the next open (its default); cash 1e9 so that its whole-unit
  sizing buys at BTC prices (the trade count does not depend on the cash); its progress bar
  off (``TQDM_DISABLE``). Its ``crossover`` needs a strict inequality on both candles, so a
  cross through an exact tie of the two averages (fast == slow on one candle, then across) is
  no cross there, while our rule carries the last relation over a tie: on the FTX month the 14
  exact ties are exactly the 14 trades it has fewer (931 against 945);
* ``plain loop``: the same rules as a plain Python loop over the candle columns (running sums,
  no engine, no records): the floor of what interpreted Python costs per candle.

Timed: the backtest call only (building a contender's inputs -- reading the file, a pandas
DataFrame -- is outside, as are imports). The contenders run interleaved (one of each, then the
next repeat) so that the machine's load falls on all of them alike; the table gives the median
and the spread (min-max) of the repeats and the trade count of each (closed trades; a trade
still open at the end is not counted by any of them).

    pip install -e .[bench]
    python benchmarks/bench_peers.py [--repeat 7] [--only cts]
"""
from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import ccxt.base.decimal_to_precision  # noqa: F401 - import cost excluded

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py draws a progress bar when tqdm is there

from cts_desktop.services import backtests
from cts_desktop.store.db import open_database

DATA = Path(__file__).resolve().parents[1] / "resources" / "data"
FILES = ["COINBASE_BTC-USD_1h_2017-2019.csv", "FTX_BTC-PERP_1m_2022-01.csv"]
FAST, SLOW, FEE, CASH = 10, 30, 0.001, 10_000.0
PARAMS = {"fast": FAST, "slow": SLOW, "size": 1.0, "stop_loss": 0, "take_profit": 0, "allow_short": False}

Run = Callable[[], int]  # one timed backtest; returns its closed-trade count


def cts(inputs: backtests.BacktestInputs, data_dirs: Iterator[Path] | None) -> Run:
    """``data_dirs``: a fresh data folder (schema made) for each run, or None: no database."""
    settings = backtests.BacktestSettings(cash=CASH, fee=FEE)
    pending: List[Path] = []

    def prepare() -> None:  # outside the timing: the next run's folder
        if data_dirs is not None:
            pending.append(next(data_dirs))

    def run() -> int:
        strategy = backtests.make_strategy("ma_cross", PARAMS)
        data_dir = pending.pop() if pending else None
        return backtests.run(strategy, inputs, settings, data_dir=data_dir).metrics.trades
    run.prepare = prepare  # type: ignore[attr-defined]
    return run


def fresh_dirs(root: Path) -> Iterator[Path]:
    """New data folders under ``root``, each with the schema in place."""
    for i in itertools.count():
        d = root / f"data{i}"
        open_database(d).close()
        yield d


def backtesting_py(cols: Dict[str, list]) -> Run:
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def sma(values: "pd.Series", n: int) -> "pd.Series":
        return pd.Series(values).rolling(n).mean()

    class SmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                if not self.position:
                    self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    df = pd.DataFrame({"Open": cols["o"], "High": cols["h"], "Low": cols["l"], "Close": cols["c"],
                       "Volume": cols["v"]}, index=pd.to_datetime(cols["t"], unit="ms"))

    def run() -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = Backtest(df, SmaCross, cash=1e9, commission=FEE).run()
        return int(stats["# Trades"])
    return run


def plain_loop(cols: Dict[str, list]) -> Run:
    opens, closes = cols["o"], cols["c"]

    def run() -> int:
        fbuf, sbuf = [0.0] * FAST, [0.0] * SLOW
        fsum = ssum = 0.0
        cash, amount, trades, rel, pending = CASH, 0.0, 0, 0, 0
        for i in range(len(closes)):
            if pending:  # the order of the previous close fills at this open
                price = opens[i]
                if pending > 0:
                    amount = cash / (price * (1 + FEE))
                    cash = 0.0
                else:
                    cash = amount * price * (1 - FEE)
                    amount = 0.0
                    trades += 1
                pending = 0
            c = closes[i]
            fsum += c - fbuf[i % FAST]
            fbuf[i % FAST] = c
            ssum += c - sbuf[i % SLOW]
            sbuf[i % SLOW] = c
            if i + 1 < SLOW:
                continue
            d = fsum / FAST - ssum / SLOW
            new = 1 if d > 0 else -1 if d < 0 else rel  # a tie carries the last relation over
            if rel and new != rel:
                pending = 1 if new > 0 and not amount else -1 if new < 0 and amount else 0
            rel = new
        return trades
    return run


def columns(path: Path) -> Dict[str, list]:
    t, o, h, low, c, v = [], [], [], [], [], []
    with open(path) as f:
        next(f)
        for line in f:
            p = line.split(",")
            t.append(int(p[0]))
            o.append(float(p[1]))
            h.append(float(p[2]))
            low.append(float(p[3]))
            c.append(float(p[4]))
            v.append(float(p[5]))
    return {"t": t, "o": o, "h": h, "l": low, "c": c, "v": v}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", default="", help="run only the contenders whose name contains this")
    args = ap.parse_args()
    load0 = os.getloadavg()
    rows: List[Tuple[str, str, int, int, List[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        dirs = fresh_dirs(Path(tmp))
        for name in FILES:
            inputs = backtests.csv_inputs(backtests.load_csv(DATA / name), "BTC/USD", "spot", FEE)
            cols = columns(DATA / name)
            n = len(cols["c"])
            contenders = {"cts full (SQLite)": cts(inputs, dirs), "cts no db": cts(inputs, None),
                          "backtesting.py": backtesting_py(cols), "plain loop": plain_loop(cols)}
            contenders = {k: v for k, v in contenders.items() if args.only in k}
            times: Dict[str, List[float]] = {k: [] for k in contenders}
            trades: Dict[str, int] = {}
            for k, fn in contenders.items():  # one untimed run each: first-call costs out of the figures
                getattr(fn, "prepare", lambda: None)()
                trades[k] = fn()
            for _ in range(args.repeat):
                for k, fn in contenders.items():
                    getattr(fn, "prepare", lambda: None)()
                    gc.collect()
                    t0 = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t0)
            for k in contenders:
                rows.append((name.split("_")[0].lower(), k, n, trades[k], [n / t for t in times[k]]))
    load1 = os.getloadavg()
    print(f"SMA {FAST}/{SLOW} crossover, long only, full size, {FEE:.1%} fee, fills at the next open; "
          f"{args.repeat} timed runs each, interleaved")
    print(f"load average (1/5/15 min) before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
          f"after {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}; {os.cpu_count()} CPUs")
    print(f"{'data':<9} {'contender':<18} {'candles':>8} {'trades':>6} {'median/s':>11} {'min-max candles/s':>22}")
    for data, k, n, tr, rates in rows:
        print(f"{data:<9} {k:<18} {n:>8,} {tr:>6} {statistics.median(rates):>11,.0f} "
              f"{min(rates):>10,.0f}-{max(rates):<11,.0f}")


if __name__ == "__main__":
    main()
