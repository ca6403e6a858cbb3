"""Stop orders from the ticket, amend (cancel-replace) and close at limit, through the real
engines, a real SQLite file and the local venue (real ccxt client): a stop triggers and fills
once, a canceled stop never fires, a pending stop ends canceled (with the reason) with its run and
after a crash; an amended limit is canceled and replaced at the venue; a close at limit rests,
then fills; the database and the exchange agree afterwards."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from cts_desktop.core.manual import Ticket, TicketError
from cts_desktop.engine.stop_orders import ENDED_REASON
from cts_desktop.services.trading import TradingService
from cts_desktop.store.db import DB_FILENAME
from cts_desktop.store.settings import ConnectionConfig
from cts_desktop.store.stop_rows import LEFTOVER_REASON
from tests.integration.test_manual_orders import Idle, rows, services  # noqa: F401 - fixture and strategy
from tests.waits import until

pytestmark = pytest.mark.timeout(120)
assert Idle.name == "test_idle"


def in_sequence(found):
    """Rows ending with their client order id, in the order the run created them (the batched
    recorder writes an order's row at its last change)."""
    return sorted(found, key=lambda r: int(r[-1].rsplit("-", 1)[1]))


def test_stops_on_the_paper_replay_fire_on_candles_and_end_with_the_run(services):  # noqa: F811
    services.save_connection(ConnectionConfig(name="hand", dataset="bittrex-btc-5m", speed="x1000",
                                              strategy="test_idle", strategy_params={}))
    trading = TradingService(services)

    async def go():
        eng = await services.start_engine("hand")
        core = eng.core
        pf = core.portfolio
        await until(lambda: len(pf.last_prices) >= 2, what="prices of two symbols")
        eth, ltc = "ETH/BTC", "LTC/BTC"
        step = core.markets[eth].price_step
        last = pf.last_prices[eth]
        with pytest.raises(TicketError, match="of a buy stop must be above the last price"):
            await trading.place("hand", Ticket(eth, "buy", 0.1, unit="equity", type="stop_market",
                                               trigger=last * 0.9))
        # a buy stop a few ticks over the last price: held, listed as an open stop_market order
        line = await trading.place("hand", Ticket(eth, "buy", 0.1, unit="equity", type="stop_market",
                                                  trigger=last + 3 * step))
        assert "held until the trigger" in line
        # a buy stop-limit far over the price on the other symbol: canceled by hand, never fires
        far = await trading.place("hand", Ticket(ltc, "buy", 0.05, unit="equity", type="stop_limit",
                                                 trigger=pf.last_prices[ltc] * 2, price=pf.last_prices[ltc] * 2.01))
        assert "stop-limit held" in far
        kinds = {o.type: o for o in trading.open_orders("hand")}
        assert set(kinds) >= {"stop_market", "stop_limit"} and kinds["stop_limit"].trigger > 0
        await trading.cancel("hand", kinds["stop_limit"].clientOrderId)
        await until(lambda: eth in pf.open, timeout=60, what="the buy stop to trigger and fill")
        assert not [o for o in trading.open_orders("hand") if o.type.startswith("stop")]
        # one more, left pending: the run's end cancels it with the reason
        await trading.place("hand", Ticket(eth, "sell", pf.open[eth].amount, type="stop_market",
                                           trigger=pf.last_prices[eth] * 0.3, reduce_only=True))
        await services.stop_engine("hand")
        assert not trading.open_orders("hand")  # ended with the run, recorded before the engine stopped
        return core

    core = asyncio.run(go())
    orders = in_sequence(rows(services, "select type, reason, state, trigger, error, client_order_id from orders "
                                        "where connection = ?", "hand"))
    assert [o[:3] for o in orders] == [("stop_market", "manual entry", "triggered"),
                                       ("stop_limit", "manual entry", "canceled"),
                                       ("market", "manual entry", "filled"),
                                       ("stop_market", "manual exit", "canceled")]
    assert orders[0][3] > 0 and orders[3][4] == ENDED_REASON
    assert rows(services, "select count(*) from fills where connection = ?", "hand")[0][0] == 1  # fired once
    assert len([o for o in core.orders if o.symbol == "LTC/BTC"]) == 0  # the canceled stop sent nothing

    # a crash leaves a stop open in the database: the connection's next start marks it canceled
    con = sqlite3.connect(services.data_dir / DB_FILENAME)
    with con:
        con.execute("update orders set state = 'open', error = '' where type = 'stop_limit'")
    con.close()

    async def restart():
        await services.start_engine("hand")
        await services.stop_engine("hand")

    asyncio.run(restart())
    (left,) = rows(services, "select state, error from orders where type = 'stop_limit'")
    assert left == ("canceled", LEFTOVER_REASON)


def test_stops_amend_and_close_at_limit_at_the_venue(services, venue):  # noqa: F811
    from tests.integration.test_live_engine import SYM, VSYM, make_engine, step, venue_orders
    from tests.venue.harness import API_KEY, API_SECRET

    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "venue live", live=True, params={"buy_on": "", "sell_on": "", "size": 0.2})
    trading = TradingService(services)

    async def go():
        await eng.start()
        assert eng.state == "running", eng.reason
        await step(venue, eng, 1)
        core = eng.core
        price = core.portfolio.last_prices[SYM]
        assert "stop-market: at the trigger" in trading.confirmation(
            "venue live", Ticket(SYM, "buy", 0.002, type="stop_market", trigger=price * 1.02))
        await trading.place("venue live", Ticket(SYM, "buy", 0.002, type="stop_market", trigger=price * 1.02))
        (stop,) = trading.open_orders("venue live")
        assert stop.type == "stop_market" and not venue_orders(venue, stop.clientOrderId)  # held by the app
        # a buy stop far above, canceled by hand: it never reaches the venue
        await trading.place("venue live", Ticket(SYM, "buy", 0.002, type="stop_market", trigger=price * 1.5))
        far = [o for o in trading.open_orders("venue live") if o.trigger and o.trigger > price * 1.4][0]
        await trading.cancel("venue live", far.clientOrderId)
        venue.set_price(VSYM, price * 1.03)  # the ticker reaches the first stop's trigger
        await until(lambda: SYM in core.portfolio.open, timeout=20, what="the stop's market buy booked")
        buys = [o for o in core.orders if o.type == "market"]
        assert len(buys) == 1 and len(venue_orders(venue, buys[0].clientOrderId)) == 1
        # a reduce-only limit resting far over the price, amended: canceled at the venue, replaced with a new id
        await trading.place("venue live", Ticket(SYM, "sell", 0.0015, type="limit", price=round(price * 1.5, 2),
                                                 reduce_only=True))
        (rest,) = [o for o in trading.open_orders("venue live") if o.type == "limit"]
        with pytest.raises(TicketError, match="give a new price or a new amount"):
            await trading.amend("venue live", rest.clientOrderId)
        line = await trading.amend("venue live", rest.clientOrderId, price=round(price * 1.4, 2), amount=0.001)
        (new,) = [o for o in trading.open_orders("venue live") if o.type == "limit"]
        assert "replaced by" in line and new.clientOrderId != rest.clientOrderId
        (old_at_venue,) = venue_orders(venue, rest.clientOrderId)
        (new_at_venue,) = venue_orders(venue, new.clientOrderId)
        assert old_at_venue.status == "CANCELED" and new_at_venue.is_open
        assert float(new_at_venue.price) == pytest.approx(round(price * 1.4, 2))
        assert float(new_at_venue.orig_qty) == pytest.approx(0.001) and new.reduce_only
        await trading.cancel("venue live", new.clientOrderId)
        # close at limit: a reduce-only sell resting above the price, filled when the price gets there
        held = core.portfolio.open[SYM].amount
        line = await trading.close_at_limit("venue live", SYM, round(price * 1.2, 2))
        assert "reduce-only" in line
        (close,) = [o for o in trading.open_orders("venue live") if o.type == "limit"]
        assert close.reduce_only and close.side == "sell" and close.amount == pytest.approx(held)
        venue.set_price(VSYM, price * 1.25)  # fills it at the venue: an amend now places nothing
        with pytest.raises(TicketError, match="nothing was placed"):
            await trading.amend("venue live", close.clientOrderId, price=round(price * 1.3, 2))
        await step(venue, eng, 1)
        await until(lambda: SYM not in core.portfolio.open, timeout=20, what="the limit close booked")
        await eng.stop()

    asyncio.run(go())
    got = [o[:3] for o in in_sequence(rows(services, "select type, reason, state, client_order_id from orders "
                                                     "where connection = ?", "venue live"))]
    assert got == [("stop_market", "manual entry", "triggered"), ("stop_market", "manual entry", "canceled"),
                   ("market", "manual entry", "filled"), ("limit", "manual exit", "canceled"),
                   ("limit", "manual exit", "canceled"), ("limit", "manual exit", "filled")]
    assert rows(services, "select count(*) from fills where connection = ?", "venue live")[0][0] == 2
    assert venue.balance(API_KEY, "BTC")[0] < 1e-5  # the venue agrees: bought once, sold once
    assert not [o for o in venue.state.orders.values() if o.is_open]
    assert len(venue.state.orders) == 4  # the stop's buy, the amended limit and its replacement, the close

    # a crash leaves a live stop open in the database: the next live run does not look for it at the
    # exchange (it was never sent), so its reconciliation passes
    con = sqlite3.connect(services.data_dir / DB_FILENAME)
    with con:
        con.execute("update orders set state = 'open', status = 'open' where type = 'stop_market'")
    con.close()
    again = make_engine(services, venue, "venue live", live=True, params={"buy_on": "", "sell_on": "", "size": 0.2})

    async def restart():
        await again.start()
        assert again.state == "running", again.reason
        await again.stop()

    asyncio.run(restart())
    assert again.reconciliation.ok and "reconciliation" not in again.core.breakers.holds


def test_a_version_4_database_gets_the_orders_trigger_column(tmp_path):
    from cts_desktop.store import db as store_db

    store_db.open_database(tmp_path).close()
    con = sqlite3.connect(tmp_path / store_db.DB_FILENAME)
    con.execute("alter table orders drop column trigger")
    con.execute("update meta set value = '4' where key = 'schema_version'")
    con.commit()
    con.close()
    db = store_db.open_database(tmp_path)
    try:
        assert "trigger" in {c.name for c in db.get_columns("orders")}
        assert store_db.Meta.get(store_db.Meta.key == "schema_version").value == str(store_db.SCHEMA_VERSION)
    finally:
        db.close()


def test_the_kill_switch_cancels_pending_stops(services, venue):  # noqa: F811
    from cts_desktop.engine.kill import kill_engine
    from tests.integration.test_live_engine import SYM, VSYM, make_engine, step

    eng = make_engine(services, venue, "venue paper", live=False, params={"buy_on": "", "sell_on": "", "size": 0.2})
    trading = TradingService(services)

    async def go():
        await eng.start()
        await step(venue, eng, 1)
        price = eng.core.portfolio.last_prices[SYM]
        await trading.place("venue paper", Ticket(SYM, "buy", 0.002, type="stop_market", trigger=price * 1.01))
        report = await kill_engine(eng)
        venue.set_price(VSYM, price * 1.05)  # over the trigger: nothing may fire now
        return report

    report = asyncio.run(go())
    assert report.canceled == 1 and not eng.core.orders and not eng.core.portfolio.open
    (row,) = rows(services, "select type, state, error from orders where connection = ?", "venue paper")
    assert row == ("stop_market", "canceled", "canceled by the kill switch")


def test_a_sell_stop_limit_on_paper_exchange_data_triggers_on_the_ticker_and_closes(services, venue):  # noqa: F811
    from tests.integration.test_live_engine import SYM, VSYM, make_engine, step

    eng = make_engine(services, venue, "venue paper", live=False, params={"buy_on": "", "sell_on": "", "size": 0.2})
    trading = TradingService(services)

    async def go():
        await eng.start()
        await step(venue, eng, 1)
        core = eng.core
        await trading.place("venue paper", Ticket(SYM, "buy", 0.002))
        await step(venue, eng, 1)
        await until(lambda: SYM in core.portfolio.open, what="the buy filled")
        price = core.portfolio.last_prices[SYM]
        held = core.portfolio.open[SYM].amount
        await trading.place("venue paper", Ticket(SYM, "sell", held, type="stop_limit", trigger=price * 0.98,
                                                  price=price * 0.97, reduce_only=True))
        venue.set_price(VSYM, price * 0.975)  # the ticker falls through the trigger
        await until(lambda: any(o.type == "limit" for o in core.orders), timeout=20, what="the stop to trigger")
        await step(venue, eng, 1)
        await until(lambda: SYM not in core.portfolio.open, timeout=20, what="the limit sell filled")
        await eng.stop()

    asyncio.run(go())
    got = [o[:3] for o in in_sequence(rows(services, "select type, reason, state, client_order_id from orders "
                                                     "where connection = ?", "venue paper"))]
    assert got == [("market", "manual entry", "filled"), ("stop_limit", "manual exit", "triggered"),
                   ("limit", "manual exit", "filled")]
