"""Time ``test_connection`` against the local Binance-spot venue (127.0.0.1, no network).

    python benchmarks/bench_conntest.py [--runs 10]

Prints the ccxt import time (excluded from the target), then per run the wall time of a full
passing test_connection (markets, 3 clock samples, system status, balance, key permissions,
session close) with the default rate limiter, and the same with a 500 req/s limiter to show
how much of it is ccxt's throttle (Binance request weights x 50 ms) and the 0.25 s linger of
ccxt's ``close()``. Target: median < 1 s.

Then how soon it gives up on a markets request that hangs (30 s at the venue): with a 0.6 s
timeout, and when cancelled once the request is in flight. Target: both < 2 s (the tests in
tests/integration/test_conntest.py check only that it gives up, not how fast).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

t0 = time.perf_counter()
import ccxt.async_support  # noqa: E402,F401
import ccxt.pro  # noqa: E402,F401

CCXT_IMPORT_S = time.perf_counter() - t0

from cts_desktop.exchange.conntest import test_connection  # noqa: E402
from tests.venue.harness import API_KEY, API_SECRET, Venue, connection_for  # noqa: E402


def bench(venue: Venue, runs: int, **conn_kw) -> list:
    conn = connection_for(venue, name="bench", **conn_kw)
    secrets = {"apiKey": API_KEY, "secret": API_SECRET}
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = asyncio.run(test_connection(conn, secrets))
        times.append(time.perf_counter() - t)
        assert result.ok, result.status
    return times


def bench_giving_up(venue: Venue, runs: int) -> tuple:
    """``(timeout walls, cancel walls)`` in s against a markets request that hangs 30 s."""
    conn = connection_for(venue, name="bench")
    secrets = {"apiKey": API_KEY, "secret": API_SECRET}
    timeouts, cancels = [], []
    venue.faults.delay(30.0, path="/api/v3/exchangeInfo")
    try:
        for _ in range(runs):
            t = time.perf_counter()
            result = asyncio.run(test_connection(conn, secrets, timeout=0.6))
            timeouts.append(time.perf_counter() - t)
            assert result.error_kind == "timeout", result.status
            cancels.append(asyncio.run(_cancel_once(venue, conn, secrets)))
    finally:
        venue.faults.clear()
    return timeouts, cancels


async def _cancel_once(venue: Venue, conn, secrets) -> float:
    """Wall time from cancel() to the task's end, cancelled while the markets request hangs."""
    sent = venue.requests.count(("GET", "/api/v3/exchangeInfo"))
    task = asyncio.create_task(test_connection(conn, secrets))
    while venue.requests.count(("GET", "/api/v3/exchangeInfo")) == sent:
        await asyncio.sleep(0.005)
    t = time.perf_counter()
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled()
    return time.perf_counter() - t


def _stats(times: list) -> str:
    return (f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms over {len(times)} runs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    print(f"ccxt import (excluded): {CCXT_IMPORT_S * 1000:.0f} ms")
    with Venue() as venue:
        venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1})
        bench(venue, 1)  # warm-up: first exchangeInfo parse, ccxt.pro instantiation
        for label, kw in (("default rate limiter", {}), ("rate limit 500/s", {"rate_limit_per_second": 500})):
            times = bench(venue, args.runs, **kw)
            print(f"test_connection, {label}: median {statistics.median(times) * 1000:.0f} ms, "
                  f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {len(times)} runs")
        med = statistics.median(bench(venue, args.runs))
        timeouts, cancels = bench_giving_up(venue, max(3, args.runs // 2))
    print(f"target < 1000 ms: {'OK' if med < 1.0 else 'MISSED'} ({med * 1000:.0f} ms)")
    print(f"hung markets request, timeout 0.6 s: {_stats(timeouts)}; "
          f"target < 2000 ms: {'OK' if max(timeouts) < 2.0 else 'MISSED'}")
    print(f"hung markets request, cancel to end: {_stats(cancels)}; "
          f"target < 2000 ms: {'OK' if max(cancels) < 2.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
