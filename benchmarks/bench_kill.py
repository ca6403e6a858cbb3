"""The kill switch against the local Binance-spot venue (127.0.0.1): 50 open orders, 20 positions.

    python benchmarks/bench_kill.py [--runs 3]

Ten live connections (each its own API key at the venue, so each wallet is its own) trade
BTC/USDT and ETH/USDT with the real ccxt client: each opens a position on both symbols through its
engine (real market orders, booked from the venue's fills) and has 5 resting limit orders at the
venue: 20 positions, 50 open orders. Then ``KillService.kill_all()`` (the GUI's and the CLI's path)
and the time from the call to every engine stopped, with the venue's view checked: no open order,
no BTC or ETH left above the lot step. Target: < 2 s.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cts_desktop.core.models import BUY, Order, Signal  # noqa: E402
from cts_desktop.engine.live import ExchangeEngine  # noqa: E402
from cts_desktop.services import AppServices  # noqa: E402
from cts_desktop.services.kill import KillService  # noqa: E402
from tests.venue.harness import Venue, connection_for  # noqa: E402

CONNECTIONS, ORDERS_EACH = 10, 5
SYMBOLS = ("BTC/USDT", "ETH/USDT")


def key(i: int) -> tuple:
    return (f"benchKey{i:02d}" + "x" * 56)[:64], (f"benchSecret{i:02d}" + "y" * 53)[:64]


async def setup(services: AppServices, venue: Venue) -> list:
    engines = []
    for i in range(CONNECTIONS):
        api_key, secret = key(i)
        venue.add_account(api_key, secret, {"USDT": 10_000})
        secrets = {"apiKey": api_key, "secret": secret}
        name = f"bench {i}"
        conn = connection_for(venue, name, live=True, secrets=secrets, symbols=list(SYMBOLS),
                              strategy_params={"timeframe": "5m"}, rate_limit_per_second=10_000,
                              risk={"max_position_fraction": 0.5, "max_open_positions": 3})
        services.save_connection(conn)
        eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder, secrets=secrets,
                             poll_interval=0.5, close_grace_ms=None, settle_interval=0.05, max_settle_interval=0.2,
                             timeout_ms=5000)
        services.engines[name] = eng
        engines.append(eng)
    await asyncio.gather(*(e.start() for e in engines))
    for eng in engines:
        assert eng.state == "running", eng.reason
        core = eng.core
        for sym in SYMBOLS:
            core.handle_signal(Signal(core.last_ts, sym, BUY, size=0.2, reason="bench"), core.last_ts)
        await eng.orders.drain(core)
        for n in range(ORDERS_EACH):
            sym = SYMBOLS[n % 2]
            price = round(venue.price(sym.replace("/", "")) * 0.8, 2)
            await eng.gateway.create_order(Order(f"bench-{eng.name[-1]}-{n}", sym, BUY, "limit", 0.002 if n % 2 == 0
                                                 else 0.02, price=price))
    deadline = time.monotonic() + 10
    while sum(len(e.core.portfolio.open) for e in engines) < 2 * CONNECTIONS and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return engines


def venue_view(venue: Venue) -> tuple:
    open_orders = sum(1 for o in venue.state.orders.values() if o.is_open)
    left = max(max(venue.balance(key(i)[0], asset)[0] for asset in ("BTC", "ETH")) for i in range(CONNECTIONS))
    return open_orders, left


def one_run() -> float:
    with tempfile.TemporaryDirectory() as tmp, Venue() as venue:
        services = AppServices(Path(tmp) / "data", Path(tmp) / "config")
        try:
            async def go() -> float:
                engines = await setup(services, venue)
                positions = sum(len(e.core.portfolio.open) for e in engines)
                orders, _ = venue_view(venue)
                print(f"  before: {positions} positions, {orders} open orders at the venue")
                t0 = time.perf_counter()
                reports = await KillService(services).kill_all()
                elapsed = time.perf_counter() - t0
                orders, left = venue_view(venue)
                canceled = sum(r.canceled for r in reports)
                flat = sum(r.flattened for r in reports)
                errors = [e for r in reports for e in r.errors]
                print(f"  kill_all: {elapsed:.3f} s; {canceled} canceled, {flat} closed; after: {orders} open orders, "
                      f"largest coin balance left {left:g}; engines {sorted({e.state for e in engines})}"
                      + (f"; errors {errors}" if errors else ""))
                assert orders == 0 and left < 1e-4 and all(e.state == "stopped" for e in engines)
                return elapsed

            return asyncio.run(go())
        finally:
            services.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    times = []
    for i in range(args.runs):
        print(f"run {i + 1}:")
        times.append(one_run())
    print(f"kill switch, {CONNECTIONS * 2} positions + {CONNECTIONS * ORDERS_EACH} open orders: median "
          f"{statistics.median(times):.3f} s, max {max(times):.3f} s (target < 2 s)")


if __name__ == "__main__":
    main()
