"""Exchange history download and cache against the local Binance venue with the real ccxt client:
paging, the still-forming candle dropped, cached spans never downloaded again (gaps included),
bad candles refused whole, and the service the backtest window awaits."""
from __future__ import annotations

import asyncio
import time

import pytest

from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.services import history
from cts_desktop.store import candle_cache as cc
from cts_desktop.store.db import MODELS, open_database
from tests.venue.harness import connection_for

pytestmark = pytest.mark.timeout(120)
M5 = 300_000
M1 = 60_000


@pytest.fixture
def db(tmp_path):
    d = open_database(tmp_path / "data")
    yield d
    d.close()


def klines(v) -> int:
    return sum(1 for r in v.requests if r == ("GET", "/api/v3/klines"))


def download(v, *args, **kw):
    async def main():
        gw = CcxtGateway(connection_for(v, rate_limit_per_second=500), {})
        gw.exchange.timeout_on_exit = 0
        try:
            return await history.download_history(gw, "binance", *args, **kw)
        finally:
            await gw.close()
    return asyncio.run(main())


def test_models_registered():
    assert cc.CandleRec in MODELS and cc.CandleSpanRec in MODELS


def test_download_pages_drops_the_forming_candle_and_reuses_the_cache(db, venue):
    served = venue.state.candles("BTCUSDT")
    now = int(time.time() * 1000)
    forming = served[-1]
    assert forming[0] + M5 > now  # the venue's last candle is still forming
    since = served[-601][0] + 1234  # not aligned: rounded down to the candle
    until = now + 10 * M5
    seen = []
    candles = download(venue, "BTC/USDT", "5m", since, until, lambda d, t: seen.append((d, t)), limit=250)
    expected = [tuple(c) for c in served[-601:-1]]
    assert len(candles) == 600
    assert [c[0] for c in candles] == [c[0] for c in expected]
    for got, want in zip(candles, expected):
        assert got == pytest.approx(want, rel=1e-9)
    assert candles[-1][0] + M5 <= now
    assert klines(venue) == 3  # 600 candles at 250 per page
    assert seen[-1][0] == seen[-1][1] and seen[0][0] == 0 and len(seen) == 4

    # the same period again: all from the cache, no request
    again = download(venue, "BTC/USDT", "5m", since, until, limit=250)
    assert again == candles and klines(venue) == 3
    # a longer period: only the 100 older candles are fetched
    longer = download(venue, "BTC/USDT", "5m", served[-701][0], until, limit=250)
    assert len(longer) == 700 and longer[100:] == candles
    assert klines(venue) == 4
    assert cc.CandleRec.select().count() == 700  # nothing stored twice


def test_gaps_are_not_asked_for_again(db, venue):
    served = venue.state.candles("XRPETH")
    gaps = sum(1 for a, b in zip(served, served[1:]) if b[0] - a[0] != M1)
    assert gaps > 0  # the recording has gaps
    since = served[0][0]
    until = served[-1][0]  # the forming one excluded by until as well
    first = download(venue, "XRP/ETH", "1m", since, until, limit=1000)
    assert [c[0] for c in first] == [c[0] for c in served[:-1]]
    n = klines(venue)
    assert download(venue, "XRP/ETH", "1m", since, until, limit=1000) == first
    assert klines(venue) == n
    spans = list(cc.CandleSpanRec.select())
    assert len(spans) == 1 and spans[0].start == since and spans[0].end == until


def test_interrupted_download_keeps_its_pages(db, venue):
    served = venue.state.candles("BTCUSDT")
    since, until = served[-501][0], served[-1][0]
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 2  # two pages, then cancel

    with pytest.raises(history.HistoryError, match="cancelled"):
        download(venue, "BTC/USDT", "5m", since, until, limit=100, cancelled=cancelled)
    assert cc.CandleRec.select().count() == 200 and klines(venue) == 2
    full = download(venue, "BTC/USDT", "5m", since, until, limit=100)
    assert len(full) == 500 and klines(venue) == 5  # only the 300 missing were fetched


class FakeGateway:
    def __init__(self, pages):
        self.pages = list(pages)

    async def fetch_ohlcv(self, symbol, timeframe, since=None, limit=None):
        return self.pages.pop(0)


@pytest.mark.parametrize("rows, message", [
    ([(0, 1, 2, 0.5, 1.5, 3), (M1, 1, 2, 0, 1.5, 3)], "prices must be > 0"),
    ([(0, 1, 2, 0.5, 1.5, 3), (M1, -1, 2, 0.5, 1.5, 3)], "prices must be > 0"),
    ([(M1, 1, 2, 0.5, 1.5, 3), (0, 1, 2, 0.5, 1.5, 3)], "sorted by time"),
    ([(0, 1, 2, 0.5, 1.5, 3), (0, 1, 2, 0.5, 1.5, 3)], "duplicate timestamp"),
    ([(0, 1, 2, 0.5, 3.5, 3)], "inconsistent candle"),
    ([(0, 1, 2, 0.5, 1.5, -3)], "volume must be >= 0"),
    ([(0, 1, 2, 0.5, float("nan"), 3)], "not a finite number"),
])
def test_bad_candles_are_refused_whole(db, rows, message):
    gw = FakeGateway([rows])
    with pytest.raises(history.HistoryError, match=message) as info:
        asyncio.run(history.download_history(gw, "fake", "X/Y", "1m", 0, 10 * M1, now_ms=100 * M1))
    assert "X/Y 1m from fake" in str(info.value)
    assert cc.CandleRec.select().count() == 0 and cc.CandleSpanRec.select().count() == 0


def test_bad_request(db):
    with pytest.raises(history.HistoryError, match="unknown timeframe"):
        asyncio.run(history.download_history(FakeGateway([]), "fake", "X/Y", "7m", 0, M1))
    with pytest.raises(history.HistoryError, match="no closed 1m candles"):
        asyncio.run(history.download_history(FakeGateway([]), "fake", "X/Y", "1m", 10 * M1, 20 * M1, now_ms=10 * M1 + 5))


def test_missing_spans():
    assert cc.missing_spans([], 0, 10) == [(0, 10)]
    assert cc.missing_spans([(2, 4), (6, 8)], 0, 10) == [(0, 2), (4, 6), (8, 10)]
    assert cc.missing_spans([(0, 10)], 2, 5) == []
    assert cc.missing_spans([(0, 3), (3, 12)], 0, 10) == []


def test_tables_are_created_on_an_older_database(tmp_path, venue):
    d = open_database(tmp_path / "data")
    d.drop_tables([cc.CandleRec, cc.CandleSpanRec])  # as in a database made before the cache existed
    try:
        served = venue.state.candles("BTCUSDT")
        assert len(download(venue, "BTC/USDT", "5m", served[-11][0], served[-1][0])) == 10
    finally:
        d.close()


def test_download_for_connection(db, venue):
    served = venue.state.candles("BTCUSDT")
    conn = connection_for(venue, rate_limit_per_second=500)

    def run(**kw):
        return asyncio.run(history.download_for_connection(conn, since_ms=served[-51][0], until_ms=served[-1][0] + M5,
                                                      **kw))

    candles, market = run(symbol="BTC/USDT", timeframe="5m")
    assert len(candles) == 50 and market.symbol == "BTC/USDT" and market.quote == "USDT" and market.amount_step > 0
    with pytest.raises(history.HistoryError, match="no market FOO/USDT"):
        run(symbol="FOO/USDT", timeframe="5m")
    from cts_desktop.store.settings import builtin_paper_connection
    with pytest.raises(history.HistoryError, match="replays recorded data"):
        asyncio.run(history.download_for_connection(builtin_paper_connection(), "BTC/USDT", "5m", 0, M5))
