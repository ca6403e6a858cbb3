"""Where a full trader's app keeps its memory: RSS of the real window, empty and full.

The same window and data as ``bench_scale.py`` (10,000 open positions across 500 symbols, a
50,000-row history, a 100,000-line activity log, a stored run's 1,000,000-point equity curve
loaded into the chart the way the window loads a run's history, then a few seconds of the engine's events: prices every second, 20 opens and closes, 1,000 log lines), with
the process's resident memory (``VmRSS``, MB) after each step and its highest so far (``VmHWM``) and which heavy libraries are
loaded (an exchange client library is loaded only when a connection needs it).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_memory.py [--seconds 5] [--tracemalloc]

``--tree DIR`` runs the same steps on another checkout (e.g. ``git archive`` of an older
commit) in a child process first, so two versions are measured side by side in one run.
``--tracemalloc`` prints the 15 source lines holding the most Python memory at the end (slow,
and it adds its own overhead to the RSS). Target (issue 10): < 400 MB in the full scenario.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from array import array
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
HEAVY = ("ccxt", "ccxt.async_support", "ccxt.pro", "pyarrow", "numpy", "pyqtgraph", "optuna", "pandas")


def rss_mb(field: str = "VmRSS") -> float:
    """The process's resident memory now (``VmRSS``) or at its highest so far (``VmHWM``), MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def scenario(seconds: float, out: list) -> None:
    import tempfile

    from bench_scale import N_CLOSED, N_CURVE, N_LOG, N_OPEN, T0, Feed

    from cts_desktop.services import AppServices
    from cts_desktop.store.settings import BUILTIN_PAPER_NAME
    from cts_desktop.ui.heap import settle
    from cts_desktop.ui.main_window import MainWindow

    def mark(label: str) -> None:
        loaded = ",".join(m for m in HEAVY if m in sys.modules) or "-"
        out.append((label, rss_mb(), rss_mb("VmHWM"), loaded))

    mark("imports done (window module and services)")
    tmp = Path(tempfile.mkdtemp(prefix="cts-bench-mem-"))
    services = AppServices(tmp / "data", tmp / "config")
    win = MainWindow(services, connection=BUILTIN_PAPER_NAME)
    win.resize(1280, 800)
    win.show()
    for tab in range(win.tabs.count()):  # every tab drawn once, as a user looking around would
        win.tabs.setCurrentIndex(tab)
        await asyncio.sleep(0.2)
    win.tabs.setCurrentIndex(0)
    await asyncio.sleep(1.0)
    mark("start: empty window shown, every tab drawn once")

    rng = random.Random(7)
    feed = Feed(services.bus, win.current, rng)
    ptab, atab, chart = win.positions_tab, win.activity_tab, win.live_tab.chart
    closed = []
    for _ in range(N_CLOSED):
        p = feed.position()
        p.closed_at, p.exit_price, p.exit_amount, p.amount = p.opened_at + 60_000, p.entry_price * 1.01, p.amount, 0.0
        p.realized_pnl, p.close_reason = rng.gauss(0, 1), rng.choice(("exit", "stop-loss", "take-profit", "signal"))
        closed.append(p)
    ptab.load(feed.open_many(N_OPEN), closed[::-1])
    del closed
    await asyncio.sleep(0.3)
    mark("+ 10,000 open and 50,000 closed positions")
    atab.load(feed.lines(N_LOG))
    await asyncio.sleep(0.3)
    mark("+ 100,000 log lines")
    # a stored run's 1,000,000-point curve, loaded as ConnectionFeed.load_history loads it
    from cts_desktop.store.db import EquityChunkRec, Run
    with EquityChunkRec._meta.database.atomic():
        run = Run.create(connection=win.current, mode="paper-replay", started_at=T0, state="stopped")
        for i in range(0, N_CURVE, 25_000):  # packed chunks, as a replay commits them
            ts = array("q", range(T0 + i * 60_000, T0 + min(i + 25_000, N_CURVE) * 60_000, 60_000))
            eq = array("d", (10_000 + 50 * ((j // 5000) % 7) + rng.gauss(0, 5) for j in range(i, i + len(ts))))
            EquityChunkRec.create(run=run.id, first_ts=ts[0], last_ts=ts[-1], points=len(ts), timestamps=ts.tobytes(),
                                  equity=eq.tobytes(), balance=eq.tobytes())
    win.tabs.setCurrentWidget(win.live_tab)
    if hasattr(services, "equity_columns"):  # two columns (this version)
        from cts_desktop.ui.chart_data import Columns
        chart.set_points(Columns(*services.equity_columns(win.current)))
    else:  # a list of (ts, equity) pairs (older versions)
        chart.set_points(services.equity_curve(win.current))
    while chart.loading:
        await asyncio.sleep(0.005)
    settle()
    await asyncio.sleep(0.3)
    mark("+ a stored 1,000,000-point equity curve, loaded into the chart")
    win.tabs.setCurrentWidget(ptab)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        feed.second(churn=20, log_lines=1000)
        await asyncio.sleep(1.0)
    mark(f"full: after {seconds:g} s of events (prices, 20 opens/closes, 1,000 log lines a second)")
    win.close()
    await services.stop_all()
    services.close()


def run_here(root: Path, seconds: float, trace: bool) -> list:
    sys.path[:0] = [str(root), str(root / "benchmarks")]  # that checkout's app and bench_scale
    if trace:
        import tracemalloc
        tracemalloc.start()
    out: list = [("Python, before the app's imports", rss_mb(), rss_mb("VmHWM"), "-")]
    import qasync

    from cts_desktop.ui.app_gui import ensure_app

    app = ensure_app()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(scenario(seconds, out))
    if trace:
        import tracemalloc
        snap = tracemalloc.take_snapshot()
        for stat in snap.statistics("lineno")[:15]:
            print(f"  tracemalloc {stat.size / 2**20:7.1f} MB {stat.count:>9,} blocks  {stat.traceback[0]}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds of events in the full scenario")
    ap.add_argument("--tree", help="also measure this checkout first (a child process)")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--root", default=str(HERE.parent), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.tree:  # this script on the other checkout's app and bench_scale, in a fresh process
        cmd = [sys.executable, str(HERE / "bench_memory.py"), "--seconds", str(args.seconds), "--root", args.tree]
        subprocess.run(cmd, env={**os.environ, "PYTHONPATH": ""}, cwd=args.tree, check=True)
    root = Path(args.root).resolve()
    out = run_here(root, args.seconds, args.tracemalloc)
    print(f"RSS now / highest so far (MB) of {root} (load {os.getloadavg()[0]:.2f}):")
    for label, mb, peak, loaded in out:
        print(f"  {label:<76} {mb:7.1f} / {peak:7.1f}  loaded: {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
