"""Moving an open position's stop-loss / take-profit by hand (services/trading.py ->
engine/move_stops.py) with the real engines and a real SQLite file: on the recorded-market
replay (the core uses the new level at once), and on the local venue with the real ccxt client,
both where the venue holds the stops (its OCO is canceled and a new one placed: the venue and the
database agree) and where the app holds them (the new level fires on the next price)."""
from __future__ import annotations

import asyncio

import pytest

from cts_desktop.core import events as ev
from cts_desktop.core.manual import Ticket, TicketError
from cts_desktop.engine.move_stops import check_stops
from cts_desktop.core.models import LONG, SHORT, Market, Position
from cts_desktop.services.trading import TradingService
from cts_desktop.store.settings import ConnectionConfig
from tests.integration.test_exchange_stops import SYM, VSYM, armed_position, make_engine, open_legs, rows, step
from tests.integration.test_manual_orders import Idle  # noqa: F401 - registers test_idle
from tests.venue.harness import API_KEY, API_SECRET
from tests.waits import until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def services(dirs):
    from cts_desktop.services import AppServices

    s = AppServices(*dirs)
    yield s
    s.close()


def activity(services, name):
    return [r[0] for r in rows(services, "select message from events where connection = ? order by id", name)]


def test_the_rule_long_below_short_above_rounded_to_the_tick():
    m = Market("BTC/USDT", "BTC", "USDT", price_step=0.01)
    long, short = Position(1, "BTC/USDT", LONG, 0), Position(2, "BTC/USDT", SHORT, 0)
    assert check_stops(long, m, 100.0, 95.004, 110.006) == (95.0, 110.01)
    assert check_stops(short, m, 100.0, 105.0, None) == (105.0, None)
    assert check_stops(long, m, 100.0, None, None) == (None, None)  # both cleared
    with pytest.raises(TicketError, match="a long's stop-loss must be below the last price 100"):
        check_stops(long, m, 100.0, 100.001, None)  # rounds to 100: it would trigger at once
    with pytest.raises(TicketError, match="a long's take-profit must be above"):
        check_stops(long, m, 100.0, None, 99.0)
    with pytest.raises(TicketError, match="a short's stop-loss must be above"):
        check_stops(short, m, 100.0, 99.0, None)
    with pytest.raises(TicketError, match="a short's take-profit must be below"):
        check_stops(short, m, 100.0, None, 101.0)
    with pytest.raises(TicketError, match="above 0"):
        check_stops(long, m, 100.0, -1.0, None)


def test_moving_the_stops_on_the_paper_replay(services):
    services.save_connection(ConnectionConfig(name="replay", dataset="bittrex-btc-5m", speed="x1000",
                                              strategy="test_idle", strategy_params={}))
    trading = TradingService(services)
    eth = "ETH/BTC"

    async def go():
        eng = await services.start_engine("replay")
        core = eng.core
        await until(lambda: core.portfolio.last_prices.get(eth), what="a price")
        now = core.portfolio.last_prices[eth]  # stops far away: only the moved one can fire
        await trading.place("replay", Ticket(eth, "buy", 0.1, unit="equity", stop_loss=now * 0.5, take_profit=now * 2))
        await until(lambda: eth in core.portfolio.open, what="the buy to fill")
        services.pause_engine("replay")  # the price stands still while we check the rules
        pos = core.portfolio.open[eth]
        last = core.portfolio.last_prices[eth]
        old_sl = pos.stop_loss
        with pytest.raises(TicketError, match="stop-loss must be below the last price"):
            await trading.move_stops("replay", eth, last * 1.01, pos.take_profit)
        assert pos.stop_loss == old_sl  # a refusal changes nothing
        with pytest.raises(TicketError, match="no open position on LTC/BTC"):
            await trading.move_level("replay", "LTC/BTC", "stop-loss", last)
        # the stop-loss just under the price, the take-profit removed: the next candles reach it
        line = await trading.move_level("replay", eth, "stop-loss", last * 0.999)
        assert "stop-loss moved from" in line and pos.stop_loss == pytest.approx(last * 0.999, rel=1e-6)
        line = await trading.move_level("replay", eth, "take-profit", None)
        assert "take-profit moved from" in line and "to none (manual)" in line and pos.take_profit is None
        new_sl = pos.stop_loss
        services.resume_engine("replay")
        await until(lambda: eth not in core.portfolio.open, timeout=30, what="the moved stop-loss to fire")
        await services.stop_engine("replay")
        return pos, old_sl, new_sl

    pos, old_sl, new_sl = asyncio.run(go())
    assert pos.close_reason == "stop-loss" and pos.exit_price <= new_sl  # the new level, far above the old
    assert new_sl > old_sl * 1.5
    logs = activity(services, "replay")
    assert any(f"stop-loss moved from {old_sl:.10g} to {new_sl:.10g} (manual)" in m for m in logs), logs
    assert any("take-profit moved from" in m and "to none (manual)" in m for m in logs)


def test_moving_the_stops_replaces_the_oco_at_the_venue(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "move oco")
    trading = TradingService(services)

    async def go():
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        pos = await armed_position(venue, eng)
        await until(lambda: pos.protection == "exchange", what="the stops at the exchange")
        before = {o.order_id for o in open_legs(venue)}
        last = venue.price(VSYM)
        assert trading.move_confirmation("move oco", SYM, "stop-loss", 1.0).startswith("Move the stop-loss of the LIVE")
        with pytest.raises(TicketError, match="take-profit must be above the last price"):
            await trading.move_stops("move oco", SYM, pos.stop_loss, last * 0.99)
        assert {o.order_id for o in open_legs(venue)} == before  # a refusal leaves the venue alone
        sl, tp = round(last * 0.99, 2), round(last * 1.02, 2)
        line = await trading.move_stops("move oco", SYM, sl, tp)
        assert "protective orders at the exchange replaced" in line, line
        legs = open_legs(venue)
        assert len(legs) == 2 and not {o.order_id for o in legs} & before
        assert all(venue.state.orders[i].status in ("CANCELED", "EXPIRED") for i in before)
        return pos, before, legs, sl, tp

    pos, before, (new_tp, new_sl), sl, tp = asyncio.run(go())
    assert float(new_sl.stop_price) == pytest.approx(sl) and float(new_tp.price) == pytest.approx(tp)
    assert (pos.stop_loss, pos.take_profit, pos.protection) == (sl, tp, "exchange")
    assert rows(services, "select stop_loss, take_profit, protection from positions where connection = ?",
                "move oco") == [(sl, tp, "exchange")]
    states = rows(services, "select client_order_id, reason, state, price from orders where connection = ? "
                            "and reason in ('stop-loss', 'take-profit') order by id", "move oco")
    assert [s[2] for s in states] == ["canceled", "canceled", "open", "open"], states
    assert {s[0] for s in states[2:]} == {new_sl.client_order_id, new_tp.client_order_id}
    assert any("stop-loss moved from" in m and f"to {sl:.10g} (manual)" in m for m in activity(services, "move oco"))

    async def clear():  # both removed: nothing rests at the venue any more
        await eng.start()
        assert eng.state == ev.RUNNING, eng.reason
        await until(lambda: SYM in eng.core.portfolio.open and eng.core.portfolio.open[SYM].protection == "exchange",
                    what="the position carried over with its OCO")
        line = await trading.move_stops("move oco", SYM, None, None)
        assert "canceled" in line, line
        assert not open_legs(venue) and eng.core.portfolio.open[SYM].protection == ""
        await step(venue, eng, 1)  # the protector's next rounds arm nothing
        assert not open_legs(venue)
        await eng.stop()

    asyncio.run(clear())


def test_a_moved_app_held_stop_fires_on_the_next_price(services, venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    eng = make_engine(services, venue, "move app", exchange_stops=False)
    trading = TradingService(services)

    async def go():
        await eng.start()
        await step(venue, eng, 2)
        await until(lambda: SYM in eng.core.portfolio.open, what="the entry")
        pos = eng.core.portfolio.open[SYM]
        await until(lambda: pos.protection == "app", what="the stops held by the app")
        last = venue.price(VSYM)
        sl = round(last * 0.995, 2)
        assert sl > pos.stop_loss
        line = await trading.move_level("move app", SYM, "stop-loss", sl)
        assert "replaced" not in line and pos.stop_loss == sl
        seen = eng.core.candles_seen
        venue.set_price(VSYM, last * 0.993)  # under the new stop, above the old one
        await until(lambda: SYM not in eng.core.portfolio.open, what="the moved stop-loss exit")
        assert eng.core.candles_seen == seen  # on the polled price, before a candle closed
        await eng.stop()
        return pos

    pos = asyncio.run(go())
    assert pos.close_reason == "stop-loss"
    assert not [o for o in venue.state.orders.values() if o.type.startswith(("STOP", "TAKE"))]
