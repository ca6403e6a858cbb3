"""The local venue's USD-M futures routes as the real ccxt binance client (``defaultType: swap``)
sees them: positions and balance, reduce-only refusals, conditional (algo) orders refused when
they would trigger at once, a close-position stop, a reduce-only leg that finds nothing to reduce."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core.models import Order
from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.exchange.errors import GatewayError
from tests.venue.harness import API_KEY, API_SECRET, connection_for

pytestmark = pytest.mark.timeout(60)
FSYM, VSYM = "BTC/USDT:USDT", "BTCUSDT"
SECRETS = {"apiKey": API_KEY, "secret": API_SECRET}


def _gateway(venue):
    return CcxtGateway(connection_for(venue, "fut", market_type="swap", symbols=[FSYM], rate_limit_per_second=1000),
                       SECRETS)


@pytest.fixture
def funded(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 0})
    venue.state.futures.fund(API_KEY, 10_000)
    return venue


def test_positions_and_balance_after_a_market_buy(funded):
    venue = funded

    async def go():
        async with _gateway(venue) as gw:
            assert await gw.fetch_positions([FSYM]) == []
            order = await gw.create_order(Order(clientOrderId="b1", symbol=FSYM, side="buy", type="market", amount=0.02))
            (pos,) = await gw.fetch_positions([FSYM])
            balance = await gw.fetch_balance()
            return order, pos, balance

    order, pos, balance = asyncio.run(go())
    price = venue.price(VSYM)
    assert order.state == "filled" and order.average == pytest.approx(price)
    assert (pos["symbol"], pos["side"], pos["contracts"]) == (FSYM, "long", pytest.approx(0.02))
    assert pos["entryPrice"] == pytest.approx(price)
    fee = 0.02 * price * 0.0005
    assert balance["USDT"]["total"] == pytest.approx(10_000 - fee)
    assert balance["USDT"]["free"] == pytest.approx(10_000 - fee - 0.02 * price / 20)  # 20x initial margin


def test_reduce_only_and_immediate_triggers_are_refused(funded):
    venue = funded

    async def go():
        async with _gateway(venue) as gw:
            with pytest.raises(GatewayError) as nothing:
                await gw.create_order(Order(clientOrderId="r1", symbol=FSYM, side="sell", type="market", amount=0.01,
                                            reduce_only=True))
            await gw.create_order(Order(clientOrderId="b1", symbol=FSYM, side="buy", type="market", amount=0.02))
            crossed = Order(clientOrderId="s1", symbol=FSYM, side="sell", type="stop_loss_market", amount=0.02,
                            price=venue.price(VSYM) * 1.01, reduce_only=True)  # a sell stop above the market
            with pytest.raises(GatewayError) as at_once:
                await gw.create_order(crossed)
            return nothing.value, at_once.value

    nothing, at_once = asyncio.run(go())
    assert nothing.code == -2022 and at_once.code == -2021
    assert venue.state.futures.position(API_KEY) == pytest.approx(0.02)


def test_a_reduce_only_leg_expires_when_its_position_is_gone(funded):
    venue = funded

    async def go():
        async with _gateway(venue) as gw:
            await gw.create_order(Order(clientOrderId="b1", symbol=FSYM, side="buy", type="market", amount=0.02))
            price = venue.price(VSYM)
            sl = Order(clientOrderId="sl1", symbol=FSYM, side="sell", type="stop_loss_market", amount=0.02,
                       price=price * 0.98, reduce_only=True)
            tp = Order(clientOrderId="tp1", symbol=FSYM, side="sell", type="take_profit_market", amount=0.02,
                       price=price * 1.02, reduce_only=True)
            await gw.create_order(sl)
            await gw.create_order(tp)
            assert sorted(o.clientOrderId for o in await gw.fetch_open_orders(FSYM)) == ["sl1", "tp1"]
            venue.set_price(VSYM, round(price * 0.97, 1))  # the stop executes...
            venue.set_price(VSYM, round(price * 1.03, 1))  # ...then the target is crossed too
            await gw.fetch_order(sl)
            await gw.fetch_order(tp)
            trades = await gw.fetch_order_trades(sl)
            return sl, tp, trades

    sl, tp, trades = asyncio.run(go())
    assert sl.state == "filled" and sl.average == pytest.approx(sl.price)
    assert [t["order"] for t in trades] == [sl.id]  # the trades carry the triggered order's id
    assert tp.state in ("expired", "canceled", "rejected") and tp.filled == 0  # nothing left to reduce
    assert venue.state.futures.position(API_KEY) == 0
