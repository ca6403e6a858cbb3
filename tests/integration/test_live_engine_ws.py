"""ExchangeEngine market data over websocket: the real ``ccxt.pro`` binance client against the
local venue's kline stream, with REST polling as the fallback.

* the venue's kline events have Binance's shape (checked against recorded frames) and the
  numbers its REST klines serve;
* paper trading on websocket candles gives exactly the fills of REST candles for the same path;
* the websocket dropping (or refusing to connect) makes the engine poll over REST and come back
  to the stream, feeding every closed candle once;
* an exchange ccxt.pro does not support is polled over REST, with a log line saying so.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import ccxt.async_support as ccxt_async
import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.models import BUY, SELL, Signal
from cts_desktop.engine import strategies
from cts_desktop.engine.live import ExchangeEngine
from cts_desktop.engine.strategies.base import Param, Strategy
from cts_desktop.exchange.ccxt_gateway import create_pro_exchange
from cts_desktop.services import AppServices
from cts_desktop.store import repositories as repo
from tests.venue.harness import connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
SYM, VSYM = "BTC/USDT", "BTCUSDT"
FRAMES = Path(__file__).resolve().parents[1] / "venue" / "data" / "spot_ws_kline_frames_2021-10-12.txt"


class FeedRecorder(Strategy):
    """Records every candle it is fed (warm-up included); buys and exits on the listed traded
    candle numbers (counted from the first candle after the warm-up)."""

    name = "test_ws_recorder"
    params = (Param("buy_on", str, "2"), Param("sell_on", str, "4"), Param("size", float, 0.1),
              Param("timeframe", str, "5m"), Param("warmup_candles", int, 2))

    def __init__(self, params=None):
        super().__init__(params)
        self.fed = []
        self.buys = {int(x) for x in self.p["buy_on"].split(",") if x}
        self.sells = {int(x) for x in self.p["sell_on"].split(",") if x}

    @property
    def warmup(self):
        return self.p["warmup_candles"]

    def on_candle(self, ctx, symbol, candle):
        self.fed.append((symbol, tuple(candle)))
        n = len(self.fed) - self.p["warmup_candles"]
        if n in self.buys:
            return [Signal(candle[0], symbol, BUY, size=self.p["size"], reason=f"candle {n}", strategy=self.name)]
        if n in self.sells and ctx.position(symbol) is not None:
            return [Signal(candle[0], symbol, SELL, intent="exit", reason=f"candle {n}", strategy=self.name)]
        return None


strategies.register(FeedRecorder)


@pytest.fixture
def services(dirs):
    s = AppServices(*dirs)
    yield s
    s.close()


def make_engine(services, v, name, *, api_type="websocket", params=None, exchange="binance", **kw):
    conn = connection_for(v, name, live=False, exchange=exchange, api_type=api_type, strategy="test_ws_recorder",
                          strategy_params=params or {}, rate_limit_per_second=1000, starting_balance=10_000)
    services.save_connection(conn)
    opts = dict(poll_interval=0.05, close_grace_ms=None, timeout_ms=3000, ws_retry_interval=0.1,
                max_ws_retry_interval=0.2, ws_sync_timeout=3.0)
    opts.update(kw)
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder, **opts)
    services.engines[name] = eng
    return eng


async def step(v, engines, n=1):
    """Close ``n`` more candles at the venue, one at a time, each processed by every engine."""
    for _ in range(n):
        seen = [e.core.candles_seen for e in engines]
        v.advance(1, VSYM)
        await until(lambda seen=seen: all(e.core.candles_seen > s or e.state == ev.ERROR
                                          for e, s in zip(engines, seen, strict=True)),
                    what="the next candle")
        for e in engines:
            assert e.state != ev.ERROR, e.reason


def fed(eng):
    return eng.core.runners[0].strategy.fed


def messages(services, name):
    services.recorder.flush().result(10)
    return [e.message for e in repo.events(name)]


def klines(v):
    return v.requests.count(("GET", "/api/v3/klines"))


def assert_fed_path(eng, path, first, end):
    """The engine fed exactly the venue's candles ``first .. end-1`` after its warm-up, in order."""
    warm = eng.core.runners[0].strategy.p["warmup_candles"]
    traded = [c for _, c in fed(eng)[warm:]]
    assert [c[0] for c in traded] == [path.candles[i][0] for i in range(first, end)]  # none lost, none twice
    for got, i in zip(traded, range(first, end), strict=True):
        assert got[1:] == pytest.approx(path.candles[i][1:], rel=1e-12)


# --------------------------------------------------------------------------- the venue's stream


def test_venue_kline_stream_speaks_binance(venue):
    recorded = [json.loads(line.split(": ", 1)[1])["data"] for line in FRAMES.read_text().splitlines()[1:]]
    path = venue.state.paths[VSYM]

    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.get(venue.base_url + "/api/v3/klines", params={"symbol": VSYM, "interval": "5m", "limit": 2}) as r:
                rest = await r.json()
            async with s.ws_connect(venue.server.ws_url + "/ws/0") as ws:
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@kline_5m"], "id": 7}))
                ack = await ws.receive_json(timeout=3)
                first = await ws.receive_json(timeout=3)
                venue.advance(1, VSYM)
                closed = await ws.receive_json(timeout=3)
                nxt = await ws.receive_json(timeout=3)
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
                listed = await ws.receive_json(timeout=3)
            async with s.ws_connect(venue.server.ws_url + "/stream?streams=btcusdt@kline_5m") as ws:
                combined = await ws.receive_json(timeout=3)
        return rest, ack, first, closed, nxt, listed, combined

    rest, ack, first, closed, nxt, listed, combined = asyncio.run(go())
    assert ack == {"result": None, "id": 7}
    assert listed == {"result": ["btcusdt@kline_5m"], "id": 8}
    for event in (first, closed, nxt, combined["data"]):
        assert set(event) == set(recorded[0]) and set(event["k"]) == set(recorded[0]["k"])
        assert {k: type(v) for k, v in event["k"].items()} == {k: type(v) for k, v in recorded[0]["k"].items()}
        assert event["e"] == "kline" and event["s"] == VSYM and event["k"]["i"] == "5m"
    assert combined["stream"] == "btcusdt@kline_5m"
    # the forming candle, with the very strings REST serves; then its close (x) and the next one
    forming = rest[-1]
    k = first["k"]
    assert [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"]] == forming[:7] and k["x"] is False
    assert closed["k"]["t"] == forming[0] and closed["k"]["x"] is True
    assert nxt["k"]["t"] == path.candles[path.cursor][0] and nxt["k"]["x"] is False


def test_create_pro_exchange_points_the_websocket_at_the_base_url(venue):
    ex = create_pro_exchange(connection_for(venue), {})
    try:
        assert ex.urls["api"]["ws"]["spot"] == venue.server.ws_url + "/ws"
        assert ex.urls["api"]["public"] == venue.base_url + "/api/v3"
        assert ex.options["fetchMarkets"]["types"] == ["spot"]  # the REST configuration too
    finally:
        asyncio.run(ex.close())


# --------------------------------------------------------------------------- same fills


def test_paper_fills_over_websocket_equal_fills_over_rest(services, venue):
    params = {"buy_on": "2,6", "sell_on": "4,8", "size": 0.1, "warmup_candles": 2}
    rest = make_engine(services, venue, "venue rest", api_type="rest", params=params)
    ws = make_engine(services, venue, "venue ws", params=params)
    path = venue.state.paths[VSYM]
    start = path.cursor

    async def go():
        await rest.start()
        await ws.start()
        assert rest.state == ev.RUNNING and ws.state == ev.RUNNING, (rest.reason, ws.reason)
        await until(lambda: ws.data_source == "websocket", what="the websocket")
        assert rest.data_source == "rest"
        await step(venue, [rest, ws], 10)
        await rest.stop()
        await ws.stop()

    asyncio.run(go())
    assert ws.state == rest.state == ev.STOPPED
    assert fed(ws) == fed(rest)  # the same candle objects' values reached the strategies
    assert_fed_path(ws, path, start, path.cursor)

    def key(f):
        return (f.timestamp, f.symbol, f.side, f.amount, f.price, f.fee)

    assert [f.side for f in ws.core.fills] == ["buy", "sell", "buy", "sell"]
    assert [key(f) for f in ws.core.fills] == [key(f) for f in rest.core.fills]
    same = lambda d: {k: v for k, v in d.items() if k not in ("connection", "run_id")}  # noqa: E731
    assert same(ws.summary()) == same(rest.summary())
    assert any("arrive by websocket" in m for m in messages(services, "venue ws"))


# --------------------------------------------------------------------------- fallback


def test_websocket_drop_falls_back_to_polling_and_returns(services, venue):
    eng = make_engine(services, venue, "venue ws drop", params={"buy_on": "", "sell_on": "", "warmup_candles": 2})
    path = venue.state.paths[VSYM]
    start = path.cursor

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await until(lambda: eng.data_source == "websocket", what="the websocket")
        # a poll may still be in flight as the stream comes up: a candle processed after it ends that
        await step(venue, [eng], 1)
        polls = klines(venue)
        await step(venue, [eng], 2)  # 2 candles processed ...
        assert klines(venue) == polls  # ... with no polling: they were streamed

        venue.faults.ws_drop(refuse=None)  # the network drops, and the stream stays unreachable
        await until(lambda: eng.data_source == "rest", what="the fallback")
        polls = klines(venue)
        await step(venue, [eng], 3)
        assert klines(venue) > polls  # polled meanwhile
        assert eng.data_source == "rest"

        venue.faults.clear()  # reachable again: the retry reconnects
        await until(lambda: eng.data_source == "websocket", what="the reconnect")
        await step(venue, [eng], 2)

        # the connection dies right as a candle closes: it comes once, whichever path brings it
        seen = eng.core.candles_seen
        venue.advance(1, VSYM)
        venue.faults.ws_drop(refuse=2)
        await until(lambda: eng.core.candles_seen > seen, what="the candle closed at the drop")
        await until(lambda: eng.data_source == "websocket", what="the second reconnect")
        venue.advance(2, VSYM)  # two at once, then one more
        # (the older of the two arrives a timeframe late: warm-up only, still fed once)
        await until(lambda: eng.core.candles_seen + eng.feed.late_candles >= seen + 3, what="the candles after the reconnect")
        await step(venue, [eng], 2)  # later candles: nothing left over from the drop comes after them
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason
    assert_fed_path(eng, path, start, path.cursor)
    assert eng.core.candles_seen + eng.feed.late_candles == path.cursor - start  # late: 0 or 1, by timing
    log = messages(services, "venue ws drop")
    drops = [m for m in log if "the websocket dropped" in m]
    assert drops and all("polling candles over REST" in m and "retrying the websocket in" in m for m in drops)
    assert any("websocket reconnected" in m for m in log)
    assert venue.server.ws.connections_opened >= 3


def test_websocket_that_cannot_connect_is_polled_then_joined(services, venue):
    venue.faults.ws_drop(refuse=None)
    eng = make_engine(services, venue, "venue ws refused", params={"buy_on": "2", "sell_on": "3", "warmup_candles": 2})
    path = venue.state.paths[VSYM]
    start = path.cursor

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await until(lambda: any("cannot connect" in m for m in messages(services, "venue ws refused")),
                    what="the log line")
        await step(venue, [eng], 3)  # trades on polled candles meanwhile
        assert eng.data_source == "rest" and len(eng.core.fills) == 1
        venue.faults.clear()
        await until(lambda: eng.data_source == "websocket", what="the websocket")
        await step(venue, [eng], 2)
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason
    assert_fed_path(eng, path, start, path.cursor)
    assert [f.side for f in eng.core.fills] == ["buy", "sell"]
    line = next(m for m in messages(services, "venue ws refused") if "cannot connect" in m)
    assert "polling candles over REST every 0.05 s" in line and "retrying the websocket in 0.1 s" in line


class binancerest(ccxt_async.binance):
    """A Binance-compatible exchange that ccxt knows over REST only (not in ccxt.pro)."""

    def describe(self):
        return self.deep_extend(super().describe(), {
            "id": "binancerest", "name": "Binance REST-only",
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
        })


def test_exchange_without_ccxt_pro_support_is_polled_with_a_clear_log_line(services, venue, monkeypatch):
    monkeypatch.setattr(ccxt_async, "binancerest", binancerest, raising=False)
    monkeypatch.setattr(ccxt_async, "exchanges", [*ccxt_async.exchanges, "binancerest"])
    eng = make_engine(services, venue, "venue rest only", exchange="binancerest",
                      params={"buy_on": "2", "sell_on": "", "warmup_candles": 2})
    path = venue.state.paths[VSYM]
    start = path.cursor

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await step(venue, [eng], 3)
        await eng.stop()

    asyncio.run(go())
    assert eng.state == ev.STOPPED, eng.reason
    assert eng.data_source == "rest" and len(eng.core.fills) == 1
    assert_fed_path(eng, path, start, path.cursor)
    line = next(m for m in messages(services, "venue rest only") if "websocket" in m)
    assert "Binance REST-only has no websocket candles in ccxt.pro" in line
    assert "polling closed candles over REST every 0.05 s" in line
    assert not any(p.startswith(("/ws", "/stream")) for _, p in venue.requests)  # never tried
