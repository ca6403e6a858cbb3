"""Candle import speed and memory: the columnar loader against the row-by-row one it replaced.

Generates a random-walk candle CSV (one-minute candles, prices on a 0.01 tick, in a temporary
folder; 5,000,000 candles by default, about 280 MB), then loads it in a fresh process per loader
and reports the load time and the process's peak resident memory (``VmHWM``, which includes
the interpreter and numpy/pyarrow, about 60-90 MB before any candle is read):

* ``columnar``: :func:`cts_desktop.exchange.candles.load_candles_csv` (pyarrow's CSV reader into
  numpy columns, vectorised checks);
* ``rows``: the loader before it (Python ``csv`` + one tuple per candle), taken from git at
  ``--old-commit`` when the repository history is there;
* ``parquet``: the same candles written to Parquet and read back with the columnar loader;
* with ``--backtest``: the columnar load plus a full moving-average backtest over it (peak
  memory end to end, including the engine's equity curve).

Targets (issue 11): < 100 bytes a candle of candle data, 5M candles in < 1 GB end to end,
loading 5M candles from CSV in < 3 s.

    python benchmarks/bench_import.py [--candles 5000000] [--backtest] [--old-commit d2c860b]
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def generate(path: Path, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pv

    rng = np.random.default_rng(11)
    close = 4_000_000 + np.cumsum(rng.integers(-40, 41, n))  # ticks of 0.01
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = rng.integers(0, 30, (2, n))
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    table = pa.table({
        "timestamp": 1_640_995_200_000 + np.arange(n, dtype=np.int64) * 60_000,
        "open": open_ / 100, "high": high / 100, "low": low / 100, "close": close / 100,
        "volume": np.round(rng.random(n) * 50, 4),
    })
    with pa.OSFile(str(path), "wb") as out:
        out.write(b"timestamp,open,high,low,close,volume\n")
        pv.write_csv(table, out, pv.WriteOptions(include_header=False, quoting_style="none"))


def old_loader(commit: str):
    """The row-by-row loader as it was at ``commit`` (None when git cannot show it)."""
    try:
        src = subprocess.run(["git", "show", f"{commit}:cts_desktop/exchange/candles.py"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType("old_candles")
    sys.modules["old_candles"] = mod  # dataclasses look their module up
    exec(compile(src.replace("from ..core.models import", "from cts_desktop.core.models import"),  # noqa: S102
                 "old_candles.py", "exec"), mod.__dict__)
    return mod.load_candles_csv


def peak_rss_mb() -> float:
    """This process's peak resident memory: ``VmHWM`` (Linux; fresh at exec, unlike ``ru_maxrss``,
    which a child inherits from its parent), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, path: str, commit: str) -> None:
    sys.path.insert(0, str(REPO))
    if kind == "rows":  # without pyarrow: the old loader never imported it
        load = old_loader(commit)
    else:
        from cts_desktop.exchange.candles import load_candles_csv as load
    if load is None:
        print(json.dumps({"skipped": f"git cannot show {commit}"}))
        return
    rss0 = peak_rss_mb()
    t = time.perf_counter()
    series = load(path)
    load_s = time.perf_counter() - t
    out = {"candles": len(series.candles), "load_s": load_s, "rss_before_mb": rss0}
    if kind == "backtest":
        from cts_desktop.core.models import Market
        from cts_desktop.core.risk import RiskLimits
        from cts_desktop.engine.backtest import Backtest
        from cts_desktop.engine.strategies.ma_cross import MovingAverageCross
        market = Market("BTC/USD", "BTC", "USD", "spot", 1e-8, 0.01)
        bt = Backtest(MovingAverageCross({"size": 1.0, "stop_loss": 0, "take_profit": 0}), {"BTC/USD": series.candles},
                      {"BTC/USD": market}, timeframe_ms=series.timeframe_ms, starting_balance=10_000,
                      limits=RiskLimits(1.0, 1))
        t = time.perf_counter()
        result = bt.run()
        out.update(backtest_s=time.perf_counter() - t, trades=result.metrics.trades)
    if hasattr(series.candles, "nbytes"):
        out["bytes_per_candle"] = series.candles.nbytes / len(series.candles)
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


def run(kind: str, path: Path, commit: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", kind, str(path), "--old-commit", commit],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candles", type=int, default=5_000_000)
    ap.add_argument("--backtest", action="store_true", help="also measure load + backtest end to end")
    ap.add_argument("--old-commit", default="d2c860b", help="commit holding the row-by-row loader")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.old_commit)
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "candles.csv"
        t = time.perf_counter()
        generate(csv, args.candles)
        print(f"{args.candles:,} candles, {csv.stat().st_size / 1e6:,.0f} MB CSV, generated in "
              f"{time.perf_counter() - t:.1f} s")
        sys.path.insert(0, str(REPO))
        from cts_desktop.exchange.candles import load_candles_csv, write_candles
        pq = write_candles(load_candles_csv(csv), Path(tmp) / "candles.parquet")
        print(f"Parquet: {pq.stat().st_size / 1e6:,.0f} MB")
        kinds = [("columnar", csv), ("parquet", pq), ("rows", csv)] + ([("backtest", csv)] if args.backtest else [])
        for kind, path in kinds:
            r = run(kind, path, args.old_commit)
            if "skipped" in r:
                print(f"{kind:9s} skipped: {r['skipped']}")
                continue
            extra = f", {r['bytes_per_candle']:.0f} B/candle in the arrays" if "bytes_per_candle" in r else ""
            if kind == "backtest":
                extra += f", backtest {r['backtest_s']:.1f} s ({r['trades']} trades)"
            print(f"{kind:9s} load {r['load_s']:6.2f} s, peak RSS {r['peak_rss_mb']:7,.0f} MB "
                  f"(interpreter and libraries before loading {r['rss_before_mb']:.0f} MB){extra}")


if __name__ == "__main__":
    main()
