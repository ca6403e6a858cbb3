"""An exchange whose ccxt.pro client streams trades but no candles: the engine builds its
candles from the venue's XRPETH trade stream (the recorded Binance trade tape) and feeds
exactly the candles the exchange's REST klines serve (plus flat ones for the minutes without a
trade), with no candle polling while the stream is up."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from cts_desktop.engine import feeds
from cts_desktop.engine.live import ExchangeEngine
from tests.integration.test_live_engine_ws import fed, messages, services  # noqa: F401 - fixture
from tests.venue.harness import connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
FIVE = 300_000


def aggregated(candles):
    """The venue's 5m klines of its 1m path (its REST grouping); the forming bucket left out."""
    groups = {}
    for c in candles:
        groups.setdefault(c[0] - c[0] % FIVE, []).append(c)
    last = candles[-1][0] - candles[-1][0] % FIVE
    return [(t, g[0][1], max(x[2] for x in g), min(x[3] for x in g), g[-1][4], sum(x[5] for x in g))
            for t, g in sorted(groups.items()) if t < last]


def last_closed_bucket(path):
    ts = path.candles[path.cursor][0]
    return ts - ts % FIVE - FIVE


def test_candles_built_from_the_trade_stream_equal_the_exchange_candles(services, venue, monkeypatch):
    real = feeds.pro_supports
    monkeypatch.setattr(feeds, "pro_supports", lambda ex, cap="watchOHLCV": cap != "watchOHLCV" and real(ex, cap))
    conn = connection_for(venue, "venue trades", live=False, api_type="websocket", symbols=["XRP/ETH"],
                          strategy="test_ws_recorder", rate_limit_per_second=1000, starting_balance=10_000,
                          strategy_params={"buy_on": "", "sell_on": "", "timeframe": "5m", "warmup_candles": 2})
    services.save_connection(conn)
    eng = ExchangeEngine(services.connection("venue trades"), bus=services.bus, recorder=services.recorder,
                         poll_interval=0.05, close_grace_ms=None, timeout_ms=3000, ws_retry_interval=0.1,
                         max_ws_retry_interval=0.2, ws_sync_timeout=3.0)
    services.engines["venue trades"] = eng
    path = venue.state.paths["XRPETH"]
    start = path.cursor

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await until(lambda: eng.data_source == "websocket", what="the trade stream")
        warm_end = fed(eng)[-1][1][0]
        polls = None
        for _ in range(40):  # 1m steps of the recorded path; the strategy trades 5m candles
            if polls is None and fed(eng)[-1][1][0] > warm_end:  # a poll in flight as the stream came up has ended
                polls = venue.requests.count(("GET", "/api/v3/klines"))
            venue.advance(1, "XRPETH")
            bucket = path.candles[path.cursor][0] - path.candles[path.cursor][0] % FIVE
            await until(lambda b=bucket: eng.feed.ws is not None and eng.feed.ws.forming.get("XRP/ETH", (0,))[0] >= b,
                        what="the trades of the new minute")
        await until(lambda: fed(eng)[-1][1][0] >= last_closed_bucket(path), what="the last closed candle")
        assert polls is not None and venue.requests.count(("GET", "/api/v3/klines")) == polls  # from the stream
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason
    built = [c for _, c in fed(eng)[2:]]  # after the warm-up
    exchange = {c[0]: c for c in aggregated(path.candles[:path.cursor + 1]) if c[0] >= built[0][0]}
    traded = [c for c in built if c[5] > 0]
    assert len(traded) >= 5
    assert [c[0] for c in traded] == sorted(exchange)  # every exchange candle, once, in order
    for c in traded:
        assert c[1:5] == pytest.approx(exchange[c[0]][1:5], rel=1e-12)
        assert c[5] == pytest.approx(exchange[c[0]][5], rel=1e-9)
    flat = [c for c in built if c[5] == 0]
    assert all(c[0] not in exchange and c[1] == c[2] == c[3] == c[4] for c in flat)  # the silent minutes
    assert [c[0] for c in built] == list(range(built[0][0], built[-1][0] + FIVE, FIVE))
    assert any("candles built from them" in m for m in messages(services, "venue trades"))
