"""Optimisation speed: a 1,000-trial grid of the MA crossover over the FTX month (45,031 one-minute
candles), with 1 and 2 workers (local process pool; 1 worker runs in this process). Target: under
2 minutes on 2 cores, and a parallel speed-up of at least 1.8x from 1 to 2 workers.

Each trial is a full backtest through the engine's core (no database writes) plus its metrics;
the study and its trials are written to a real SQLite file (inside the timing), the data loading
is not. Prints the load average before and after each run: this machine is shared.

    python benchmarks/bench_optimize.py [--workers 1,2] [--repeat 1]
"""
import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from cts_desktop.services.backtests import BacktestSettings
from cts_desktop.services.optimize import StudyRequest, run_study
from cts_desktop.services.research_data import DataSpec, load_data

# 10 fast x 10 slow x 10 stop-loss = 1,000 points; fast < slow everywhere, so every trial runs
SPACE = ["fast=5:50:5", "slow=60:240:20", "stop_loss=0:4.5:0.5", "take_profit=0", "size=1.0"]


def _cpu():
    """User + system CPU seconds of this process and its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    spec = DataSpec(dataset="ftx-btc-perp-1m")
    settings = BacktestSettings(cash=10_000.0)
    inputs = load_data(spec, settings.fee)
    print(f"FTX month: {sum(len(c) for c in inputs.series.values()):,} candles; {os.cpu_count()} CPUs")
    medians = {}
    for w in (int(x) for x in args.workers.split(",")):
        times = []
        for _ in range(args.repeat):
            req = StudyRequest("ma_cross", SPACE, spec, settings, method="grid", objective="sharpe", workers=w)
            with tempfile.TemporaryDirectory() as d:
                load0 = os.getloadavg()[0]
                cpu0 = _cpu()
                t0 = time.perf_counter()
                result = run_study(req, Path(d), inputs=inputs)
                dt = time.perf_counter() - t0
                cpu = _cpu() - cpu0
            times.append(dt)
            print(f"{w} worker(s): {len(result.trials)} trials in {dt:.1f} s ({dt / len(result.trials) * 1000:.0f} ms "
                  f"a trial, {len(result.trials) / dt:.1f} trials/s); load {load0:.2f} -> {os.getloadavg()[0]:.2f}; "
                  f"best #{result.best.number} {result.best.params} sharpe {result.best.value:.2f}")
            print(f"    CPU time {cpu:.1f} s (this process and its workers): {cpu / dt:.2f} cores busy on average, "
                  f"{cpu / len(result.trials) * 1000:.0f} ms of CPU a trial")
        medians[w] = statistics.median(times)
    if 1 in medians and 2 in medians:
        print(f"speed-up 1 -> 2 workers: {medians[1] / medians[2]:.2f}x (target >= 1.8x); "
              f"2 workers: {medians[2]:.1f} s (target < 120 s)")


if __name__ == "__main__":
    main()
