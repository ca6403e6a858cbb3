"""Latency of a manual order: from the order ticket's Buy (the service call its button makes) to
the order's request leaving the gateway, on a live connection to the local exchange.

    python benchmarks/bench_ticket.py [--samples 200]

A live ExchangeEngine (real ccxt binance client) runs on the local venue (tests/venue, in its own
process as an exchange is). Each sample calls ``TradingService.place`` with a market buy (then a
market close, also timed) and measures until ccxt starts the order's POST: the ticket's sizing,
the risk checks and breakers, the order row's commit (recorded before it is sent), ccxt's
precision and signing. Network time to the exchange is not included. Prints p50 / p99 / max in ms.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_latency import SYM, venue_process, wait_for  # noqa: E402
from cts_desktop.core import events as ev  # noqa: E402
from cts_desktop.core.manual import Ticket  # noqa: E402
from cts_desktop.engine.live import ExchangeEngine  # noqa: E402
from cts_desktop.exchange import capabilities  # noqa: E402
from cts_desktop.services import AppServices  # noqa: E402
from cts_desktop.services.trading import TradingService  # noqa: E402
from tests.integration import test_live_engine  # noqa: E402,F401 - registers test_scripted (5m, never trades here)
from tests.venue.harness import API_KEY, API_SECRET, connection_for  # noqa: E402


def pct(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


async def _run(pipe, samples):
    base_url = pipe.recv()
    capabilities._QUIRKS["binance"]["weight_limit_1m"] = 10_000_000  # the venue allows it: no back-off here
    with tempfile.TemporaryDirectory() as tmp:
        services = AppServices(Path(tmp) / "data", Path(tmp) / "config")
        conn = connection_for(SimpleNamespace(base_url=base_url), "live", live=True, strategy="test_scripted",
                              strategy_params={"buy_on": "", "sell_on": ""}, rate_limit_per_second=1000,
                              risk={"max_orders_per_minute": 0})
        services.save_connection(conn)
        eng = ExchangeEngine(services.connection("live"), bus=services.bus,
                             recorder=services.lanes.setdefault("live", type(services.recorder)(services.db, batched=True)),
                             secrets={"apiKey": API_KEY, "secret": API_SECRET}, poll_interval=0.5, close_grace_ms=None,
                             recv_window_ms=5000, settle_interval=0.05, max_settle_interval=0.2, timeout_ms=5000)
        services.engines["live"] = eng
        await eng.start()
        if eng.state != ev.RUNNING:
            raise RuntimeError(eng.reason)
        pipe.send("advance")
        pipe.recv()
        await wait_for(lambda: SYM in eng.core.portfolio.last_prices, timeout=30)
        sent = []
        ex = eng.gateway.exchange
        fetch = ex.fetch

        async def timed_fetch(url, method="GET", headers=None, body=None):
            if method == "POST" and "/order" in url:
                sent.append(time.perf_counter())
            return await fetch(url, method, headers, body)

        ex.fetch = timed_fetch
        trading = TradingService(services)
        buys, closes = [], []
        for i in range(samples + 10):
            for kind, xs in (("buy", buys), ("close", closes)):
                n = len(sent)
                t0 = time.perf_counter()
                if kind == "buy":
                    await trading.place("live", Ticket(SYM, "buy", 0.01))
                else:
                    await trading.close("live", SYM)
                await wait_for(lambda n=n: len(sent) > n and not eng.core._inflight)
                if i >= 10:  # the first ones warm the connection up
                    xs.append((sent[n] - t0) * 1000)
                # a trader's clicks are not 1 ms apart: without a pause the settle reads between them
                # (order, myTrades: weight 20) spend the 1,000/s request budget and the next order
                # waits for ccxt's bucket to refill
                await asyncio.sleep(random.uniform(0.005, 0.03))
        ex.fetch = fetch
        await eng.stop()
        services.close()
        return buys, closes


async def run(samples):
    here, there = multiprocessing.Pipe()
    child = multiprocessing.Process(target=venue_process, args=(there,), daemon=True)
    child.start()
    try:
        return await _run(here, samples)
    finally:
        here.send("stop")
        child.join(10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    buys, closes = asyncio.run(run(args.samples))
    print(f"manual order latency, ticket -> wire, {args.samples} samples each; ms (load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{'order':24} {'p50':>7} {'p99':>7} {'max':>7}")
    for label, xs in (("market buy (ticket)", buys), ("close at market", closes)):
        print(f"{label:24} {statistics.median(xs):7.2f} {pct(xs, 0.99):7.2f} {max(xs):7.2f}")


if __name__ == "__main__":
    main()
