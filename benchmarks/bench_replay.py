"""Headless replay of the whole FTX BTC-PERP month (45,031 one-minute candles) at maximum speed,
with every record written to SQLite (orders, fills, positions, signals, events, one equity
point per candle). Target: under 10 s on a 2-core machine.

    python benchmarks/bench_replay.py [--repeat 3]

Measures the engine run from start() until the run is stopped and the recorder has committed
everything (the process start and Python imports are excluded; the CSV load is included).
"""
import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from cts_desktop.services import AppServices
from cts_desktop.store.settings import BUILTIN_PAPER_NAME


async def one_run(services):
    t0 = time.perf_counter()
    eng = await services.start_engine(BUILTIN_PAPER_NAME)
    await eng.wait()
    await asyncio.wrap_future(services.recorder.flush())
    return time.perf_counter() - t0, eng.summary()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            services = AppServices(Path(d) / "data", Path(d) / "config")
            services.connection(BUILTIN_PAPER_NAME).speed = "max"
            dt, s = asyncio.run(one_run(services))
            services.close()
            db = sqlite3.connect(Path(d) / "data" / "cts-desktop.sqlite3")
            rows = {t: db.execute(f"select count(*) from {t}").fetchone()[0]
                    for t in ("orders", "fills", "positions", "signals", "events")}
            rows["equity points"] = db.execute("select sum(points) from equity_chunks").fetchone()[0]
            db.close()
            times.append(dt)
            print(f"run: {dt:.2f} s, {s['candles'] / dt:,.0f} candles/s, rows written {rows}")
    print(f"median {statistics.median(times):.2f} s over {len(times)} runs (target < 10 s)")


if __name__ == "__main__":
    main()
