"""Market data that stops, against the local venue with the real ccxt client: the staleness
watchdog blocks new entries on the silent symbol (exits still go out) and lifts the block when
data flows again; candles that piled up during an outage are warm-up only, never traded."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, FILLED, SELL, Signal
from cts_desktop.engine import strategies
from cts_desktop.engine.live import ExchangeEngine
from cts_desktop.engine.strategies.base import Param, Strategy
from cts_desktop.store import repositories as repo
from tests.integration.test_live_engine import (  # noqa: F401 - services is a fixture
    SECRETS, SYM, VSYM, make_engine, round_trips_over, services, step)
from tests.venue.harness import API_KEY, API_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
ETH, VETH = "ETH/USDT", "ETHUSDT"


class CrossTrader(Strategy):
    """Trades BTC/USDT on ETH/USDT candles: ``plan`` maps the ETH candle number to an action
    ("buy" or "exit"), e.g. ``"1:buy,2:exit"``."""

    name = "test_cross_trader"
    params = (Param("plan", str, ""), Param("size", float, 0.02), Param("timeframe", str, "5m"))

    def __init__(self, params=None):
        super().__init__(params)
        self.plan = dict(item.split(":") for item in self.p["plan"].split(",") if item)
        self.n = 0

    def on_candle(self, ctx, symbol, candle):
        if symbol != ETH:
            return None
        self.n += 1
        action = self.plan.get(str(self.n))
        if action == "buy":
            return [Signal(candle[0], SYM, BUY, size=self.p["size"], reason=f"eth {self.n}", strategy=self.name)]
        if action == "exit":
            return [Signal(candle[0], SYM, SELL, intent="exit", reason=f"eth {self.n}", strategy=self.name)]
        return None


strategies.register(CrossTrader)


def test_candles_piled_up_during_an_outage_are_not_traded(services, venue):
    """After the data stops for a while, the candles that closed meanwhile all arrive at once:
    the strategy sees every one (its indicators stay right), but only the newest, which closed
    less than a timeframe ago, may lead to an order; before the fix each piled-up candle could."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue outage", live=True,
                      params={"buy_on": "3,4,5,6,7", "sell_on": "", "size": 0.01})
    signals = []
    services.bus.subscribe(lambda e: signals.append(e) if isinstance(e, ev.SignalEvent) else None)

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await step(venue, eng, 2)
        strategy = eng.core.runners[0].strategy
        venue.data_outage(VSYM)
        venue.advance(5, VSYM)  # candles 3..7 close at the exchange; its data feed shows none of them
        polls = venue.requests.count(("GET", "/api/v3/klines"))
        await until(lambda: venue.requests.count(("GET", "/api/v3/klines")) > polls + 2, what="polls during the outage")
        assert len(strategy.seen) == 2 and not eng.core.orders
        venue.end_outage(VSYM)
        await until(lambda: len(strategy.seen) == 7, what="the piled-up candles")
        # the strategy step runs on the engine's worker thread: wait for its order before the round trip
        await until(lambda: len(eng.core.orders) >= 1, what="the order from candle 7")
        await until(lambda: round_trips_over(eng), what="the order round trip")
        assert eng.feed.late_candles == 4
        (order,) = eng.core.orders  # one order, from candle 7; none from 3..6
        await until(lambda: order.state == FILLED, what="the fill")
        await eng.stop()

    asyncio.run(go())
    assert [s.signal.reason for s in signals] == ["candle 7"]
    assert len([o for o in venue.state.orders.values()]) == 1
    services.recorder.flush().result(10)
    log = [e.message for e in repo.events("venue outage")]
    assert any("4 candles arrived more than one timeframe after closing" in m and "warm-up only" in m for m in log)


def test_stale_feed_blocks_entries_allows_exits_and_resumes(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    conn = connection_for(venue, "venue stale", live=True, symbols=[SYM, ETH], strategy="test_cross_trader",
                          strategy_params={"plan": "1:buy,2:exit,3:buy,4:buy"}, rate_limit_per_second=1000,
                          stale_after_s=6.0)  # the connection's own limit (room for a loaded machine between steps)
    services.save_connection(conn)
    eng = ExchangeEngine(services.connection("venue stale"), bus=services.bus, recorder=services.recorder,
                         secrets=SECRETS, poll_interval=0.05, close_grace_ms=None, recv_window_ms=1000,
                         settle_interval=0.05, max_settle_interval=0.2, timeout_ms=3000, reconcile_timeout_s=5)
    services.engines["venue stale"] = eng
    seen = []
    services.bus.subscribe(lambda e: seen.append(e) if e.__class__ in (ev.FeedStale, ev.FeedResumed, ev.SignalEvent)
                           and e.connection == "venue stale" else None)

    def stale_events(kind):
        return [e.symbol for e in seen if isinstance(e, kind)]

    async def btc_candle():  # the venue's BTC data moves only when a candle closes: keeps it fresh
        n = eng.core.candles_seen
        venue.advance(1, VSYM)
        await until(lambda: eng.core.candles_seen > n, what="the BTC candle")

    async def eth_candle():
        n = eng.core.runners[0].strategy.n
        venue.advance(1, VETH)
        await until(lambda: eng.core.runners[0].strategy.n > n or eng.state == ev.ERROR, what="the ETH candle")
        await until(lambda: round_trips_over(eng), what="the order round trips")
        assert eng.state == ev.RUNNING, eng.reason

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await btc_candle()
        await eth_candle()  # 1: buy BTC, data fresh
        buy = eng.core.orders[0]
        await until(lambda: buy.state == FILLED, what="the buy fill")
        venue.data_outage(VSYM)
        await until(lambda: SYM in stale_events(ev.FeedStale), what="BTC/USDT marked stale")
        assert SYM in eng.core.breakers.symbol_holds
        await eth_candle()  # 2: exit BTC: allowed on a stale feed
        await until(lambda: SYM not in eng.core.portfolio.open, what="the exit fill")
        await eth_candle()  # 3: buy BTC: refused, the feed is stale
        assert len(eng.core.orders) == 2
        venue.end_outage(VSYM)
        await btc_candle()  # BTC data flows again
        await until(lambda: SYM in stale_events(ev.FeedResumed), what="BTC/USDT resumed")
        assert SYM not in eng.core.breakers.symbol_holds
        await eth_candle()  # 4: buy BTC: allowed again
        assert len(eng.core.orders) == 3 and eng.core.orders[2].side == BUY
        await eng.stop()

    asyncio.run(go())
    verdicts = [(s.signal.reason, s.accepted, s.verdict) for s in seen if isinstance(s, ev.SignalEvent)]
    assert [v[:2] for v in verdicts] == [("eth 1", True), ("eth 2", True), ("eth 3", False), ("eth 4", True)]
    assert verdicts[2][2] == "market data for BTC/USDT is stale: no new entries until it resumes"
    stale = next(e for e in seen if isinstance(e, ev.FeedStale) and e.symbol == SYM)
    assert stale.silent_s >= 6.0
    assert eng.state == ev.STOPPED
