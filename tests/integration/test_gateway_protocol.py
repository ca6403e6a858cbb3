"""The one gateway protocol (core/gateway.py): the ccxt gateway (real ccxt client against the
local venue) and the paper gateway are driven through the same scenario, by the protocol only."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core.gateway import Gateway
from cts_desktop.core.models import CANCELED, FILLED, STATE_CANCELED, STATE_OPEN, Market, Order
from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.exchange.errors import GatewayError
from cts_desktop.exchange.paper import PaperExchange
from cts_desktop.exchange.paper_gateway import PaperGateway
from tests.venue.harness import API_KEY, API_SECRET, connection_for

pytestmark = pytest.mark.timeout(60)
PRICE = 50_000.0


async def scenario(gw: Gateway, next_candle) -> None:
    try:
        await _scenario(gw, next_candle)
    finally:
        await gw.close()


async def _scenario(gw: Gateway, next_candle) -> None:
    """Everything the engine asks of an exchange, through the protocol only."""
    assert isinstance(gw, Gateway)
    markets = await gw.load_markets()
    assert "BTC/USDT" in markets and gw.markets()["BTC/USDT"].quote == "USDT"
    caps = gw.capabilities()
    assert caps.name == gw.name and caps.offers_timeframe("1m")
    before = await gw.fetch_balance()
    start, btc = before["USDT"]["total"], before.get("BTC", {}).get("total", 0.0)

    resting = Order(clientOrderId="proto-limit-1", symbol="BTC/USDT", side="buy", type="limit", amount=0.01, price=PRICE / 2)
    await gw.create_order(resting)
    assert resting.id and resting.state == STATE_OPEN
    assert [o.clientOrderId for o in await gw.fetch_open_orders("BTC/USDT")] == ["proto-limit-1"]
    await gw.cancel_order(resting)
    assert resting.status == CANCELED and resting.state == STATE_CANCELED
    again = Order(clientOrderId="proto-limit-1", symbol="BTC/USDT", side="buy", type="limit", amount=0.01, price=PRICE / 2)
    assert (await gw.fetch_order(again)).state == STATE_CANCELED
    with pytest.raises(GatewayError) as info:
        await gw.cancel_order(resting)
    assert info.value.kind == "order-not-found"

    buy = Order(clientOrderId="proto-market-1", symbol="BTC/USDT", side="buy", type="market", amount=0.01)
    await gw.create_order(buy)
    await next_candle()
    await gw.fetch_order(buy)
    assert buy.state == FILLED and buy.filled == pytest.approx(0.01)
    trades = [t for t in await gw.fetch_order_trades(buy) if str(t["order"]) == str(buy.id)]
    assert sum(float(t["amount"]) for t in trades) == pytest.approx(0.01)
    fills = await gw.fetch_my_trades("BTC/USDT")
    assert [f.order_id for f in fills] == [buy.id]
    balance = await gw.fetch_balance()
    assert balance["BTC"]["total"] - btc == pytest.approx(0.01, abs=1e-4)  # a fee in base may be taken
    assert balance["USDT"]["total"] < start
    assert await gw.fetch_positions() == []
    candles = await gw.fetch_ohlcv("BTC/USDT", "5m", limit=5)
    assert candles and all(len(c) == 6 for c in candles)


def test_the_ccxt_gateway_speaks_the_protocol(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1})
    venue.set_price("BTCUSDT", PRICE)
    gw = CcxtGateway(connection_for(venue, rate_limit_per_second=500), {"apiKey": API_KEY, "secret": API_SECRET})
    gw.exchange.timeout_on_exit = 0

    async def next_candle() -> None:  # the venue fills market orders at once
        venue.advance()

    asyncio.run(scenario(gw, next_candle))


def test_the_paper_gateway_speaks_the_protocol():
    market = Market(symbol="BTC/USDT", base="BTC", quote="USDT", amount_step=1e-5, price_step=0.01,
                    taker_fee=0.001, maker_fee=0.001)
    gw = PaperGateway(PaperExchange({"BTC/USDT": market}), {"USDT": 10_000})
    gw.push_candle("BTC/USDT", (60_000, PRICE, PRICE, PRICE, PRICE, 1.0))

    async def next_candle() -> None:
        ts = gw._now + 60_000
        gw.push_candle("BTC/USDT", (ts, PRICE, PRICE * 1.01, PRICE * 0.99, PRICE, 1.0))

    asyncio.run(scenario(gw, next_candle))


def test_the_paper_gateway_streams_candles_and_order_updates():
    market = Market(symbol="BTC/USDT", base="BTC", quote="USDT")
    gw = PaperGateway(PaperExchange({"BTC/USDT": market}), {"USDT": 1_000})

    async def main() -> None:
        watching = asyncio.ensure_future(gw.watch_ohlcv("BTC/USDT"))
        await asyncio.sleep(0)
        gw.push_candle("BTC/USDT", (60_000, 1.0, 2.0, 0.5, 1.5, 3.0))
        assert await asyncio.wait_for(watching, 10) == [(60_000, 1.0, 2.0, 0.5, 1.5, 3.0)]
        order = Order(clientOrderId="s-1", symbol="BTC/USDT", side="buy", type="market", amount=1.0)
        await gw.create_order(order)
        assert [o.clientOrderId for o in await asyncio.wait_for(gw.watch_orders(), 10)] == ["s-1"]
        gw.push_candle("BTC/USDT", (120_000, 1.0, 1.0, 1.0, 1.0, 1.0))
        updated = await asyncio.wait_for(gw.watch_orders("BTC/USDT"), 10)
        assert updated[0].state == FILLED

    asyncio.run(main())
