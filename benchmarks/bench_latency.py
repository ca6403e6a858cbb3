"""Latency of a live order: from a market-data event to the order request leaving the gateway,
alone and while another connection replays at maximum speed, side by side.

    python benchmarks/bench_latency.py [--samples 200] [--old]

A live ExchangeEngine (real ccxt + ccxt.pro binance client, websocket candles) trades on the
local venue (tests/venue) with a strategy that sends one market order on every closed candle.
Each sample closes one candle at the venue and times:

* ``venue -> wire``: from the venue (another process, as an exchange is) closing the candle to
  the order's POST leaving ccxt (the HTTP call starting): websocket transport, ccxt.pro parsing,
  waiting for the shared asyncio loop, the strategy, the order row's commit, ccxt signing;
* ``event -> wire``: from the engine receiving the candle (``core.before_strategies``) to the same point.

``--paper``: the same with a paper run on the venue's candles (the order goes to the simulated
exchange; "wire" is that moment). Scenarios: the engine alone; then with a paper replay (another connection, same process,
same loop, same database) at maximum speed, restarted whenever it ends. ``--old`` measures
the previous design for comparison: the replay's 5 ms slices that never wait for a live engine,
Python's 5 ms switch interval, one recorder shared by every engine that never holds its commits
back, and the order row committed by the writer thread behind everything queued (the request-budget
throttler's burst, which removed ~5 ms of ccxt leaky-bucket wait per order, stays on in both).
``--gui``: the same inside the real window (offscreen, 1280x720, on qasync's loop as the app runs):
the Market tab shows the live connection, its watchlist re-filled with 50 symbols and its order
book with 20 levels a side ten times a second, the chart fed by the engine's candles.
Prints p50 / p99 / max in ms.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cts_desktop.core import events as ev  # noqa: E402
from cts_desktop.core.models import BUY, SELL, Signal  # noqa: E402
from cts_desktop.engine import priority, strategies  # noqa: E402
from cts_desktop.engine.live import ExchangeEngine  # noqa: E402
from cts_desktop.engine.strategies.base import Param, Strategy  # noqa: E402
from cts_desktop.exchange import capabilities  # noqa: E402
from cts_desktop.services import AppServices  # noqa: E402
from cts_desktop.store.recorder import Recorder  # noqa: E402
from cts_desktop.store.settings import ConnectionConfig  # noqa: E402
from tests.venue.harness import API_KEY, API_SECRET, Venue, connection_for  # noqa: E402

VSYM, SYM = "BTCUSDT", "BTC/USDT"


class EveryCandle(Strategy):
    """Buys on odd candles, exits on even ones: one order per closed candle."""

    name = "bench_every_candle"
    params = (Param("size", float, 0.01), Param("timeframe", str, "5m"))

    def __init__(self, params=None):
        super().__init__(params)
        self.n = 0

    @property
    def warmup(self):
        return 0

    def on_candle(self, ctx, symbol, candle):
        self.n += 1
        if ctx.position(symbol) is None:
            return [Signal(candle[0], symbol, BUY, size=self.p["size"], reason="bench", strategy=self.name)]
        return [Signal(candle[0], symbol, SELL, intent="exit", reason="bench", strategy=self.name)]


strategies.register(EveryCandle)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def wait_for(cond, timeout=10.0):
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.0005)


async def keep_replaying(services, name, stop, replayed):
    while not stop.is_set():
        eng = await services.start_engine(name)
        while eng.active and not stop.is_set():
            await asyncio.sleep(0.05)
        if stop.is_set():
            await services.stop_engine(name)
        replayed[0] += eng.core.candles_seen if eng.core is not None else 0
        replayed[1] += 1


async def measure(services, v, eng, samples):
    sent = []
    received = []
    ex = eng.gateway.exchange
    fetch = ex.fetch
    core = eng.core
    submit = core.paper.submit

    async def timed_fetch(url, method="GET", headers=None, body=None):
        if method == "POST" and "/order" in url:
            sent.append(time.perf_counter())
        return await fetch(url, method, headers, body)

    def timed_submit(order, ts):  # paper: the simulated exchange takes the order
        sent.append(time.perf_counter())
        return submit(order, ts)

    if eng.live:
        ex.fetch = timed_fetch
    else:
        core.paper.submit = timed_submit
    before = core.before_strategies  # the engine's first step on a candle (watchdog.timed_step)

    def timed_before(sym, candle):
        received.append(time.perf_counter())
        return before(sym, candle)

    core.before_strategies = timed_before
    wire, event = [], []
    for i in range(samples + 10):
        n_sent, n_recv = len(sent), len(received)
        v.send("advance")  # the venue closes the candle (in its own process) and notes when
        await wait_for(lambda n_sent=n_sent, n_recv=n_recv: len(sent) > n_sent and len(received) > n_recv
                       or eng.state == ev.ERROR)
        if eng.state == ev.ERROR:
            raise RuntimeError(eng.reason)
        t0 = v.recv()  # perf_counter is CLOCK_MONOTONIC: one clock for both processes
        if i >= 10:  # the first ones warm the connections up
            wire.append((sent[n_sent] - t0) * 1000)
            event.append((sent[n_sent] - received[n_recv]) * 1000)
        if eng.live:
            await wait_for(lambda: not core._inflight)
        await asyncio.sleep(random.uniform(0.005, 0.03))
    ex.fetch = fetch
    core.paper.submit = submit
    core.before_strategies = before
    return wire, event


def venue_process(pipe):
    """The exchange, in its own process as a real one would be: closes a candle on "advance" and
    answers when it did (perf_counter s)."""
    with Venue(weight_limit=10_000_000) as v:  # no 429 in a benchmark
        v.add_account(API_KEY, API_SECRET, {"USDT": 1_000_000, "BTC": 10})
        pipe.send(v.base_url)
        while pipe.recv() == "advance":
            t0 = time.perf_counter()
            v.advance(1, VSYM)
            pipe.send(t0)


async def run(samples, old, paper=False):
    here, there = multiprocessing.Pipe()
    child = multiprocessing.Process(target=venue_process, args=(there,), daemon=True)
    child.start()
    try:
        return await _run(here, samples, old, paper)
    finally:
        here.send("stop")
        child.join(10)


async def _run(v, samples, old, paper):
    base_url = v.recv()
    # the venue allows 10,000,000 weight a minute: so does the budget here (Binance's 6,000 would
    # make the budget back off within the first minute of one order per candle at this pace)
    capabilities._QUIRKS["binance"]["weight_limit_1m"] = 10_000_000
    with tempfile.TemporaryDirectory() as tmp:
        services = AppServices(Path(tmp) / "data", Path(tmp) / "config")
        conn = connection_for(SimpleNamespace(base_url=base_url), "live", live=not paper, api_type="websocket",
                              strategy="bench_every_candle",
                              rate_limit_per_second=1000, starting_balance=10_000,
                              risk={"max_orders_per_minute": 0})  # one order every ~30 ms, by design
        services.save_connection(conn)
        services.save_connection(ConnectionConfig(name="replay", dataset="ftx-btc-perp-1m", speed="max"))
        recorder = services.recorder if old else services.lanes.setdefault("live", type(services.recorder)(services.db, batched=True))
        eng = ExchangeEngine(services.connection("live"), bus=services.bus, recorder=recorder,
                             secrets=None if paper else {"apiKey": API_KEY, "secret": API_SECRET}, poll_interval=0.5, close_grace_ms=None,
                             recv_window_ms=5000, settle_interval=0.05, max_settle_interval=0.2, timeout_ms=5000)
        services.engines["live"] = eng
        window = gui_load(services) if GUI else None
        await eng.start()
        await wait_for(lambda: eng.state == ev.RUNNING and eng.feed is not None and eng.feed.ws is not None
                       and eng.feed.ws.up, timeout=30)
        results = {}
        lag = {}
        t0 = time.perf_counter()
        results["alone"] = await measure(services, v, eng, samples)
        lag["alone"] = (t0, time.perf_counter())
        stop = asyncio.Event()
        replayed = [0, 0]
        replay = asyncio.ensure_future(keep_replaying(services, "replay", stop, replayed))
        await asyncio.sleep(0.5)
        t0 = time.perf_counter()
        results["with a max-speed replay"] = await measure(services, v, eng, samples)
        took = time.perf_counter() - t0
        lag["with a max-speed replay"] = (t0, time.perf_counter())
        if window is not None:
            LAGS.update({k: gui_lag(window, *span) for k, span in lag.items()})
        stop.set()
        await replay
        await eng.stop()
        if window is not None:
            window[1].stop()
            window[2].stop()
            window[0].close()
        services.close()
        return results, (replayed[0], took, replayed[1])


GUI = False
LAGS = {}  # --gui: scenario -> the window's lag (ms) p50, p99, max


def gui_load(services):
    """``--gui``: the window on the Market tab of the live connection, its watchlist (50 symbols)
    and book (20 levels a side) re-filled every 100 ms, as a busy market would."""
    from PySide6.QtCore import QTimer
    from cts_desktop.services.market_data import Book, Watchlist, WatchRow
    from cts_desktop.ui.main_window import MainWindow

    window = MainWindow(services, connection="live")
    window.resize(1280, 720)
    window.tabs.setCurrentWidget(window.market_tab)
    window.show()
    rng = random.Random(7)
    tab = window.market_tab

    def tick():
        rows = []
        for i in range(50):
            last = 100.0 * (i + 1) * (1 + rng.uniform(-0.01, 0.01))
            rows.append(WatchRow(f"C{i:02d}/USDT", last, rng.uniform(-5, 5), last * 0.9999, last * 1.0001,
                                 last * 0.0002, rng.uniform(1e3, 1e6), "live"))
        tab.watchlist.set_watchlist(Watchlist(rows, "50 symbols, 10 Hz (benchmark)"), "C00/USDT")
        mid = 16800 * (1 + rng.uniform(-0.001, 0.001))
        bids = [(mid - 0.01 * (k + 1), rng.uniform(0.01, 2), 0.0) for k in range(20)]
        asks = [(mid + 0.01 * (k + 1), rng.uniform(0.01, 2), 0.0) for k in range(20)]
        tab.book.set_book(Book("BTC/USDT", bids, asks, 0.02))

    timer = QTimer()
    timer.setInterval(100)
    timer.timeout.connect(tick)
    timer.start()
    from bench_gui_lag import LagProbe  # how late a precise 10 ms QTimer fires: the window's lag
    probe = LagProbe()
    probe.start()
    return window, timer, probe


def gui_lag(window, t0, t1):
    """The window's event-loop lag (ms) between perf_counter ``t0`` and ``t1``: p50, p99, max."""
    probe = window[2]
    lags = sorted(lag * 1000 for lag, t in zip(probe.lags, probe.times) if t0 <= t <= t1)
    return (statistics.median(lags), pct(lags, 0.99), lags[-1]) if lags else None


def main():
    global GUI
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--old", action="store_true", help="the previous design: 5 ms slices, shared recorder")
    ap.add_argument("--gui", action="store_true", help="inside the window: 50 symbols and a 20-level book at 10 Hz")
    ap.add_argument("--paper", action="store_true", help="a paper run on the venue's candles: the order goes to the "
                    "simulated exchange instead of the wire")
    args = ap.parse_args()
    if args.old:
        async def no_wait():
            return None
        priority.slice_s = lambda default: default
        priority.LIVE_SWITCH_S = sys.getswitchinterval()
        priority.yield_to_live = no_wait
        priority.data_arrived = lambda: None
        priority.live_busy = lambda: False  # the replay's recorder never holds its commits back
        Recorder.commit_order_now = lambda *a, **k: False  # the order row waits for the writer thread
    if args.gui:
        GUI = True
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import qasync
        from cts_desktop.ui.app_gui import ensure_app
        loop = qasync.QEventLoop(ensure_app())
        asyncio.set_event_loop(loop)
        results, replayed = loop.run_until_complete(run(args.samples, args.old, args.paper))
    else:
        results, replayed = asyncio.run(run(args.samples, args.old, args.paper))
    design = "previous design (--old)" if args.old else "this design"
    print(f"{'paper' if args.paper else 'live'} order latency, {args.samples} samples per scenario, {design}"
          + (", in the window (50 symbols + a 20-level book at 10 Hz)" if args.gui else "") + "; ms"
          + ("; 'wire' = the paper exchange takes the order" if args.paper else ""))
    print(f"{'scenario':28} {'path':14} {'p50':>7} {'p99':>7} {'max':>7}")
    for scenario, (wire, event) in results.items():
        for label, xs in (("venue -> wire", wire), ("event -> wire", event)):
            print(f"{scenario:28} {label:14} {statistics.median(xs):7.2f} {pct(xs, 0.99):7.2f} {max(xs):7.2f}")
    for scenario, lag in LAGS.items():
        if lag:
            print(f"window event-loop lag, {scenario}: p50 {lag[0]:.1f} ms, p99 {lag[1]:.1f} ms, max {lag[2]:.1f} ms")
    print(f"(meanwhile the replay, {replayed[2]} runs of the FTX month, processed {replayed[0]:,} candles in {replayed[1]:.1f} s: "
          f"{replayed[0] / replayed[1]:,.0f} candles/s; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
