"""Manual orders through the real engine and a real SQLite file: on the built-in recorded-market
replay a market and a limit order, cancel, close, close all, a refusal with the risk verdict;
and on the local venue (live) a manual market order that reaches the exchange once and is booked."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from cts_desktop.core.manual import Ticket, TicketError
from cts_desktop.engine import strategies
from cts_desktop.engine.strategies.base import Strategy
from cts_desktop.services import AppServices
from cts_desktop.services.trading import TradingService
from cts_desktop.store.db import DB_FILENAME
from cts_desktop.store.settings import ConnectionConfig
from tests.waits import until

pytestmark = pytest.mark.timeout(90)


class Idle(Strategy):
    """Never trades: every order of these tests is a manual one."""

    name = "test_idle"
    params = ()

    def on_candle(self, ctx, symbol, candle):
        return None


strategies.register(Idle)


@pytest.fixture
def services(dirs):
    s = AppServices(*dirs)
    yield s
    s.close()


def rows(services, sql, *args):
    services.recorder.flush().result(10)
    con = sqlite3.connect(services.data_dir / DB_FILENAME)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_manual_orders_on_the_paper_replay(services):
    services.save_connection(ConnectionConfig(name="hand", dataset="bittrex-btc-5m", speed="x1000",
                                              strategy="test_idle", strategy_params={}))
    trading = TradingService(services)

    async def go():
        eng = await services.start_engine("hand")
        core = eng.core
        await until(lambda: len(core.portfolio.last_prices) >= 2, what="prices of two symbols")
        eth, ltc = "ETH/BTC", "LTC/BTC"
        # a market buy of 10 % of equity: previewed, placed, filled at a later candle's open
        ticket = Ticket(eth, "buy", 0.1, unit="equity")
        preview = trading.preview("hand", ticket)
        assert preview.accepted and preview.verdict.startswith("ok:") and preview.fee > 0, preview
        assert "placed" in await trading.place("hand", ticket)
        await until(lambda: eth in core.portfolio.open, what="the manual buy to fill")
        assert core.portfolio.open[eth].strategy == "manual"
        # a limit far below the price rests; it is listed and canceled
        low = round(core.portfolio.last_prices[ltc] * 0.5, 6)
        await trading.place("hand", Ticket(ltc, "buy", 0.05, unit="equity", type="limit", price=low))
        (resting,) = [o for o in trading.open_orders("hand") if o.symbol == ltc]
        assert resting.type == "limit" and resting.price == pytest.approx(low)
        assert "canceled" in await trading.cancel("hand", resting.clientOrderId)
        assert not [o for o in trading.open_orders("hand") if o.symbol == ltc]
        # a refusal: the risk checks' own words
        with pytest.raises(TicketError, match="exceeds the max position size"):
            await trading.place("hand", Ticket(ltc, "buy", 0.9, unit="equity"))
        assert not trading.preview("hand", Ticket(ltc, "buy", 0.9, unit="equity")).accepted
        with pytest.raises(TicketError, match="rounds to 0 on the market.s step"):
            await trading.place("hand", Ticket(ltc, "buy", 1e-9))
        # close the position at market
        await trading.close("hand", eth)
        await until(lambda: eth not in core.portfolio.open, what="the manual close to fill")
        # two positions, then close all
        await trading.place("hand", Ticket(eth, "buy", 0.1, unit="equity"))
        await trading.place("hand", Ticket(ltc, "buy", 0.1, unit="equity"))
        await until(lambda: len(core.portfolio.open) == 2, what="two positions")
        assert "2 positions" in await trading.close_all("hand")
        await until(lambda: not core.portfolio.open, what="close all")
        with pytest.raises(TicketError, match="no open position"):
            await trading.close("hand", eth)
        await services.stop_engine("hand")
        return eng

    eng = asyncio.run(go())
    orders = rows(services, "select symbol, type, reason, state, strategy from orders where connection = ? order by id",
                  "hand")
    assert [(o[2], o[3]) for o in orders] == [
        ("manual entry", "filled"), ("manual entry", "canceled"), ("manual close", "filled"),
        ("manual entry", "filled"), ("manual entry", "filled"), ("manual close", "filled"), ("manual close", "filled")]
    assert orders[1][1] == "limit" and {o[4] for o in orders} == {"manual"}
    assert rows(services, "select count(*) from fills where connection = ?", "hand")[0][0] == 6
    closed = rows(services, "select symbol, close_reason, strategy from positions where connection = ? "
                            "and closed_at is not null", "hand")
    assert sorted(closed) == [("ETH/BTC", "manual close", "manual")] * 2 + [("LTC/BTC", "manual close", "manual")]
    refused = rows(services, "select accepted, verdict from signals where connection = ? and accepted = 0", "hand")
    assert any("exceeds the max position size" in r[1] for r in refused)
    assert eng.state == "stopped"


def test_manual_orders_on_a_live_connection_reach_the_venue_once(services, venue):
    from tests.integration.test_live_engine import SYM, VSYM, make_engine, step, venue_orders
    from tests.venue.harness import API_KEY, API_SECRET

    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue live", live=True, params={"buy_on": "", "sell_on": "", "size": 0.2})
    trading = TradingService(services)

    async def go():
        await eng.start()
        assert eng.state == "running", eng.reason
        await step(venue, eng, 1)  # a last price for the ticket
        assert "LIVE order on binance testnet" in trading.confirmation("venue live", Ticket(SYM, "buy", 0.002))
        line = await trading.place("venue live", Ticket(SYM, "buy", 0.002))
        assert "placed" in line
        await until(lambda: SYM in eng.core.portfolio.open, what="the manual buy booked")
        (buy,) = [o for o in eng.core.orders if o.reason == "manual entry"]
        assert len(venue_orders(venue, buy.clientOrderId)) == 1  # sent once
        assert venue.balance(API_KEY, "BTC")[0] == pytest.approx(0.002, rel=0.01)
        # a resting limit far below the price: canceled at the venue
        low = round(venue.price(VSYM) * 0.7, 2)
        sell = trading.preview("venue live", Ticket(SYM, "sell", 0.002))  # spot: selling the coins is reduce-only
        assert not sell.accepted and "tick reduce-only or close the position" in sell.verdict
        await trading.place("venue live", Ticket(SYM, "sell", 0.002, type="limit", price=low * 2, reduce_only=True))
        (rest,) = trading.open_orders("venue live")
        (at_venue,) = venue_orders(venue, rest.clientOrderId)
        assert at_venue.is_open
        await trading.cancel("venue live", rest.clientOrderId)
        assert at_venue.status == "CANCELED" and not trading.open_orders("venue live")
        # close the position at market
        await trading.close("venue live", SYM)
        await until(lambda: SYM not in eng.core.portfolio.open, what="the manual close booked")
        await eng.stop()

    asyncio.run(go())
    assert venue.balance(API_KEY, "BTC")[0] < 1e-5
    orders = rows(services, "select reason, state, type from orders where connection = ? order by id", "venue live")
    assert orders == [("manual entry", "filled", "market"), ("manual exit", "canceled", "limit"),
                      ("manual close", "filled", "market")]
    assert rows(services, "select count(*) from fills where connection = ?", "venue live")[0][0] == 2
    (closed,) = rows(services, "select close_reason, strategy from positions where connection = ? "
                               "and closed_at is not null", "venue live")
    assert closed == ("manual close", "manual")


def test_a_manual_close_of_a_strategy_position_is_recorded_as_such(services, venue):
    from tests.integration.test_live_engine import SYM, make_engine, step

    eng = make_engine(services, venue, "venue paper", live=False, params={"buy_on": "1", "sell_on": "", "size": 0.2})
    trading = TradingService(services)

    async def go():
        await eng.start()
        await step(venue, eng, 2)  # the strategy's buy fills at candle 2's open
        assert eng.core.portfolio.open[SYM].strategy == "test_scripted"
        # the strategy's position cannot be added to by hand (the same risk checks): no pyramiding
        assert "no pyramiding" in trading.preview("venue paper", Ticket(SYM, "buy", 0.001)).verdict
        await trading.close("venue paper", SYM)
        await step(venue, eng, 1)
        assert SYM not in eng.core.portfolio.open
        await eng.stop()

    asyncio.run(go())
    (closed,) = rows(services, "select close_reason, strategy from positions where connection = ? "
                               "and closed_at is not null", "venue paper")
    assert closed == ("manual close", "test_scripted")
    reasons = rows(services, "select reason, strategy from orders where connection = ? order by id", "venue paper")
    assert reasons == [("entry", "test_scripted"), ("manual close", "test_scripted")]


def test_ioc_and_post_only_limits_reach_the_venue_as_such(services, venue):
    from tests.integration.test_live_engine import SYM, VSYM, make_engine, step, venue_orders
    from tests.venue.harness import API_KEY, API_SECRET

    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue live", live=True, params={"buy_on": "", "sell_on": "", "size": 0.2})
    trading = TradingService(services)

    async def go():
        await eng.start()
        await step(venue, eng, 1)
        price = venue.price(VSYM)
        # IOC below the price: nothing to take, the venue expires it at once
        await trading.place("venue live", Ticket(SYM, "buy", 0.002, type="limit", price=round(price * 0.9, 2), tif="IOC"))
        await until(lambda: not trading.open_orders("venue live"), what="the IOC order to end")
        # post-only above the price would take: the venue refuses it, the trader reads why
        with pytest.raises(TicketError, match="would immediately match"):
            await trading.place("venue live", Ticket(SYM, "buy", 0.002, type="limit", price=round(price * 1.1, 2),
                                                     tif="PO"))
        await eng.stop()
        return [o for o in eng.core.orders]

    ioc, po = asyncio.run(go())
    (at_venue,) = venue_orders(venue, ioc.clientOrderId)
    assert at_venue.time_in_force == "IOC" and at_venue.status == "EXPIRED" and ioc.state == "canceled"
    assert po.state == "failed" and not venue_orders(venue, po.clientOrderId)


def test_ioc_and_post_only_need_a_live_connection(services):
    services.save_connection(ConnectionConfig(name="hand", dataset="bittrex-btc-5m", speed="x1000",
                                              strategy="test_idle", strategy_params={}))
    trading = TradingService(services)

    async def go():
        eng = await services.start_engine("hand")
        await until(lambda: eng.core.portfolio.last_prices, what="a price")
        sym = next(iter(eng.core.portfolio.last_prices))
        p = trading.preview("hand", Ticket(sym, "buy", 0.1, unit="equity", type="limit", price=1.0, tif="PO"))
        await services.stop_engine("hand")
        return p

    p = asyncio.run(go())
    assert not p.accepted and "PO orders need a live connection" in p.error


def test_stops_of_a_manual_entry_and_a_reduce_only_partial_exit(services):
    services.save_connection(ConnectionConfig(name="hand", dataset="bittrex-btc-5m", speed="x1000",
                                              strategy="test_idle", strategy_params={}))
    trading = TradingService(services)

    async def go():
        eng = await services.start_engine("hand")
        pf = eng.core.portfolio
        await until(lambda: "ETH/BTC" in pf.last_prices, what="a price")
        last = pf.last_prices["ETH/BTC"]
        await trading.place("hand", Ticket("ETH/BTC", "buy", 0.1, unit="equity", stop_loss=last * 0.8,
                                           take_profit=last * 1.5))
        await until(lambda: "ETH/BTC" in pf.open, what="the entry")
        pos = pf.open["ETH/BTC"]
        whole = pos.amount
        # kept as distances from the fill, as a strategy's: 20 % under and 50 % over the entry
        assert pos.stop_loss == pytest.approx(pos.entry_price * 0.8, rel=1e-3)
        assert pos.take_profit == pytest.approx(pos.entry_price * 1.5, rel=1e-3)
        with pytest.raises(TicketError, match="reduce-only: a buy does not reduce the long position"):
            await trading.place("hand", Ticket("ETH/BTC", "buy", whole / 2, reduce_only=True))
        await trading.place("hand", Ticket("ETH/BTC", "sell", whole / 2, reduce_only=True))
        await until(lambda: pf.open["ETH/BTC"].amount < whole, what="the partial exit")
        left = pf.open["ETH/BTC"].amount
        await services.stop_engine("hand")
        return whole, left

    whole, left = asyncio.run(go())
    assert left == pytest.approx(whole / 2, rel=0.01)
    assert [r[0] for r in rows(services, "select reason from orders where connection = ? order by id", "hand")] == \
        ["manual entry", "manual exit"]
