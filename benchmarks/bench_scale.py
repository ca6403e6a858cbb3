"""A full trader's app: how smooth the window stays and what the engine's accounting costs.

Two parts.

Engine: a :class:`TradingCore` with 10,000 open positions (one per symbol, the engine's one-way
model, so 10,000 symbols) is fed one candle per symbol per simulated second through its real
``on_candle`` path (paper fills check, exits check, mark to market, equity curve, snapshots);
prints the CPU time of one round (= the share of one core when the round comes every second).
``--symbols 500`` re-prices only that many symbols a round (the rest keep their price).

Window: the real :class:`MainWindow` on a temporary data directory, fed through the engine's
event path (events published on ``services.bus``, coalesced by the bridge, applied by the
feed): 10,000 open positions across 500 symbols re-priced every second (an account snapshot
with 500 prices), 20 opens and 20 closes a second, log lines streaming into a full
100,000-line activity log, a 50,000-row position history and a 1,000,000-point equity curve
growing by a point a second. A precise 10 ms QTimer records how late each tick fires (the lag
a click or a repaint waits). Measured per sort order of the open positions and per tab shown,
then the one-off actions: sorting the history by each column, filtering the log, a burst of
100,000 log lines, and loading the 1,000,000-point equity history (the chart loads it in chunks).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_scale.py [--seconds 8] [--engine-only]

Targets: lag p99 < 16 ms and max < 50 ms in every steady scenario; every sort and filter of
100,000 rows < 200 ms; RSS < 400 MB; engine < 5 % of one core.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_gui_lag import LagProbe, pct  # noqa: E402

from cts_desktop.core import events as ev  # noqa: E402
from cts_desktop.core.accounting import Portfolio  # noqa: E402
from cts_desktop.core.models import Fill, Market, Position  # noqa: E402
from cts_desktop.core.risk import RiskLimits  # noqa: E402

N_OPEN, N_SYMBOLS, N_CLOSED, N_LOG, N_CURVE = 10_000, 500, 50_000, 100_000, 1_000_000
T0 = 1_640_995_200_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- engine -------------------------------------------------------------------------------------
def bench_engine(n_pos: int, symbols: int, rounds: int) -> dict:
    from cts_desktop.engine.core import TradingCore

    names = [f"C{i}/USDT" for i in range(n_pos)]
    markets = {s: Market(symbol=s, base=s.split("/")[0], quote="USDT", type="swap") for s in names}
    pf = Portfolio(1e12, "USDT")
    core = TradingCore("bench", markets, [], portfolio=pf, limits=RiskLimits(1.0, n_pos), data_timeframe_ms=1000)
    rng = random.Random(1)
    prices = {s: rng.uniform(1, 1000) for s in names}
    for i, s in enumerate(names):
        pf.apply_fill(Fill(id=f"f{i}", order_id=f"o{i}", clientOrderId=f"c{i}", symbol=s,
                           side=rng.choice(("buy", "sell")), amount=1.0, price=prices[s], timestamp=T0,
                           fee=prices[s] * 1e-3, fee_currency="USDT"))
    assert len(pf.open) == n_pos
    repriced = names[:symbols] if symbols < n_pos else names
    cpu = []
    for r in range(rounds):
        ts = T0 + (r + 1) * 1000
        candles = []
        for s in repriced:
            p = prices[s] = prices[s] * (1 + rng.gauss(0, 0.001))
            candles.append((s, (ts, p, p * 1.001, p * 0.999, p, 1.0)))
        t = time.process_time()
        for s, c in candles:
            core.on_candle(s, c)
        cpu.append(time.process_time() - t)
    brute = sum(p.unrealized_pnl for p in pf.open.values())
    assert abs(pf.unrealized_pnl - brute) <= 1e-6 * max(1.0, abs(brute)), (pf.unrealized_pnl, brute)
    cpu.sort()
    return {"positions": n_pos, "symbols": len(repriced), "median_s": cpu[len(cpu) // 2], "max_s": cpu[-1]}


# -- window -------------------------------------------------------------------------------------
class Feed:
    """Publishes what an engine with a full book would, on the services' bus."""

    def __init__(self, bus, name: str, rng: random.Random):
        self.bus, self.name, self.rng = bus, name, rng
        self.symbols = [f"C{i}/USDT" for i in range(N_SYMBOLS)]
        self.prices = {s: rng.uniform(1, 1000) for s in self.symbols}
        self.open: dict = {}
        self.next_id = 1
        self.ts = T0 + N_CURVE * 60_000
        self.log_seq = 0
        self.equity = 10_000.0

    def position(self) -> Position:
        s = self.rng.choice(self.symbols)
        p = Position(id=self.next_id, symbol=s, side=self.rng.choice(("long", "short")), opened_at=self.ts,
                     amount=self.rng.uniform(0.1, 5), entry_price=self.prices[s], max_amount=1.0,
                     last_price=self.prices[s], fees=0.01, strategy="bench")
        self.next_id += 1
        return p

    def open_many(self, n: int) -> list:
        out = [self.position() for _ in range(n)]
        for p in out:
            self.open[p.id] = p
        return out

    def lines(self, n: int) -> list:
        cats = ("order", "fill", "position", "signal", "engine")
        out = [ev.LogEvent(self.name, self.ts, cats[(self.log_seq + i) % 5],
                           f"line {self.log_seq + i}: filled buy 0.1 C{(self.log_seq + i) % 500}/USDT",
                           "info", time.time()) for i in range(n)]
        self.log_seq += n
        return out

    def second(self, churn: int, log_lines: int) -> None:
        """One second of a busy engine: new prices, ``churn`` opens and closes, log lines, an
        equity point and an account snapshot."""
        rng, pub, name = self.rng, self.bus.publish, self.name
        self.ts += 1000
        for s in self.symbols:
            self.prices[s] *= 1 + rng.gauss(0, 0.002)
        for pid in rng.sample(list(self.open), churn):
            p = self.open.pop(pid)
            p.closed_at, p.exit_price, p.close_reason = self.ts, self.prices[p.symbol], "exit"
            p.exit_amount, p.amount = p.amount, 0.0
            p.realized_pnl = rng.gauss(0, 1)
            pub(ev.PositionEvent(name, p))
        for p in self.open_many(churn):
            pub(ev.PositionEvent(name, p))
        for e in self.lines(log_lines):
            pub(e)
        self.equity += rng.gauss(0, 3)
        pub(ev.EquityPoints(name, [(self.ts, self.equity)]))
        pub(ev.AccountSnapshot(name, self.ts, "USDT", 10_000.0, self.equity, 0.0, self.equity - 10_000, 0.0,
                               self.equity - 10_000, N_CLOSED, N_CLOSED // 2, 0.5, 0.1, len(self.open),
                               dict(self.prices)))


async def measure(probe: LagProbe, seconds: float, step=None) -> dict:
    """Lag while ``step()`` runs once a second (or nothing, when None) for ``seconds``."""
    probe.lags.clear()
    probe.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if step is not None:
            step()
        await asyncio.sleep(1.0)
    probe.stop()
    lags = list(probe.lags)
    return {"p99_ms": pct(lags, 0.99) * 1000, "max_ms": max(lags) * 1000 if lags else float("nan"),
            "ticks": len(lags)}


async def timed(probe: LagProbe, action, settle: float = 0.6) -> dict:
    """Run ``action()`` once (in the loop, as a click would); its wall time and the worst lag
    seen around it (the window is frozen for the whole of one block)."""
    probe.lags.clear()
    probe.start()
    await asyncio.sleep(0.1)
    t = time.perf_counter()
    action()
    took = time.perf_counter() - t
    await asyncio.sleep(settle)
    probe.stop()
    return {"s": took, "max_ms": max(probe.lags) * 1000 if probe.lags else float("nan")}


async def bench_window(seconds: float, out: list) -> None:
    import tempfile

    from PySide6.QtCore import Qt

    from cts_desktop.services import AppServices
    from cts_desktop.store.settings import BUILTIN_PAPER_NAME
    from cts_desktop.ui.main_window import MainWindow
    from cts_desktop.ui.heap import settle

    tmp = Path(tempfile.mkdtemp(prefix="cts-bench-scale-"))
    services = AppServices(tmp / "data", tmp / "config")
    win = MainWindow(services, connection=BUILTIN_PAPER_NAME)
    win.resize(1280, 800)
    win.show()
    await asyncio.sleep(1.5)
    rng = random.Random(7)
    name = win.current
    feed = Feed(services.bus, name, rng)
    ptab, atab, chart = win.positions_tab, win.activity_tab, win.live_tab.chart
    probe = LagProbe()

    # the history a full app shows: 50,000 closed positions, 100,000 log lines, 1M equity points
    closed = []
    for _ in range(N_CLOSED):
        p = feed.position()
        p.closed_at, p.exit_price, p.exit_amount, p.amount = p.opened_at + 60_000, p.entry_price * 1.01, p.amount, 0.0
        p.realized_pnl, p.close_reason = rng.gauss(0, 1), rng.choice(("exit", "stop-loss", "take-profit", "signal"))
        closed.append(p)
    win.tabs.setCurrentWidget(ptab)
    await asyncio.sleep(0.3)
    r = await timed(probe, lambda: ptab.load(feed.open_many(N_OPEN), closed[::-1]))
    out.append(("load 10,000 open + 50,000 closed positions (one block)", r["s"] * 1000, r["max_ms"]))
    r = await timed(probe, lambda: atab.load(feed.lines(N_LOG)))
    out.append(("load 100,000 log lines (one block)", r["s"] * 1000, r["max_ms"]))
    pts = [(T0 + i * 60_000, 10_000 + 50 * ((i // 5000) % 7) + rng.gauss(0, 5)) for i in range(N_CURVE)]
    win.tabs.setCurrentWidget(win.live_tab)
    await asyncio.sleep(0.5)
    probe.lags.clear()
    probe.start()
    t = time.perf_counter()
    chart.set_points(pts)
    while chart.loading:
        await asyncio.sleep(0.005)
    took = time.perf_counter() - t
    await asyncio.sleep(0.6)
    probe.stop()
    lags = probe.lags
    out.append(("load 1,000,000-point equity history (chunked; wall time, p99 / max lag)", took * 1000,
                f"{pct(lags, 0.99) * 1000:.1f} / {max(lags) * 1000:.1f}"))
    del pts
    settle()  # what ConnectionFeed.load_history does after a history load

    def step() -> None:
        feed.second(churn=20, log_lines=1000)

    col = {c.field: i for i, c in enumerate(ptab.open_model.columns)}
    rows = []
    win.tabs.setCurrentWidget(ptab)
    await asyncio.sleep(0.3)
    rows.append(("idle (no events: the machine's own noise), Positions tab", await measure(probe, seconds / 2)))
    for tab_name, tab in (("Positions", ptab), ("Activity", atab), ("Live", win.live_tab)):
        win.tabs.setCurrentWidget(tab)
        orders = [("default", -1, Qt.SortOrder.AscendingOrder)]
        if tab is ptab:
            orders += [("unrealized P&L desc", col["unrealized"], Qt.SortOrder.DescendingOrder),
                       ("current price asc", col["current"], Qt.SortOrder.AscendingOrder),
                       ("symbol asc", col["symbol"], Qt.SortOrder.AscendingOrder),
                       ("P&L % asc", col["unrealized_pct"], Qt.SortOrder.AscendingOrder)]
        for label, c, order in orders:
            if c >= 0:
                ptab.open_table.sortByColumn(c, order)
            else:
                ptab.open_model.sort(-1)
            await asyncio.sleep(0.3)
            m = await measure(probe, seconds, step)
            rows.append((f"{tab_name} tab, open positions sorted by {label}", m))
    for label, m in rows:
        out.append((f"steady: {label}: p99 / max lag, ticks", m["p99_ms"], f"{m['max_ms']:.1f} ({m['ticks']})"))

    # one-off actions on the full tables
    win.tabs.setCurrentWidget(ptab)
    ptab.lower.setCurrentIndex(0)
    await asyncio.sleep(0.3)
    cm = ptab.closed_model
    for c, column in enumerate(cm.columns):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            r = await timed(probe, lambda c=c, order=order: ptab.closed_table.sortByColumn(c, order), 0.3)
            out.append((f"sort {cm.rowCount():,}-row history by {column.title} "
                        f"{'asc' if order == Qt.SortOrder.AscendingOrder else 'desc'}", r["s"] * 1000, r["max_ms"]))
    win.tabs.setCurrentWidget(atab)
    await asyncio.sleep(0.3)
    for label, kw in (("text 'C42/'", {"text": "C42/"}), ("category fill", {"categories": ["fill"]}),
                      ("text matching all", {"text": "line"}), ("cleared", {})):
        r = await timed(probe, lambda kw=kw: atab.set_filter(**kw), 0.3)
        out.append((f"filter {atab.model.rowCount():,} log lines: {label} -> {atab.proxy.rowCount():,}",
                    r["s"] * 1000, r["max_ms"]))
    burst = feed.lines(N_LOG)
    probe.lags.clear()
    probe.start()
    await asyncio.sleep(0.1)
    t = time.perf_counter()
    for i in range(0, N_LOG, 5000):  # as an engine publishes: between its own awaits
        for e in burst[i:i + 5000]:
            services.bus.publish(e)
        await asyncio.sleep(0)
    took = time.perf_counter() - t
    await asyncio.sleep(1.5)
    probe.stop()
    out.append(("burst of 100,000 log lines within ~0.1 s (published in slices of 5,000; max lag)", took * 1000,
                f"{max(probe.lags) * 1000:.1f}"))
    out.append(("RSS after all of it (MB)", rss_mb(), ""))
    win.close()
    await services.stop_all()
    services.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds per steady scenario")
    ap.add_argument("--rounds", type=int, default=10, help="engine: re-pricing rounds")
    ap.add_argument("--engine-only", action="store_true")
    args = ap.parse_args(argv)
    print("Engine: CPU per re-pricing round (one candle per symbol through TradingCore.on_candle)")
    for n, s in ((1_000, 1_000), (10_000, 10_000), (10_000, 500)):
        r = bench_engine(n, s, args.rounds)
        print(f"  {r['positions']:>6,} open positions, {r['symbols']:>6,} symbols re-priced: median "
              f"{r['median_s'] * 1000:7.1f} ms CPU a round (= {r['median_s'] * 100:.2f} % of one core at one round a "
              f"second), max {r['max_s'] * 1000:.1f} ms")
    if args.engine_only:
        return 0
    import qasync

    from cts_desktop.ui.app_gui import ensure_app

    app = ensure_app()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    out: list = []
    with loop:
        loop.run_until_complete(bench_window(args.seconds, out))
    print(f"Window ({os.environ.get('QT_QPA_PLATFORM')}, 1280x800, 10 ms precise timer):")
    for label, a, b in out:
        print(f"  {label:<92} {a:9.1f}  {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
