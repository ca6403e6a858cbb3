"""The candle chart with a year of 1m candles (525,600): how long one frame takes while the
trader pans and zooms, and while candles stream in with Follow on.

Each frame: the view range is moved (a zoom step of 15 % about the centre, or a pan of a fifth of
the view), the chart redraws (visible slice, merge to ~1 bar per 3 px, bars, volume, two moving
averages) and the widget is painted (``QWidget.repaint`` of the plot area, offscreen). Frames
are timed from the range change to the end of the paint. The candles are a seeded random walk
(the level of detail does not depend on the prices); the averages are the ma_cross strategy's.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_candle_chart.py [--candles 525600] [--frames 200]

Target: frames under 16 ms (p99) at 1280x720. Besides the wall-clock frame times (the target), the
CPU time of this thread per frame is shown: on a shared machine the gap between them is time spent
waiting for a core; the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def walk(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    close = 30_000 + np.cumsum(rng.normal(0, 10, n))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) + rng.uniform(0, 5, n)
    low = np.minimum(open_, close) - rng.uniform(0, 5, n)
    ts = 1_700_000_000_000 + np.arange(n) * 60_000
    return np.column_stack((ts, open_, high, low, close, rng.uniform(1, 10, n)))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candles", type=int, default=525_600)
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    from cts_desktop.services import charting
    from cts_desktop.ui.candle_chart import CandleChart

    load0 = os.getloadavg()[0]
    rows = walk(args.candles)
    chart = CandleChart()
    chart.resize(1280, 720)
    chart.show()
    t0 = time.perf_counter()
    chart.set_candles(rows, show_last=0)
    lines = charting.indicator_lines("ma_cross", {"fast": 10, "slow": 30}, rows[:, 0], rows[:, 4], 60_000)
    chart.set_lines(lines)
    app.processEvents()
    print(f"{args.candles:,} candles loaded with two averages in {time.perf_counter() - t0:.2f} s")

    cpu: dict = {}

    def timed(name: str, step) -> float:
        start, start_cpu = time.perf_counter(), time.thread_time()
        step()
        cpu.setdefault(name, []).append((time.thread_time() - start_cpu) * 1000.0)
        return (time.perf_counter() - start) * 1000.0

    def frame(x0: float, x1: float, name: str) -> float:
        def step() -> None:
            chart.price.setXRange(x0, x1, padding=0)
            chart.redraw()
            chart.glw.viewport().repaint()
        return timed(name, step)

    results = {}
    ts = rows[:, 0] / 1000.0
    lo, hi = ts[0], ts[-1] + 60
    # zoom in from the whole year to ~100 candles, then back out
    zoom, x0, x1 = [], lo, hi
    steps = args.frames // 2
    for i in range(args.frames):
        c, half = (x0 + x1) / 2, (x1 - x0) / 2
        half = half * (0.85 if i < steps else 1 / 0.85)
        half = max(half, 50 * 60)
        c = min(max(c, lo + half), hi - half) if half * 2 < hi - lo else (lo + hi) / 2
        x0, x1 = c - half, c + half
        zoom.append(frame(x0, x1, "zoom in and out"))
    results["zoom in and out"] = zoom
    # pan across the year at a one-week view
    pan, width = [], 7 * 86_400
    x0 = lo
    for _ in range(args.frames):
        x0 = x0 + width / 5 if x0 + width * 1.2 < hi else lo
        pan.append(frame(x0, x0 + width, "pan (1-week view)"))
    results["pan (1-week view)"] = pan
    # the whole year visible
    results["whole year"] = [frame(lo, hi, "whole year") for _ in range(max(args.frames // 4, 10))]
    # live: a new candle a frame with Follow on (last 200 in view)
    chart.show_last(200)
    chart.follow.setChecked(True)
    live, t = [], rows[-1, 0]
    for j in range(1, args.frames + 1):
        def step(j: int = j) -> None:
            chart.add_candle([t + j * 60_000, 30_000, 30_010, 29_990, 30_005, 2.0])
            chart.redraw()
            chart.glw.viewport().repaint()
        live.append(timed("live candles, Follow on", step))
    results["live candles, Follow on"] = live
    print(f"load average before {load0:.2f}, after {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{'scenario':28} {'frames':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu p50':>8} {'cpu p99':>8}")
    for name, xs in results.items():
        c = cpu[name]
        print(f"{name:28} {len(xs):6d} {statistics.median(xs):8.2f} {pct(xs, 99):8.2f} {max(xs):8.2f}"
              f" {statistics.median(c):8.2f} {pct(c, 99):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
