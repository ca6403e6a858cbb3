"""The order book panel's last trades (services/market_trades.py) from the local venue with the
real ccxt client: polled over REST they are the venue's recorded XRPETH trade tape (newest first,
taker side kept); on a websocket connection they come from the venue's ``xrpeth@trade`` stream;
a paper replay says it has none."""
from __future__ import annotations

import asyncio
import json
import urllib.request

from cts_desktop.services import AppServices
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from tests.venue.harness import connection_for
from tests.waits import until

SYM, VSYM = "XRP/ETH", "XRPETH"


def venue_trades(venue, limit):
    with urllib.request.urlopen(f"{venue.base_url}/api/v3/aggTrades?symbol={VSYM}&limit={limit}", timeout=10) as r:  # noqa: S310
        return json.loads(r.read())


def test_polled_trades_are_the_venues_tape_newest_first(dirs, venue):
    app = AppServices(*dirs)
    app.save_connection(connection_for(venue, name="v", symbols=[SYM], rate_limit_per_second=500))

    async def go():
        try:
            got = await app.market.trades.trades("v", SYM)
            again = await app.market.trades.trades("v", SYM)  # within 2 s: the same answer, no request
            replay = await app.market.trades.trades(BUILTIN_PAPER_NAME, "BTC/USD:USD")
            return got, again, replay
        finally:
            await app.market.close()

    before = len([r for r in venue.requests if r[1] == "/api/v3/aggTrades"])
    got, again, replay = asyncio.run(go())
    app.close()
    assert len([r for r in venue.requests if r[1] == "/api/v3/aggTrades"]) == before + 1 and again is got
    want = venue_trades(venue, 20)
    assert len(want) == 20 and got.source == "polled" and got.note == "binance: polled trades"
    assert [(r.ts, r.price, r.amount, r.side) for r in got.rows] == [
        (t["T"], float(t["p"]), float(t["q"]), "sell" if t["m"] else "buy") for t in reversed(want)]
    assert {r.side for r in got.rows} <= {"buy", "sell"}
    assert not replay.rows and "no trades" in replay.note


def test_streamed_trades_on_a_websocket_connection(dirs, venue):
    app = AppServices(*dirs)
    app.save_connection(connection_for(venue, name="ws", symbols=[SYM], rate_limit_per_second=500,
                                       api_type="websocket"))
    tape = app.market.trades

    async def go():
        try:
            first = await tape.trades("ws", SYM)  # the stream starts; REST answers meanwhile
            await until(lambda: tape._streamed.get(("ws", SYM)), what="the trade stream's first trades")
            venue.advance(1, VSYM)  # the next candle's recorded trades are streamed
            streamed = await until(lambda: [t for t in tape._streamed[("ws", SYM)]], what="streamed trades")
            got = await tape.trades("ws", SYM)
            return first, streamed, got
        finally:
            await app.market.close()

    first, streamed, got = asyncio.run(go())
    app.close()
    assert first.source in ("polled", "streamed")
    assert got.source == "streamed" and got.note == "binance: streamed trades" and got.rows
    newest = streamed[-1]
    assert (got.rows[0].ts, got.rows[0].price) == (newest["timestamp"], newest["price"])
